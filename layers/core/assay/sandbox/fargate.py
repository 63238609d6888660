"""The Fargate sandbox: each job is one ECS task of the runtime's image, with no task role.

The job travels as a presigned S3 GET and its results come back through a presigned PUT
(`assay_runner.py --remote`, rooted mode): the work directory and the read-only paths that
live under the Lambda's /tmp (the prepared environment) keep their absolute paths, so the
interpreter and venv built by the step are found where they were built. Paths outside /tmp
(the interpreter's own installation) must exist in the image at the same place.

The task runs with `assignPublicIp` disabled in the isolated subnets and the sandbox security
group: no route anywhere but S3. A job that needs the network (dependency installation) runs
with the install security group instead, whose only way out is HTTPS to the CodeArtifact
repository's endpoint (and S3); test runs never get it.
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

from assay.sandbox.port import Ending, Job, Outcome, Sandbox, SandboxUnavailable

WRITABLE = Path("/tmp")  # noqa: S108 - Lambda's writable root, mirrored in the task
START_ALLOWANCE_S = 300  # pulling the image and starting the task, on top of the job's wall time


class FargateTarget(BaseModel):
    cluster: str
    task_definition: str
    container: str
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
        ecs: Any,
        s3: Any,
        prefix: str,
        poll_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._target = target
        self._ecs = ecs
        self._s3 = s3
        self._prefix = prefix.rstrip("/")
        self._poll_s = poll_s
        self._sleep = sleep
        self._clock = clock

    def scoped(self, prefix: str) -> FargateSandbox:
        """The same sandbox writing its jobs under another prefix (one analysis's)."""
        return FargateSandbox(
            self._target, ecs=self._ecs, s3=self._s3, prefix=prefix, poll_s=self._poll_s,
            sleep=self._sleep, clock=self._clock,
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
            task_arn = self._start(get_url, put_url, network=job.limits.network)
            stopped = self._wait(task_arn, job.limits.wall_s + START_ALLOWANCE_S)
            if stopped is None:
                return self._outcome(Ending.TIMEOUT, None, "the task outlived its wall time",
                                     "", started)  # fmt: skip
            try:
                body = self._s3.get_object(Bucket=bucket, Key=results_key)["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                reason = stopped.get("stoppedReason") or "the task sent no results"
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

    def _start(self, get_url: str, put_url: str, *, network: bool) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        target = self._target
        try:
            groups = target.install_security_groups if network else target.security_groups
            answer = self._run_task(target, groups, get_url, put_url)
        except (BotoCoreError, ClientError) as exc:
            raise SandboxUnavailable(f"ECS refused the sandbox task: {exc}") from None
        tasks = answer.get("tasks") or []
        if not tasks:
            failures = answer.get("failures") or [{}]
            raise SandboxUnavailable(f"ECS did not start the sandbox: {failures[0]}")
        return str(tasks[0]["taskArn"])

    def _run_task(
        self, target: FargateTarget, groups: list[str], get_url: str, put_url: str
    ) -> dict[str, Any]:
        answer: dict[str, Any] = self._ecs.run_task(
            cluster=target.cluster,
            taskDefinition=target.task_definition,
            launchType="FARGATE",
            count=1,
            startedBy="assay-sandbox",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": target.subnets,
                    "securityGroups": groups,
                    "assignPublicIp": "DISABLED",
                }
            },
            overrides={
                "containerOverrides": [
                    {
                        "name": target.container,
                        "environment": [
                            {"name": "ASSAY_JOB_URL", "value": get_url},
                            {"name": "ASSAY_RESULTS_URL", "value": put_url},
                        ],
                    }
                ]
            },
        )
        return answer

    def _wait(self, task_arn: str, limit_s: float) -> dict[str, Any] | None:
        deadline = self._clock() + limit_s
        while self._clock() < deadline:
            described = self._ecs.describe_tasks(cluster=self._target.cluster, tasks=[task_arn])
            task: dict[str, Any] = (described.get("tasks") or [{}])[0]
            if task.get("lastStatus") == "STOPPED":
                return task
            self._sleep(self._poll_s)
        self._ecs.stop_task(
            cluster=self._target.cluster, task=task_arn, reason="assay: wall time exceeded"
        )
        return None
