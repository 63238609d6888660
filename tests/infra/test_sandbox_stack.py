"""The sandbox stack: Fargate task definitions with no task role, a non-root user, a read-only
root filesystem with scratch volumes, logs with retention, and a network that reaches only
S3 and the endpoints a task needs to start."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]


def _all(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_one_task_definition_per_runtime_image(synthesized: Synthesized) -> None:
    definitions = _all(synthesized.sandbox_json, "AWS::ECS::TaskDefinition")
    images = sorted(p.parent.name for p in (ROOT / "sandbox-tasks" / "images").glob("*/Dockerfile"))
    assert sorted(d["Family"].removeprefix("assay-sandbox-") for d in definitions) == images


def test_a_sandbox_has_no_role_no_root_and_no_writable_root(synthesized: Synthesized) -> None:
    for definition in _all(synthesized.sandbox_json, "AWS::ECS::TaskDefinition"):
        assert "TaskRoleArn" not in definition  # no AWS credentials inside
        assert definition["RequiresCompatibilities"] == ["FARGATE"]
        assert definition["NetworkMode"] == "awsvpc"
        (container,) = definition["ContainerDefinitions"]
        assert container["User"] == "10001"
        assert container["ReadonlyRootFilesystem"] is True
        assert container["Privileged"] is False
        assert container["LinuxParameters"]["Capabilities"]["Drop"] == ["ALL"]
        assert sorted(m["ContainerPath"] for m in container["MountPoints"]) == ["/scratch", "/tmp"]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        assert "Environment" not in container  # job URLs arrive per run, as overrides
    groups = _all(synthesized.sandbox_json, "AWS::Logs::LogGroup")
    assert len(groups) == 3  # the tasks', the sandbox-job machine's, the images' build
    for group in groups:
        assert group["RetentionInDays"] > 0 and "KmsKeyId" in group


def test_images_are_built_in_the_account_and_pinned_by_digest(synthesized: Synthesized) -> None:
    """No container engine where `cdk deploy` runs: no Docker asset at all, the images built
    by CodeBuild from an uploaded folder during the deployment, each task definition naming
    its image by the digest that build produced."""
    for manifest in synthesized.outdir.glob("*.assets.json"):
        assert json.loads(manifest.read_text()).get("dockerImages", {}) == {}, manifest.name
    template = synthesized.sandbox_json
    (project,) = _all(template, "AWS::CodeBuild::Project")
    assert project["Environment"]["PrivilegedMode"] is True
    assert project["Source"]["Type"] == "S3"
    spec = project["Source"]["BuildSpec"]
    for name in ("python", "javascript", "go", "rust", "java", "universal"):
        assert f"images/{name}/Dockerfile" in json.dumps(spec)
    (repository,) = _all(template, "AWS::ECR::Repository")
    assert repository["ImageTagMutability"] == "IMMUTABLE"
    (build,) = [r for r in template["Resources"].values()
                if r["Type"] == "AWS::CloudFormation::CustomResource"]  # fmt: skip
    assert set(build["Properties"]["Images"].split(",")) == {
        "python",
        "javascript",
        "go",
        "rust",
        "java",
        "universal",
    }
    for definition in _all(template, "AWS::ECS::TaskDefinition"):
        (container,) = definition["ContainerDefinitions"]
        image = json.dumps(container["Image"])
        runtime = definition["Family"].removeprefix("assay-sandbox-")
        assert '"@"' in image and f'"{runtime}"]' in image, image  # <repo>@<digest of runtime>


def test_jobs_run_by_step_functions_with_run_task_sync_and_a_timeout(
    synthesized: Synthesized,
) -> None:
    (machine,) = [m for m in _all(synthesized.sandbox_json, "AWS::StepFunctions::StateMachine")
                  if m.get("StateMachineName") == "assay-sandbox-job"]  # fmt: skip
    definition = json.loads(machine["DefinitionString"])
    (state,) = definition["States"].values()
    assert state["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert state["TimeoutSecondsPath"] == "$.timeout_s" and state["Retry"]
    network = state["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    # Only the presigned URLs reach the container: no task token anywhere in its overrides.
    assert "TaskToken" not in json.dumps(state) and ".waitForTaskToken" not in json.dumps(state)
    used = set(re.findall(r"\$\{([A-Za-z]+)\}", machine["DefinitionString"]))
    assert used == set(machine["DefinitionSubstitutions"]) == {
        "ClusterArn", "ContainerName"}  # fmt: skip
    # The task definition comes with each job: the analysis's language's image.
    assert state["Parameters"]["TaskDefinition.$"] == "$.task_definition"
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["TracingConfiguration"] == {"Enabled": True}
    policies = [
        s
        for p in _all(synthesized.sandbox_json, "AWS::IAM::Policy")
        for s in p["PolicyDocument"]["Statement"]
    ]
    run = [s for s in policies if s["Action"] == "ecs:RunTask"]
    assert run and all("ecs:cluster" in json.dumps(s["Condition"]) for s in run)
    (passing,) = [s for s in policies if s["Action"] == "iam:PassRole"]
    assert "ExecutionRole" in json.dumps(passing["Resource"])


def test_the_sandbox_job_definition_passes_the_validator() -> None:
    validator = ROOT / "node_modules" / ".bin" / "asl-validator"
    done = subprocess.run(
        [str(validator), "--json-path", str(ROOT / "statemachines" / "sandbox-job.asl.json")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_image_runs_the_runner_unprivileged_on_pinned_toolchains() -> None:
    images = sorted((ROOT / "sandbox-tasks" / "images").glob("*/Dockerfile"))
    assert [p.parent.name for p in images] == ["go", "java", "javascript", "python", "rust",
                                               "universal"]  # fmt: skip
    for path in images:
        dockerfile = path.read_text()
        assert "USER 10001" in dockerfile, path
        assert "COPY runner/assay_runner.py /opt/assay/assay_runner.py" in dockerfile, path
        assert re.search(r'ENTRYPOINT \["python3?", "/opt/assay/assay_runner.py", "--remote"\]',
                         dockerfile), path  # fmt: skip
        # Base images by exact version, never a floating tag.
        (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
        assert re.search(r":[\w.-]*\d+\.\d+[\w.-]*$|:bookworm-\d{8}-slim$", base), base


def test_sandboxes_reach_https_only_and_endpoints_only_their_clients(
    synthesized: Synthesized,
) -> None:
    groups = {g["GroupDescription"]: g
              for g in _all(synthesized.sandbox_json, "AWS::EC2::SecurityGroup")}  # fmt: skip
    assert len(groups) == 3
    tasks = groups["Assay sandboxes: HTTPS, routed to VPC endpoints only"]
    install = groups["Assay install sandboxes: HTTPS to the package repository and S3 only"]
    for group in (tasks, install):
        assert "SecurityGroupIngress" not in group
        assert [
            (e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in group["SecurityGroupEgress"]
        ] == [("tcp", 443, 443)]
    # The package repository's endpoint accepts install sandboxes only: never a test run.
    repository = groups["Assay: the CodeArtifact endpoint, for install sandboxes only"]
    assert "SecurityGroupIngress" not in repository  # its one rule is a separate resource
    (rule,) = [i for i in _all(synthesized.sandbox_json, "AWS::EC2::SecurityGroupIngress")
               if "InstallTasks" in json.dumps(i["SourceSecurityGroupId"])]  # fmt: skip
    assert rule["FromPort"] == 443
    (codeartifact,) = _all(synthesized.sandbox_json, "AWS::EC2::VPCEndpoint")
    assert "codeartifact.repositories" in json.dumps(codeartifact["ServiceName"])
    (repo,) = _all(synthesized.sandbox_json, "AWS::CodeArtifact::Repository")
    assert repo["ExternalConnections"] == ["public:pypi"]
    (domain,) = _all(synthesized.sandbox_json, "AWS::CodeArtifact::Domain")
    assert "EncryptionKey" in domain
    endpoints = [r for r in _all(synthesized.data_json, "AWS::EC2::VPCEndpoint")
                 if r.get("VpcEndpointType") == "Interface"]  # fmt: skip
    services = sorted(json.dumps(e["ServiceName"]).split(".")[-1].strip('"]}') for e in endpoints)
    assert services == ["api", "dkr", "logs"]
    for endpoint in endpoints:
        assert endpoint["PrivateDnsEnabled"] is True
    ingress = _all(synthesized.data_json, "AWS::EC2::SecurityGroupIngress")
    to_endpoints = [i for i in ingress if i.get("FromPort") == 443]
    assert to_endpoints and all("SourceSecurityGroupId" in i for i in to_endpoints)
