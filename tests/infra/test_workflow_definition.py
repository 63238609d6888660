"""statemachines/analysis.asl.json: valid ASL for Step Functions, and runnable locally."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assay.analysis.pipeline import definition
from assay.analysis.steps import RUN_SESSION, session_lifetime
from assay.workflow import StateMachine

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "statemachines" / "analysis.asl.json"
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is not installed; run `make setup` (npm ci)")
    return subprocess.run(
        [str(VALIDATOR), "--json-path", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _tasks(machine: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, state in machine["States"].items():
        if state["Type"] == "Task":
            found.append((name, state))
        if state["Type"] == "Map":
            found += _tasks(state["ItemProcessor"])
        if state["Type"] == "Parallel":
            for branch in state["Branches"]:
                found += _tasks(branch)
    return found


def _lambdas(machine: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s in _tasks(machine) if s["Resource"].endswith("FunctionArn}")]


def test_asl_validator_accepts_the_definition() -> None:
    done = _validate(DEFINITION)
    assert done.returncode == 0, done.stdout + done.stderr


def test_asl_validator_rejects_a_broken_definition(tmp_path: Path) -> None:
    broken = json.loads(DEFINITION.read_text())
    broken["States"]["Intake"]["Nxt"] = broken["States"]["Intake"].pop("Next")
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    assert _validate(path).returncode != 0


def test_every_task_retries_catches_and_has_a_timeout() -> None:
    machine = json.loads(DEFINITION.read_text())
    tasks = _lambdas(machine)
    assert len(tasks) >= 12
    for name, state in tasks:
        assert state.get("Retry"), name
        # Closing a session is what a failure path does last: its own failure fails the phase.
        assert state.get("Catch") or state["Resource"] == "${CloseSessionFunctionArn}", name
        # Each Task is a Lambda: no longer than Lambda's 15 minutes, and no heartbeat (a
        # Lambda invocation sends none, so one would time every long step out).
        assert 0 < state.get("TimeoutSeconds", 0) <= 900, name
        assert "HeartbeatSeconds" not in state, name


def test_the_packaged_definition_is_the_repository_file() -> None:
    assert definition() == json.loads(DEFINITION.read_text())


def test_the_local_runner_loads_it_with_every_step_bound() -> None:
    steps = {name[2 : -len("FunctionArn}")] for _, s in _lambdas(definition())
             for name in [s["Resource"]]}  # fmt: skip
    assert steps == {"Intake", "Detect", "Install", "Baseline", "Plan", "Generate", "Execute",
                     "Repair", "Select", "Findings", "Mutation", "Report", "Seal",
                     "RecordFailure", "OpenSession", "CloseSession",
                     "SessionReady"}  # fmt: skip
    StateMachine(definition(), {name: lambda state: state for name in steps | {RUN_SESSION}})


JOB_STEPS = {
    f"${{{step}FunctionArn}}"
    for step in ("Install", "Baseline", "Generate", "Execute", "Repair", "Select", "Mutation")
}


def _phases(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in machine["States"].items():
        if state["Type"] == "Parallel":
            found[name] = state
        if state["Type"] == "Map":
            found.update(_phases(state["ItemProcessor"]))
    return found


def test_every_unit_of_work_that_runs_jobs_has_a_session_step_functions_waits_for() -> None:
    """The steps that run sandbox jobs sit in a Parallel beside their session's task, which
    Step Functions starts and waits for (no Lambda waits for it to start), bounded by the
    session's lifetime, not by a Lambda's 15 minutes; every way out of the steps' branch closes
    the session, and a failure comes out of the Parallel under its own name."""
    phases = _phases(definition())
    work = {name: set(p["Branches"][1]["States"]) for name, p in phases.items()}
    assert {"Install"} <= work["InstallPhase"] and {"Baseline"} <= work["BaselinePhase"]
    assert {"Generate", "Execute", "Repair"} <= work["ItemWork"]
    assert {"Select", "Findings", "Mutation"} <= work["FinishPhase"]
    for name, phase in phases.items():
        session, steps = phase["Branches"]
        (run,) = session["States"].values()
        assert run["Resource"] == RUN_SESSION, name
        assert run["TimeoutSecondsPath"] == "$.session.timeout_s", name
        assert "TimeoutSeconds" not in run and "HeartbeatSeconds" not in run, name
        assert phase["OutputPath"] == "$[1]" and phase["Catch"], name
        ends = [s for s in steps["States"].values() if s.get("End")]
        assert ends and all(s["Resource"] == "${CloseSessionFunctionArn}" for s in ends), name
        for state in steps["States"].values():
            for catcher in state.get("Catch", []):
                target = steps["States"][catcher["Next"]]
                if name != "ItemWork":  # an item's failures end the item, closing its session
                    assert target["Resource"] == "${CloseSessionFunctionArn}", name
                    rethrow = steps["States"][target["Next"]]
                    assert rethrow["Type"] == "Fail" and rethrow["ErrorPath"] == "$.error.Error"
        # No job goes to the task before it is up: Step Functions waits (a Wait loop).
        for state in steps["States"].values():
            if state.get("Resource") in {
                "${InstallFunctionArn}",
                "${BaselineFunctionArn}",
                "${SelectFunctionArn}",
                "${ExecuteFunctionArn}",
            }:
                entry = [n for n, s in steps["States"].items() if s.get("Type") == "Choice"
                         and any(r.get("Next") in steps["States"] and steps["States"][r["Next"]]
                                 is state for r in s["Choices"])]  # fmt: skip
                assert entry and entry[0].endswith("SessionReady"), name
        # A step whose job outlives its invocation answers `suspended`, and is called again.
        for state_name, state in steps["States"].items():
            if state.get("Resource") in JOB_STEPS:
                check = steps["States"][state["Next"]]
                (rule,) = check["Choices"]
                assert rule == {"Variable": state["ResultPath"] + ".suspended",
                                "IsPresent": True, "Next": f"{state_name}Pause"}  # fmt: skip
                assert steps["States"][rule["Next"]] == {"Type": "Wait", "Seconds": 30,
                                                         "Next": state_name}  # fmt: skip
    assert session_lifetime(4 * 3600) > 900  # a session outlives any Lambda
