"""The Fargate sandbox adapter against moto's Step Functions and S3 served over HTTP on
loopback. The sandbox-job state machine (`statemachines/sandbox-job.asl.json`) is created in
moto as deployed; a stand-in for what Step Functions' `ecs:runTask.sync` and the task would do
picks up each execution, runs `assay_runner.py --remote` with the environment the state
machine would pass (presigned URLs only), and ends the execution as the service would."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from assay.sandbox import Job, Limits
from assay.sandbox.fargate import FargateSandbox, FargateTarget
from assay.sandbox.port import Ending, SandboxUnavailable
from tests.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "sandbox-tasks" / "runner" / "assay_runner.py"
SANDBOX_JOB = ROOT / "statemachines" / "sandbox-job.asl.json"
ACCOUNT = "123456789012"
BUCKET = "assay-sandbox-it"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeFargate:
    """Polls for new executions, runs each one's container, then ends the execution."""

    def __init__(self, sfn: Any, machine: str, container_root: Path) -> None:
        self.sfn, self.machine, self.root = sfn, machine, container_root
        self.environments: list[dict[str, str]] = []
        self.groups: list[set[str]] = []  # the security groups each task would get
        self.stderr: list[str] = []
        self._done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            for execution in self.sfn.list_executions(stateMachineArn=self.machine)["executions"]:
                arn = execution["executionArn"]
                if arn not in self._done:
                    self._done.add(arn)
                    self._run(arn)

    def _run(self, arn: str) -> None:
        from moto.stepfunctions.models import stepfunctions_backends

        payload = json.loads(self.sfn.describe_execution(executionArn=arn)["input"])
        env = {e["Name"]: e["Value"] for e in payload["environment"]}
        self.environments.append(env)
        self.groups.append(set(payload["security_groups"]))
        scratch = self.root / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        container_env = {
            "PATH": os.environ["PATH"], **env, "ASSAY_ROOT": str(self.root),
            "ASSAY_SCRATCH": str(scratch), "ASSAY_WRITABLE": "/tmp",
        }  # fmt: skip
        done = subprocess.run(
            [sys.executable, str(RUNNER), "--remote"], env=container_env,
            timeout=payload["timeout_s"], check=False, capture_output=True, text=True,
        )  # fmt: skip
        self.stderr.append(done.stderr)
        backend = stepfunctions_backends[ACCOUNT][REGION]
        execution = backend.describe_execution(arn)
        execution.status = "SUCCEEDED" if done.returncode == 0 else "FAILED"
        if done.returncode != 0:
            execution.error, execution.cause = "States.TaskFailed", "Essential container exited"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def fargate(tmp_path: Path) -> Iterator[tuple[FargateSandbox, FakeFargate, Any]]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    deployed = re.sub(
        r"\$\{([A-Za-z]+)\}",
        lambda m: {
            "ClusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/assay-sandbox",
            "TaskDefinitionArn": "assay-sandbox-python",
            "ContainerName": "sandbox",
        }[m.group(1)],
        SANDBOX_JOB.read_text(),
    )
    machine = sfn.create_state_machine(
        name="assay-sandbox-job", definition=deployed,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/assay-sandbox-job",
    )["stateMachineArn"]  # fmt: skip
    target = FargateTarget(
        state_machine=machine, subnets=["subnet-1"], security_groups=["sg-tests"],
        install_security_groups=["sg-install"], bucket=BUCKET,
    )  # fmt: skip
    fake = FakeFargate(sfn, machine, tmp_path / "container")
    sandbox = FargateSandbox(target, sfn=sfn, s3=s3, prefix="tenants/t1/analyses/a1/run",
                             poll_s=0.05)  # fmt: skip
    try:
        yield sandbox, fake, s3
    finally:
        fake.close()
        urllib.request.urlopen(  # moto's own reset, on loopback
            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
        ).close()
        server.stop()


def test_a_job_runs_in_the_task_and_its_work_directory_comes_back(
    fargate: tuple[FargateSandbox, FakeFargate, Any], tmp_path: Path
) -> None:
    sandbox, fake, s3 = fargate
    work = tmp_path / "work"
    work.mkdir()
    (work / "in.txt").write_text("from the step\n")
    script = "cat in.txt > out.txt; ln -s /etc/passwd leak; echo ran in $(pwd); exit 3"
    outcome = sandbox.run(Job(argv=["/bin/sh", "-c", script], workdir=work,
                              limits=Limits(wall_s=30)))  # fmt: skip
    assert outcome.ending is Ending.EXITED and outcome.exit_code == 3, fake.stderr
    # It ran in the container's copy, at the step's own path under the container's root.
    assert f"ran in {tmp_path / 'container'}{work}" in outcome.stdout
    assert (work / "out.txt").read_text() == "from the step\n"
    assert not (work / "leak").exists() and not (work / "leak").is_symlink()
    # The task got two presigned URLs and nothing else: no credentials, no task token.
    (env,) = fake.environments
    assert set(env) == {"ASSAY_JOB_URL", "ASSAY_RESULTS_URL"}
    assert "tenants/t1/analyses/a1/run/sandbox/" in env["ASSAY_JOB_URL"]
    # The job's objects are gone once its results are in.
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="tenants/")
    assert listed.get("KeyCount", 0) == 0


def test_a_job_past_its_wall_time_in_the_task_is_a_timeout(
    fargate: tuple[FargateSandbox, FakeFargate, Any], tmp_path: Path
) -> None:
    sandbox, _, _ = fargate
    work = tmp_path / "work"
    work.mkdir()
    outcome = sandbox.run(Job(argv=["/bin/sh", "-c", "sleep 5"], workdir=work,
                              limits=Limits(wall_s=0.5)))  # fmt: skip
    assert outcome.ending is Ending.TIMEOUT


def test_only_install_jobs_get_the_install_security_group(
    fargate: tuple[FargateSandbox, FakeFargate, Any], tmp_path: Path
) -> None:
    sandbox, fake, _ = fargate
    target = sandbox._target
    work = tmp_path / "work"
    work.mkdir()
    tests = sandbox.run(Job(argv=["/bin/true"], workdir=work))
    install = sandbox.run(Job(argv=["/bin/true"], workdir=work, limits=Limits(network=True)))
    assert tests.ok and install.ok
    assert fake.groups == [set(target.security_groups), set(target.install_security_groups)]
    without = FargateSandbox(
        target.model_copy(update={"install_security_groups": []}), sfn=fake.sfn,
        s3=sandbox._s3, prefix="tenants/t1/x",
    )  # fmt: skip
    with pytest.raises(SandboxUnavailable, match="INSTALL_SECURITY_GROUPS"):
        without.run(Job(argv=["pip", "install", "x"], workdir=tmp_path,
                        limits=Limits(network=True)))  # fmt: skip
    assert len(fake.environments) == 2
