"""A stand-in for Fargate behind the Fargate sandbox adapter: moto's Step Functions and S3
served over HTTP on loopback, the sandbox-job state machine (`statemachines/sandbox-job.asl.json`)
created as deployed, and a poller doing what Step Functions' `ecs:runTask.sync` and the task
would: it picks up each execution, runs `assay_runner.py --remote` with the environment the state
machine would pass (presigned URLs only), and ends the execution as the service would.

It is not isolated: it proves the adapter's protocol, not the container's walls."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from assay.sandbox.fargate import FargateSandbox, FargateSessions, FargateTarget
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
        self.families: list[str] = []  # the task definition each task would run
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
        self.families.append(payload["task_definition"])
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


class SessionTasks:
    """What `ecs:runTask.sync` does for a RunSession state: the session's container, the real
    runner with the images' entry point (`--remote`) and the environment the state passes (one
    presigned URL), run to its end. `started` counts task starts.

    `path`: the image's PATH (its toolchains), fixed; else this process's at each start.
    `private_tmp`: each task gets a /tmp of its own (a mount namespace, its /tmp bound to a
    fresh directory under `container_root`) and is rooted at / as in the image, so the absolute
    /tmp paths of a job (its work directory, the prepared environment) are the task's copies,
    never the step's files. Without it the task is rooted at `container_root` and a job's
    absolute paths still reach the step's own files."""

    def __init__(
        self, container_root: Path, *, path: str | None = None, private_tmp: bool = False
    ) -> None:
        self.root = container_root
        self.path = path
        self.private_tmp = private_tmp
        self.started: list[dict[str, Any]] = []  # each task's RunTask parameters
        self.stderr: list[str] = []
        self.failed: list[str] = []  # the stderr of each task that failed
        self._lock = threading.Lock()

    def __call__(self, parameters: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.started.append(parameters)
            number = len(self.started)
        (override,) = parameters["Overrides"]["ContainerOverrides"]
        env = {e["Name"]: e["Value"] for e in override["Environment"]}
        path = self.path or os.environ["PATH"]
        argv = [sys.executable, str(RUNNER), "--remote"]
        if self.private_tmp:
            tmp = self.root / f"task-{number}" / "tmp"
            (tmp / "scratch").mkdir(parents=True)
            root, scratch = "/", "/tmp/scratch"  # the task's own /tmp
            # The image's runner and interpreter: the checkout and its venv may live under the
            # /tmp the task no longer sees, so the runner is copied in and the base Python runs it.
            shutil.copyfile(RUNNER, tmp / "assay_runner.py")
            base = Path(sys.base_prefix) / "bin" / "python3"
            argv = [str(base), "/tmp/assay_runner.py", "--remote"]
            unshare = shutil.which("unshare", path=path)
            assert unshare is not None, "a private /tmp needs unshare (util-linux)"
            user = [] if os.geteuid() == 0 else ["--map-root-user"]
            argv = [unshare, "--mount", "--propagation", "private", *user, "--", "/bin/sh",
                    "-c", 'mount --bind "$0" /tmp && exec "$@"', str(tmp), *argv]  # fmt: skip
        else:
            root, scratch = str(self.root), str(self.root / "scratch")
            Path(scratch).mkdir(parents=True, exist_ok=True)
        container_env = {
            "PATH": path, **env, "ASSAY_ROOT": root, "ASSAY_SCRATCH": scratch,
            "ASSAY_WRITABLE": "/tmp",
        }  # fmt: skip
        done = subprocess.run(
            argv, env=container_env, timeout=900, check=False, capture_output=True, text=True
        )  # fmt: skip
        self.stderr.append(done.stderr)
        if done.returncode != 0:
            self.failed.append(done.stderr)
            raise RuntimeError(f"the session's task failed: {done.stderr[-2000:]}")
        return {"StopCode": "EssentialContainerExited", "StoppedReason": "done"}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto over HTTP on a free loopback port (every service); yields its endpoint URL, and
    resets and stops it afterwards."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        yield endpoint
    finally:
        urllib.request.urlopen(  # moto's own reset, on loopback
            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
        ).close()
        server.stop()


@contextmanager
def fake_sessions(tmp_path: Path) -> Iterator[tuple[FargateSessions, SessionTasks, Any]]:
    """Fargate sessions over moto's S3 on loopback (presigned URLs the runner really calls);
    yields (sessions, the RunSession stand-in, s3 client)."""
    with moto_server() as endpoint:
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        target = FargateTarget(subnets=["subnet-1"], security_groups=["sg-tests"],
                               install_security_groups=["sg-install"], bucket=BUCKET)  # fmt: skip
        tasks = SessionTasks(tmp_path / "container")
        yield FargateSessions(target, s3=s3, poll_s=0.05), tasks, s3


@contextmanager
def fake_fargate(tmp_path: Path) -> Iterator[tuple[FargateSandbox, FakeFargate, Any]]:
    """A Fargate sandbox over the stand-in; yields (sandbox, stand-in, s3 client)."""
    with moto_server() as endpoint:
        sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=endpoint)
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        deployed = re.sub(
            r"\$\{([A-Za-z]+)\}",
            lambda m: {
                "ClusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/assay-sandbox",
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
