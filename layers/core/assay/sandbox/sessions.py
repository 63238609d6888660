"""Sandbox sessions: one sandbox (in AWS, one Fargate task) serving a whole unit of work's jobs.

A job-per-task sandbox pays a task start (tens of seconds) for every test run; a candidate's
build, first run and reruns would pay it four times. A session is opened for a unit of work
(the install, the baseline, one Map item of candidates, the post-Map steps), started by the
workflow itself (`ecs:runTask.sync` in `statemachines/analysis.asl.json`, so Step Functions,
not a Lambda, waits for the task), handed jobs one after another by the steps, and closed.

- `FargateSessions` (sandbox/fargate.py): the task runs `assay_runner.py --session` with one
  presigned URL, a manifest of presigned job GETs and results PUTs (no role, no task
  token). A step writes job N to S3 and reads results N back; the task sees nothing else.
- `LocalSessions`: the same protocol in process: the runner's `ecs:runTask.sync` resource
  serves the session's queue through the local sandbox until the session is closed.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from abc import ABC, abstractmethod
from concurrent.futures import Future
from typing import Any

from pydantic import BaseModel, Field

from assay.errors import AssayError
from assay.sandbox.images import task_family
from assay.sandbox.port import Job, Outcome, Sandbox, SandboxUnavailable

START_ALLOWANCE_S = 300  # pulling the image and starting the task, on top of a job's time
SLOTS = 256  # jobs one session can take (a Map item's candidates, reruns and repairs)
IDLE_S = 300  # a task with no job for this long ends itself (a lost session costs little)
POLL_S = 0.5  # how often the task looks for its next job
SESSION_ID = "ASSAY_SESSION_ID"
SESSION_URL = "ASSAY_SESSION_URL"


class Suspended(AssayError):
    """A step's job outlives the step's invocation: the workflow waits and calls the step
    again, which finds the job's results (see FargateSessions)."""

    status = 503
    code = "suspended"


class SessionRef(BaseModel):
    """An open session, as the workflow state carries it: the `RunSession` state reads its
    task definition, network and environment; the steps read its id and prefix."""

    id: str
    image: str
    network: bool = False  # installs: the package repository is reachable
    prefix: str = ""  # where its jobs and results live (AWS)
    opened_at: float = 0.0  # epoch seconds
    task_definition: str
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    environment: list[dict[str, str]] = Field(default_factory=list)
    timeout_s: int  # the task's lifetime at most (Step Functions stops it after that)


class Sessions(ABC):
    @abstractmethod
    def open(self, scope: str, *, image: str, network: bool, lifetime_s: int) -> SessionRef: ...

    @abstractmethod
    def sandbox(self, ref: SessionRef, *, step: str = "", deadline: float | None = None) -> Sandbox:
        """The sandbox whose jobs go to this session's task, for the step named `step`; with
        a `deadline` (a monotonic time) a job still running then raises `Suspended`."""

    def ready(self, ref: SessionRef) -> bool:
        """Whether the session's task is up (the workflow waits for it before a step hands it
        a job, so no Lambda waits for a task to start)."""
        return True

    @abstractmethod
    def close(self, ref: SessionRef) -> None:
        """No more jobs: the task ends (its `RunSession` state succeeds)."""

    def serve(self, parameters: dict[str, Any]) -> dict[str, Any]:
        """What `ecs:runTask.sync` does for this session (locally; in AWS, ECS does it)."""
        raise AssayError("this session's task is started by Step Functions, not in process")


def _env(ref_env: list[dict[str, str]], name: str) -> str | None:
    return next((e.get("Value") for e in ref_env if e.get("Name") == name), None)


def session_of(parameters: dict[str, Any]) -> str:
    """The session id in a rendered RunSession state's parameters (its container overrides)."""
    overrides = parameters.get("Overrides", {}).get("ContainerOverrides", [{}])
    found = _env(overrides[0].get("Environment", []) if overrides else [], SESSION_ID)
    if not found:
        raise AssayError("the RunSession state names no session")
    return found


# ------------------------------------------------------------------------------------ local
class _Queued(Sandbox):
    def __init__(self, sessions: LocalSessions, ref: SessionRef, inner: Sandbox) -> None:
        self.isolation = inner.isolation
        self._sessions = sessions
        self._ref = ref

    def run(self, job: Job) -> Outcome:
        done: Future[Outcome] = Future()
        self._sessions.submit(self._ref.id, (job, done))
        return done.result(timeout=job.limits.wall_s + START_ALLOWANCE_S)


class LocalSessions(Sessions):
    """Sessions served in process by the local sandbox (the ASL runner's `RunSession`)."""

    def __init__(self, sandbox: Sandbox, *, idle_s: float = IDLE_S) -> None:
        self._sandbox = sandbox
        self._idle_s = idle_s
        self._queues: dict[str, queue.Queue[tuple[Job, Future[Outcome]] | None]] = {}
        self._lock = threading.Lock()

    def open(self, scope: str, *, image: str, network: bool, lifetime_s: int) -> SessionRef:
        ref = SessionRef(
            id=uuid.uuid4().hex, image=image, network=network, opened_at=time.time(),
            task_definition=task_family(image), timeout_s=lifetime_s,
        )  # fmt: skip
        ref.environment.append({"Name": SESSION_ID, "Value": ref.id})
        with self._lock:
            self._queues[ref.id] = queue.Queue()
        return ref

    def _queue(self, session: str) -> queue.Queue[tuple[Job, Future[Outcome]] | None]:
        with self._lock:
            found = self._queues.get(session)
        if found is None:
            raise SandboxUnavailable(f"sandbox session {session} is not open")
        return found

    def submit(self, session: str, item: tuple[Job, Future[Outcome]]) -> None:
        self._queue(session).put(item)

    def sandbox(self, ref: SessionRef, *, step: str = "", deadline: float | None = None) -> Sandbox:
        return _Queued(self, ref, self._sandbox)  # in process: a job never outlives its step

    def close(self, ref: SessionRef) -> None:
        with self._lock:
            found = self._queues.get(ref.id)
        if found is not None:
            found.put(None)

    def serve(self, parameters: dict[str, Any]) -> dict[str, Any]:
        session = session_of(parameters)
        jobs = self._queue(session)
        served = 0
        try:
            while True:
                try:
                    item = jobs.get(timeout=self._idle_s)
                except queue.Empty:
                    break
                if item is None:
                    break
                job, done = item
                try:
                    done.set_result(self._sandbox.run(job))
                except BaseException as exc:  # the step waiting for it raises it
                    done.set_exception(exc)
                served += 1
        finally:
            with self._lock:
                self._queues.pop(session, None)
        return {"StopCode": "EssentialContainerExited", "StoppedReason": f"{served} jobs run"}
