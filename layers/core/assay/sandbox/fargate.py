"""The Fargate sandbox and sandbox sessions (see sandbox/sessions.py).

`FargateSandbox`: each job is one ECS task of the runtime's image, with no task role,
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
from assay.sandbox.sessions import (
    IDLE_S,
    POLL_S,
    SESSION_ID,
    SESSION_URL,
    SLOTS,
    START_ALLOWANCE_S,
    SessionRef,
    Sessions,
    Suspended,
)

WRITABLE = Path("/tmp")  # noqa: S108 - Lambda's writable root, mirrored in the task


class FargateTarget(BaseModel):
    state_machine: str = ""  # the sandbox-job state machine's ARN (one job, one task)
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


def restore_workdir(results: bytes, workdir: Path) -> dict[str, Any]:
    """The task's work directory replaces ours; links and escapes are refused (`data`)."""
    with tarfile.open(fileobj=io.BytesIO(results), mode="r:gz") as tar:
        handle = tar.extractfile("results.json")
        record: dict[str, Any] = json.load(handle) if handle else {"steps": []}
        members = [m for m in tar.getmembers() if m.name.startswith("work/")]
        for member in members:
            member.name = member.name[len("work/") :]
            if member.islnk():  # a hard link names another member (a build's linked files)
                member.linkname = member.linkname.removeprefix("work/")
        names = {m.name for m in members if not m.islnk()}
        kept = [m for m in members if m.name and (not m.islnk() or m.linkname in names)]
        tar.extractall(workdir, members=kept, filter=_dropping_unsafe)  # noqa: S202 - filtered
    return record


def _dropping_unsafe(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """What the job wrote is untrusted: a link out or a path that climbs is left behind."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


def outcome_of(  # noqa: PLR0917 - the outcome's fields, in their order
    ending: Ending,
    code: int | None,
    reason: str,
    output: str,
    started: float,
    clock: Callable[[], float],
) -> Outcome:
    return Outcome(
        ending=ending, exit_code=code, reason=reason, stdout=output, stderr="",
        duration_s=round(clock() - started, 3),
    )  # fmt: skip


def outcome_from_record(
    record: dict[str, Any], started: float, clock: Callable[[], float]
) -> Outcome:
    """The runner's record of a one-step job as the sandbox port's outcome."""
    steps = record.get("steps") or [{}]
    step = steps[0] if isinstance(steps[0], dict) else {}
    output = str(step.get("output", ""))
    if step.get("timed_out"):
        return outcome_of(Ending.TIMEOUT, None, "the job outlived its wall time", output,
                          started, clock)  # fmt: skip
    code = step.get("exit_code")
    code = code if isinstance(code, int) else None
    return outcome_of(Ending.EXITED, code, f"exited with {code}", output, started, clock)


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
            record = restore_workdir(body, job.workdir)
        finally:
            for key in (job_key, results_key):
                self._s3.delete_object(Bucket=bucket, Key=key)
        return outcome_from_record(record, started, self._clock)

    def _outcome(
        self, ending: Ending, code: int | None, reason: str, output: str, started: float
    ) -> Outcome:
        return outcome_of(ending, code, reason, output, started, self._clock)

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


# ------------------------------------------------------------------------------ sessions
def _key(ref: SessionRef, name: str) -> str:
    return f"{ref.prefix}/{name}"


def _job_key(ref: SessionRef, number: int) -> str:
    return _key(ref, f"jobs/{number:05d}.tar.gz")


def _results_key(ref: SessionRef, number: int) -> str:
    return _key(ref, f"results/{number:05d}.tar.gz")


def _exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether the object is there; any answer but "not found" is raised."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
            raise
        return False


class _Remote(Sandbox):
    """Jobs to the session's task through S3, in order. The session is used by one step at a
    time (a branch's steps run one after another), so the next job's number is kept in the
    session's `cursor` object between step invocations.

    With a `deadline` (the step Lambda's end, less a margin) a job still running then
    suspends the step (`Suspended`): the workflow waits and calls the step again, which runs
    the same code from its start and meets the same jobs in the same order. The cursor says
    where that step began, so its jobs keep their numbers: those with results are answered
    from them, the one in flight is waited for again, none runs twice. So a job may outlive
    any one Lambda."""

    isolation = "a Fargate task of the session: its own microVM, no task role, no network but S3"

    def __init__(
        self, sessions: FargateSessions, ref: SessionRef, step: str, deadline: float | None
    ) -> None:
        self._sessions = sessions
        self._ref = ref
        self._step = step
        self._deadline = deadline
        self._next: int | None = None
        self._base = 0
        self._sent = 0  # jobs this session took before this step: a replay may meet them

    def _read_cursor(self) -> dict[str, Any]:
        s3, bucket = self._sessions.s3, self._sessions.target.bucket
        try:
            body = s3.get_object(Bucket=bucket, Key=_key(self._ref, "cursor"))["Body"].read()
        except s3.exceptions.NoSuchKey:
            return {"next": 0}
        found: dict[str, Any] = json.loads(body)
        return found

    def _write_cursor(self, **fields: Any) -> None:
        s3, bucket = self._sessions.s3, self._sessions.target.bucket
        s3.put_object(Bucket=bucket, Key=_key(self._ref, "cursor"),
                      Body=json.dumps({"next": self._next, **fields}).encode())  # fmt: skip

    def _cursor(self) -> int:
        if self._next is None:
            cursor = self._read_cursor()
            self._sent = int(cursor["next"])
            resume = cursor.get("resume") or {}
            if self._step and resume.get("step") == self._step:  # the same step, again
                self._base = int(resume["base"])
            else:
                self._base = int(cursor["next"])
            self._next = self._base
        return self._next

    def run(self, job: Job) -> Outcome:
        ref, s3, bucket = self._ref, self._sessions.s3, self._sessions.target.bucket
        clock = self._sessions.clock
        if job.limits.network and not ref.network:
            raise SandboxUnavailable("a job that needs the network went to a session without it")
        number = self._cursor()
        if number >= SLOTS:
            raise SandboxUnavailable(f"the sandbox session ran out of its {SLOTS} job slots")
        started = clock()
        # Only a step called again meets jobs already sent: answered, or still in flight.
        replayed = number < self._sent
        body = self._results(number) if replayed else None
        if body is None and not (replayed and _exists(s3, bucket, _job_key(ref, number))):
            s3.put_object(Bucket=bucket, Key=_job_key(ref, number), Body=job_archive(job))
        self._next = number + 1
        self._write_cursor()
        if body is None:
            body = self._wait(number, job, started)
        if body is None:
            return outcome_of(Ending.TIMEOUT, None, "the session's task sent no results in time",
                              "", started, clock)  # fmt: skip
        # The job's archive goes (a task started again looks for the one in flight); its
        # results stay until the analysis ends, for a step that is called again.
        s3.delete_object(Bucket=bucket, Key=_job_key(ref, number))
        return outcome_from_record(restore_workdir(body, job.workdir), started, clock)

    def _results(self, number: int) -> bytes | None:
        s3 = self._sessions.s3
        try:
            answer = s3.get_object(Bucket=self._sessions.target.bucket,
                                   Key=_results_key(self._ref, number))  # fmt: skip
        except s3.exceptions.NoSuchKey:
            return None
        body: bytes = answer["Body"].read()
        return body

    def _wait(self, number: int, job: Job, started: float) -> bytes | None:
        """The job's results, once the task put them; a step whose invocation ends first is
        suspended. The first job of a session also allows for the task's start."""
        sessions = self._sessions
        allowance = job.limits.wall_s + 60
        if sessions.now() - self._ref.opened_at < START_ALLOWANCE_S:
            allowance += START_ALLOWANCE_S
        while sessions.clock() - started < allowance:
            body = self._results(number)
            if body is not None:
                return body
            if self._deadline is not None and sessions.clock() >= self._deadline:
                self._write_cursor(resume={"step": self._step, "base": self._base})
                raise Suspended(f"job {number} of the session is still running")
            sessions.sleep(sessions.poll_s)
        return None


class FargateSessions(Sessions):
    def __init__(
        self,
        target: FargateTarget,
        *,
        s3: Any,
        poll_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.target = target
        self.s3 = s3
        self.poll_s = poll_s
        self.sleep = sleep
        self.clock = clock
        self.now = now

    def open(self, scope: str, *, image: str, network: bool, lifetime_s: int) -> SessionRef:
        if network and not self.target.install_security_groups:
            raise SandboxUnavailable(
                "jobs that need the network (dependency installation) cannot run on Fargate "
                "without ASSAY_SANDBOX_INSTALL_SECURITY_GROUPS (the CodeArtifact path)"
            )
        target = self.target
        ref = SessionRef(
            id=uuid.uuid4().hex, image=image, network=network, opened_at=self.now(),
            task_definition=task_family(image), subnets=target.subnets,
            security_groups=target.install_security_groups if network else target.security_groups,
            timeout_s=lifetime_s,
        )  # fmt: skip
        ref.prefix = f"{scope.rstrip('/')}/sessions/{ref.id}"
        expires = min(lifetime_s + START_ALLOWANCE_S + 600, 7 * 24 * 3600)

        def url(method: str, key: str) -> str:
            return str(self.s3.generate_presigned_url(
                method, Params={"Bucket": target.bucket, "Key": key}, ExpiresIn=expires
            ))  # fmt: skip

        manifest = {
            "ready": url("put_object", _key(ref, "ready")),
            "stop": url("get_object", _key(ref, "stop")),
            "cursor": url("get_object", _key(ref, "cursor")),
            "jobs": [
                {"job": url("get_object", _job_key(ref, n)),
                 "results": url("put_object", _results_key(ref, n))}
                for n in range(SLOTS)
            ],
            "idle_s": IDLE_S,
            "poll_s": POLL_S,
        }  # fmt: skip
        manifest_key = _key(ref, "manifest.json")
        self.s3.put_object(Bucket=target.bucket, Key=manifest_key,
                           Body=json.dumps(manifest).encode())  # fmt: skip
        ref.environment = [
            {"Name": SESSION_ID, "Value": ref.id},
            {"Name": SESSION_URL, "Value": url("get_object", manifest_key)},
        ]
        return ref

    def sandbox(self, ref: SessionRef, *, step: str = "", deadline: float | None = None) -> Sandbox:
        return _Remote(self, ref, step, deadline)

    def ready(self, ref: SessionRef) -> bool:
        """The task said it is up (its first act); one that never does is given up on."""
        if _exists(self.s3, self.target.bucket, _key(ref, "ready")):
            return True
        if self.now() - ref.opened_at > 2 * START_ALLOWANCE_S:
            raise SandboxUnavailable(
                f"the sandbox session's task did not start within {2 * START_ALLOWANCE_S} s"
            )
        return False

    def close(self, ref: SessionRef) -> None:
        self.s3.put_object(Bucket=self.target.bucket, Key=_key(ref, "stop"), Body=b"")
