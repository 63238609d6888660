"""The Fargate sandbox adapter against moto's ECS and S3 served over HTTP on loopback, with a
stand-in for Fargate that does what the task would: run `assay_runner.py --remote` with the
container overrides the adapter passed (presigned URLs only), then stop the task."""

from __future__ import annotations

import os
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

RUNNER = Path(__file__).resolve().parents[2] / "sandbox-tasks" / "runner" / "assay_runner.py"
BUCKET = "assay-sandbox-it"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeFargate:
    """Polls for new tasks, runs each one's container as Fargate would, then stops it."""

    def __init__(self, ecs: Any, ec2: Any, cluster: str, container_root: Path) -> None:
        self.ecs, self.ec2, self.cluster, self.root = ecs, ec2, cluster, container_root
        self.environments: list[dict[str, str]] = []
        self.groups: list[set[str]] = []  # the security groups each task's interface got
        self.stderr: list[str] = []
        self._done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            for arn in self.ecs.list_tasks(cluster=self.cluster)["taskArns"]:
                if arn not in self._done:
                    self._done.add(arn)
                    self._run(arn)

    def _run(self, arn: str) -> None:
        (task,) = self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"]
        (override,) = task["overrides"]["containerOverrides"]
        env = {e["name"]: e["value"] for e in override["environment"]}
        self.environments.append(env)
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        (eni,) = self.ec2.describe_network_interfaces(
            NetworkInterfaceIds=[details["networkInterfaceId"]]
        )["NetworkInterfaces"]
        self.groups.append({g["GroupId"] for g in eni["Groups"]})
        scratch = self.root / "scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        container_env = {
            "PATH": os.environ["PATH"], **env, "ASSAY_ROOT": str(self.root),
            "ASSAY_SCRATCH": str(scratch), "ASSAY_WRITABLE": "/tmp",
        }  # fmt: skip
        done = subprocess.run(
            [sys.executable, str(RUNNER), "--remote"], env=container_env, timeout=60,
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        self.stderr.append(done.stderr)
        self.ecs.stop_task(cluster=self.cluster, task=arn, reason="Essential container exited")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.fixture
def fargate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FargateSandbox, FakeFargate, Any]]:
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    # moto 5's ECS describes a Fargate task's network interface by a field its EC2 model
    # lacks; give it one (a moto bug, not a behaviour under test).
    monkeypatch.setattr(NetworkInterface, "private_dns_name", "ip-10-0-1-5.internal",
                        raising=False)  # fmt: skip
    from moto.moto_api import state_manager

    # A task stays RUNNING until it is stopped (moto advances it on every describe otherwise).
    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    ecs = boto3.client("ecs", region_name=REGION, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    ecs.create_cluster(clusterName="assay")
    ecs.register_task_definition(
        family="assay-python", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
        cpu="1024", memory="2048",
        containerDefinitions=[{"name": "sandbox", "image": "assay/python", "essential": True,
                               "cpu": 1024, "memory": 2048}],
    )  # fmt: skip
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="sandbox", Description="x", VpcId=vpc)
    install = ec2.create_security_group(GroupName="install", Description="x", VpcId=vpc)
    target = FargateTarget(
        cluster="assay", task_definition="assay-python", container="sandbox",
        subnets=[subnet], security_groups=[group["GroupId"]],
        install_security_groups=[install["GroupId"]], bucket=BUCKET,
    )  # fmt: skip
    fake = FakeFargate(ecs, ec2, "assay", tmp_path / "container")
    sandbox = FargateSandbox(target, ecs=ecs, s3=s3, prefix="tenants/t1/analyses/a1/run",
                             poll_s=0.05)  # fmt: skip
    try:
        yield sandbox, fake, s3
    finally:
        fake.close()
        urllib.request.urlopen(  # moto's own reset, on loopback
            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
        ).close()
        server.stop()
        state_manager.unset_transition(model_name="ecs::task")


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
        target.model_copy(update={"install_security_groups": []}), ecs=fake.ecs,
        s3=sandbox._s3, prefix="tenants/t1/x",
    )  # fmt: skip
    with pytest.raises(SandboxUnavailable, match="INSTALL_SECURITY_GROUPS"):
        without.run(Job(argv=["pip", "install", "x"], workdir=tmp_path,
                        limits=Limits(network=True)))  # fmt: skip
    assert len(fake.environments) == 2
