"""statemachines/analysis.asl.json: valid ASL for Step Functions, and runnable locally."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assay.analysis.pipeline import definition
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
    return found


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
    tasks = _tasks(machine)
    assert len(tasks) >= 12
    for name, state in tasks:
        assert state.get("Retry"), name
        assert state.get("Catch"), name
        # Each Task is a Lambda: no longer than Lambda's 15 minutes, and no heartbeat (a
        # Lambda invocation sends none, so one would time every long step out).
        assert 0 < state.get("TimeoutSeconds", 0) <= 900, name
        assert "HeartbeatSeconds" not in state, name


def test_the_packaged_definition_is_the_repository_file() -> None:
    assert definition() == json.loads(DEFINITION.read_text())


def test_the_local_runner_loads_it_with_every_step_bound() -> None:
    steps = {name[2 : -len("FunctionArn}")] for _, s in _tasks(definition())
             for name in [s["Resource"]]}  # fmt: skip
    assert steps == {"Intake", "Detect", "Install", "Baseline", "Plan", "Generate", "Execute",
                     "Repair", "Select", "Findings", "Mutation", "Report", "Seal",
                     "RecordFailure"}  # fmt: skip
    StateMachine(definition(), {name: lambda state: state for name in steps})
