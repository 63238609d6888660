"""The Fargate sandbox: each job is one ECS task of the runtime's image, with no task role,
run by Step Functions (`statemachines/sandbox-job.asl.json`, `ecs:runTask.sync`).

The job travels as a presigned S3 GET and its results come back through a presigned PUT
(`assay_runner.py --remote`, rooted mode): the work directory and the read-only paths that
live under the Lambda's /tmp (the prepared environment) keep their absolute paths, so the
interpreter and venv built by the step are found where they were built. Paths outside /tmp
(the interpreter's own installation) must exist in the image at the same place.

Step Functions starts the task in the isolated subnets without a public IP, stops it at the
job's wall time (`TimeoutSecondsPath`) and retries a task that failed to start; the caller
only starts an execution and waits for it, so it needs no ECS rights and never passes a role.
Test runs get the sandbox security group (HTTPS to S3 only); a job that needs the network
(dependency installation) gets the install group, whose only way out is the package
repository's endpoint.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assay.sandbox.images import UNIVERSAL, task_family
from assay.sandbox.port import Ending, Job, Outcome, Sandbox, SandboxUnavailable

WRITABLE = Path("/tmp")  # noqa: S108 - Lambda's writable root, mirrored in the task
START_ALLOWANCE_S = 300  # pulling the image and starting the task, on top of the job's wall time


class FargateTarget(BaseModel):
    state_machine: str  # the sandbox-job state machine's ARN
    subnets: list[str]
    security_groups: list[str]
    install_security_groups: list[str] = []  # HTTPS to the package repository only
    bucket: str


def _add_tree(tar: tarfile.TarFile, path: Path) -> None:
    tar.add(path, arcname="root/" + str(path).lstrip("/"))


def job_archive(job: Job) -> bytes:
    spec = {
        "rooted": True,
        "cwd": str(job.workdir),
        "steps": [{"name": "job", "argv": job.argv, "timeout_s": job.limits.wall_s,
                   "env": job.env}],
    }  # fmt: skip
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps(spec).encode()
        info = tarfile.TarInfo("job.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        shipped = [job.workdir, *job.readonly]
        for path in shipped:
            if path.is_relative_to(WRITABLE) and path.exists():
                _add_tree(tar, path)
    return buffer.getvalue()


def _restore_workdir(results: bytes, workdir: Path) -> dict[str, Any]:
    """The task's work directory replaces ours; links and escapes are refused (`data`)."""
    with tarfile.open(fileobj=io.BytesIO(results), mode="r:gz") as tar:
        handle = tar.extractfile("results.json")
        record: dict[str, Any] = json.load(handle) if handle else {"steps": []}
        members = [m for m in tar.getmembers() if m.name.startswith("work/")]
        for member in members:
            member.name = member.name[len("work/") :]
        kept = [m for m in members if m.name]
        tar.extractall(workdir, members=kept, filter=_dropping_unsafe)  # noqa: S202 - filtered
    return record


def _dropping_unsafe(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """What the job wrote is untrusted: a link out or a path that climbs is left behind."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


class FargateSandbox(Sandbox):
    isolation = "an ECS Fargate task: its own microVM, no task role, no network but S3"

    def __init__(
        self,
        target: FargateTarget,
        *,
        sfn: Any,
        s3: Any,
        prefix: str,
        poll_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        image: str = UNIVERSAL,
    ) -> None:
        self._target = target
        self.image = image
        self._family = task_family(image)
        self._sfn = sfn
        self._s3 = s3
        self._prefix = prefix.rstrip("/")
        self._poll_s = poll_s
        self._sleep = sleep
        self._clock = clock

    def scoped(self, prefix: str, *, image: str | None = None) -> FargateSandbox:
        """The same sandbox writing its jobs under another prefix (one analysis's), in the
        task definition of `image` (see sandbox/images.py) when given."""
        return FargateSandbox(
            self._target, sfn=self._sfn, s3=self._s3, prefix=prefix, poll_s=self._poll_s,
            sleep=self._sleep, clock=self._clock, image=image or self.image,
        )  # fmt: skip

    def run(self, job: Job) -> Outcome:
        if job.limits.network and not self._target.install_security_groups:
            raise SandboxUnavailable(
                "jobs that need the network (dependency installation) cannot run on Fargate "
                "without ASSAY_SANDBOX_INSTALL_SECURITY_GROUPS (the CodeArtifact path)"
            )
        started = self._clock()
        name = uuid.uuid4().hex
        job_key = f"{self._prefix}/sandbox/{name}/job.tar.gz"
        results_key = f"{self._prefix}/sandbox/{name}/results.tar.gz"
        bucket = self._target.bucket
        self._s3.put_object(Bucket=bucket, Key=job_key, Body=job_archive(job))
        expires = int(job.limits.wall_s + START_ALLOWANCE_S + 60)
        get_url = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": job_key}, ExpiresIn=expires
        )
        put_url = self._s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": results_key}, ExpiresIn=expires
        )
        try:
            execution = self._start(job, get_url, put_url)
            ended = self._wait(execution, job.limits.wall_s + START_ALLOWANCE_S + 120)
            status, error = ended.get("status"), str(ended.get("error") or "")
            if status != "SUCCEEDED" and error == "States.Timeout":
                return self._outcome(Ending.TIMEOUT, None, "the job outlived its wall time",
                                     "", started)  # fmt: skip
            try:
                body = self._s3.get_object(Bucket=bucket, Key=results_key)["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                reason = f"the task sent no results ({status}: {error or ended.get('cause')})"
                return self._outcome(Ending.KILLED, None, reason, "", started)
            record = _restore_workdir(body, job.workdir)
        finally:
            for key in (job_key, results_key):
                self._s3.delete_object(Bucket=bucket, Key=key)
        steps = record.get("steps") or [{}]
        step = steps[0]
        output = str(step.get("output", ""))
        if step.get("timed_out"):
            return self._outcome(Ending.TIMEOUT, None, "the job outlived its wall time",
                                 output, started)  # fmt: skip
        code = step.get("exit_code")
        return self._outcome(Ending.EXITED, code, f"exited with {code}", output, started)

    def _outcome(
        self, ending: Ending, code: int | None, reason: str, output: str, started: float
    ) -> Outcome:
        return Outcome(
            ending=ending, exit_code=code, reason=reason, stdout=output, stderr="",
            duration_s=round(self._clock() - started, 3),
        )  # fmt: skip

    def _start(self, job: Job, get_url: str, put_url: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        target = self._target
        groups = target.install_security_groups if job.limits.network else target.security_groups
        payload = {
            "task_definition": self._family,  # the family: its latest active revision runs
            "subnets": target.subnets,
            "security_groups": groups,
            "timeout_s": int(job.limits.wall_s + START_ALLOWANCE_S),
            "environment": [
                {"Name": "ASSAY_JOB_URL", "Value": get_url},
                {"Name": "ASSAY_RESULTS_URL", "Value": put_url},
            ],
        }
        try:
            answer = self._sfn.start_execution(
                stateMachineArn=target.state_machine, name=uuid.uuid4().hex,
                input=json.dumps(payload),
            )  # fmt: skip
        except (BotoCoreError, ClientError) as exc:
            raise SandboxUnavailable(f"Step Functions refused the sandbox job: {exc}") from None
        return str(answer["executionArn"])

    def _wait(self, execution: str, limit_s: float) -> dict[str, Any]:
        """Until the execution ends; Step Functions stops the task at its own timeout, and
        this bound only keeps a lost execution from holding the step forever."""
        deadline = self._clock() + limit_s
        while self._clock() < deadline:
            described: dict[str, Any] = self._sfn.describe_execution(executionArn=execution)
            if described.get("status") != "RUNNING":
                return described
            self._sleep(self._poll_s)
        self._sfn.stop_execution(
            executionArn=execution, error="States.Timeout", cause="assay: no end in sight"
        )
        return {"status": "TIMED_OUT", "error": "States.Timeout"}
