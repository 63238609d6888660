"""The local runner runs the workflow's session states: a RunSession task (`ecs:runTask.sync`)
beside the steps in a Parallel, served in process until the steps close it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assay.analysis.pipeline import definition
from assay.analysis.steps import RUN_SESSION, close_session, open_session
from assay.sandbox import Job, Limits, Outcome, Sandbox
from assay.sandbox.port import Ending, SandboxUnavailable
from assay.sandbox.sessions import LocalSessions, SessionRef
from assay.workflow import StateMachine, StepError


class Recorder(Sandbox):
    """Runs nothing: says which job came, on which thread, in order."""

    isolation = "none (a recorder)"

    def __init__(self) -> None:
        self.jobs: list[list[str]] = []

    def run(self, job: Job) -> Outcome:
        self.jobs.append(job.argv)
        code = int(job.argv[-1])
        return Outcome(ending=Ending.EXITED, exit_code=code, reason="", stdout="", stderr="",
                       duration_s=0.0)  # fmt: skip


def _machine(sessions: LocalSessions, work: Any) -> StateMachine:
    """Open, then the definition's own FinishPhase around one `Work` step."""
    phase = definition()["States"]["FinishPhase"]
    steps = phase["Branches"][1]["States"]
    steps = {
        "Work": {**steps["Select"], "Resource": "${WorkFunctionArn}", "Next": "FinishClosed"},
        **{name: steps[name] for name in ("FinishClosed", "FinishFailed", "FinishRethrow")},
    }
    machine = {
        "StartAt": "Open",
        "States": {
            "Open": {"Type": "Task", "Resource": "${OpenSessionFunctionArn}",
                     "Parameters": {"purpose": "tests"}, "ResultPath": "$.session",
                     "Next": "FinishPhase"},
            "FinishPhase": {
                **phase, "Next": "Done",
                "Branches": [phase["Branches"][0], {"StartAt": "Work", "States": steps}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": "Caught"}],
            },
            "Caught": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        },
    }  # fmt: skip
    resources = {
        "OpenSession": lambda state: open_session(sessions, state, scope="", image="python",
                                                  budget_s=60),
        "CloseSession": lambda state: close_session(sessions, state),
        "Work": work,
        RUN_SESSION: sessions.serve,
    }  # fmt: skip
    return StateMachine(machine, resources, sleep=lambda _: None)


def _run(sessions: LocalSessions, state: dict[str, Any], *codes: int) -> list[int | None]:
    sandbox = sessions.sandbox(SessionRef.model_validate(state["session"]))
    job = Job(argv=["job", "0"], workdir=Path("/nowhere"), limits=Limits(wall_s=5))
    return [sandbox.run(job.model_copy(update={"argv": ["job", str(c)]})).exit_code
            for c in codes]  # fmt: skip


def test_the_steps_jobs_go_to_their_session_and_closing_it_ends_the_phase() -> None:
    recorder = Recorder()
    sessions = LocalSessions(recorder, idle_s=30)
    machine = _machine(sessions, lambda state: {"codes": _run(sessions, state, 0, 3, 0)})
    result = machine.run({"tenant_id": "t", "analysis_id": "a"})
    assert result["select"] == {"codes": [0, 3, 0]}
    assert recorder.jobs == [["job", "0"], ["job", "3"], ["job", "0"]]
    # Closed: no job goes to it any more.
    with pytest.raises(SandboxUnavailable, match="not open"):
        _run(sessions, result, 0)


def test_a_failing_step_closes_its_session_and_fails_the_phase_under_its_own_name() -> None:
    recorder = Recorder()
    sessions = LocalSessions(recorder, idle_s=30)  # an unclosed session would hold 30 s

    def work(state: dict[str, Any]) -> Any:
        _run(sessions, state, 0)
        raise StepError("AnalysisFailed", "the suite would not run")

    result = _machine(sessions, work).run({"tenant_id": "t", "analysis_id": "a"})
    assert result["error"] == {"Error": "AnalysisFailed", "Cause": "the suite would not run"}
    assert recorder.jobs == [["job", "0"]]
