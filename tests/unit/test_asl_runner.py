"""The in-process ASL runner follows Step Functions' semantics for the features it supports,
and rejects the rest when a definition is loaded."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from assay.workflow import ExecutionFailed, StateMachine, StepError, Stopped
from assay.workflow.asl import AslError


def machine(states: dict[str, Any], start: str = "A") -> dict[str, Any]:
    return {"StartAt": start, "States": states}


def task(step: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"${{{step}FunctionArn}}", **fields}


class Flaky:
    """Fails `failures` times with `error`, then returns its input doubled."""

    def __init__(self, failures: int, error: str = "Transient") -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, payload: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise StepError(self.error, f"attempt {self.calls}")
        return {"doubled": payload["n"] * 2}


def test_retry_backs_off_exponentially_then_succeeds() -> None:
    flaky = Flaky(3)
    slept: list[float] = []
    definition = machine(
        {
            "A": task(
                "Flaky",
                End=True,
                Retry=[
                    {
                        "ErrorEquals": ["Transient"],
                        "IntervalSeconds": 2,
                        "BackoffRate": 3,
                        "MaxAttempts": 5,
                    }
                ],
            )
        }
    )
    out = StateMachine(definition, {"Flaky": flaky}, sleep=slept.append).run({"n": 4})
    assert out == {"doubled": 8}
    assert slept == [2, 6, 18]
    assert flaky.calls == 4


def test_max_delay_caps_the_backoff() -> None:
    slept: list[float] = []
    definition = machine({"A": task("Flaky", End=True, Retry=[
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "BackoffRate": 10,
         "MaxAttempts": 3, "MaxDelaySeconds": 5}
    ])})  # fmt: skip
    StateMachine(definition, {"Flaky": Flaky(3)}, sleep=slept.append).run({"n": 1})
    assert slept == [1, 5, 5]


def test_exhausted_retries_fall_through_to_catch_with_result_path() -> None:
    definition = machine(
        {
            "A": task(
                "Flaky",
                Next="Done",
                Retry=[{"ErrorEquals": ["Transient"], "MaxAttempts": 2, "IntervalSeconds": 0}],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handle"}],
            ),
            "Handle": {"Type": "Pass", "End": True},
            "Done": {"Type": "Succeed"},
        }
    )
    flaky = Flaky(10)
    out = StateMachine(definition, {"Flaky": flaky}, sleep=lambda _: None).run({"n": 1})
    assert flaky.calls == 3
    assert out == {"n": 1, "error": {"Error": "Transient", "Cause": "attempt 3"}}


def test_retriers_match_in_order_and_task_failed_excludes_timeouts() -> None:
    definition = machine({"A": task("Flaky", End=True, Retry=[
        {"ErrorEquals": ["Other"], "MaxAttempts": 5},
        {"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1, "IntervalSeconds": 0},
    ])})  # fmt: skip
    with pytest.raises(ExecutionFailed) as failed:
        StateMachine(definition, {"Flaky": Flaky(2)}, sleep=lambda _: None).run({"n": 1})
    assert failed.value.error == "Transient"


def test_an_uncaught_python_exception_fails_the_execution_with_its_type() -> None:
    def broken(_: Any) -> Any:
        raise KeyError("missing")

    with pytest.raises(ExecutionFailed) as failed:
        StateMachine(machine({"A": task("Broken", End=True)}), {"Broken": broken}).run({})
    assert failed.value.error == "KeyError"


def test_path_fields_apply_in_step_functions_order() -> None:
    seen: list[Any] = []

    def step(payload: Any) -> Any:
        seen.append(payload)
        return {"value": payload["x"] + 1, "noise": True}

    definition = machine(
        {
            "A": task(
                "Step",
                InputPath="$.job",
                Parameters={"x.$": "$.n", "fixed": "k", "name.$": "$$.Execution.Name"},
                ResultSelector={"v.$": "$.value"},
                ResultPath="$.result",
                OutputPath="$.result",
                End=True,
            )
        }
    )
    runner = StateMachine(definition, {"Step": step})
    runner_input = {"job": {"n": 41}, "other": 1}
    with pytest.raises(ExecutionFailed):  # $$.Execution.Name is absent from the context
        runner.run(runner_input)
    definition["States"]["A"]["Parameters"] = {"x.$": "$.n", "fixed": "k"}
    out = StateMachine(definition, {"Step": step}).run(runner_input)
    assert seen[-1] == {"x": 41, "fixed": "k"}
    assert out == {"v": 42}


def test_result_path_null_keeps_the_input_and_dollar_replaces_it() -> None:
    definition = machine(
        {
            "A": task("Step", ResultPath=None, Next="B"),
            "B": task("Step", ResultPath="$", End=True),
        }
    )
    out = StateMachine(definition, {"Step": lambda p: {"replaced": p}}).run({"keep": 1})
    assert out == {"replaced": {"keep": 1}}


def test_choice_rules_route_by_value() -> None:
    definition = machine(
        {
            "A": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.count", "NumericGreaterThan": 10, "Next": "Many"},
                    {
                        "And": [
                            {"Variable": "$.count", "NumericGreaterThan": 0},
                            {"Variable": "$.lang", "StringEquals": "python"},
                        ],
                        "Next": "Some",
                    },
                    {"Variable": "$.flag", "IsPresent": True, "Next": "Flagged"},
                ],
                "Default": "None",
            },
            "Many": {"Type": "Pass", "Result": "many", "End": True},
            "Some": {"Type": "Pass", "Result": "some", "End": True},
            "Flagged": {"Type": "Pass", "Result": "flagged", "End": True},
            "None": {"Type": "Pass", "Result": "none", "End": True},
        }
    )
    run = StateMachine(definition, {}).run
    assert run({"count": 11}) == "many"
    assert run({"count": 3, "lang": "python"}) == "some"
    assert run({"count": 3, "lang": "go"}) == "none"
    assert run({"count": 0, "flag": False}) == "flagged"
    assert run({"count": "11"}) == "none"  # a string is not a number


def test_map_runs_items_concurrently_with_the_context_object() -> None:
    active, peak, lock = [0], [0], threading.Lock()

    def work(payload: Any) -> Any:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return payload["index"] * 10 + payload["item"]

    definition = machine(
        {
            "A": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 3,
                "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
                "ItemProcessor": machine({"W": task("Work", End=True)}, start="W"),
                "ResultPath": "$.results",
                "End": True,
            }
        }
    )
    out = StateMachine(definition, {"Work": work}).run({"items": [1, 2, 3, 4, 5, 6]})
    assert out["results"] == [1, 12, 23, 34, 45, 56]
    assert peak[0] == 3


def test_fail_states_end_the_execution_with_their_error() -> None:
    definition = machine({"A": {"Type": "Fail", "Error": "Analysis.Failed", "Cause": "no tests"}})
    with pytest.raises(ExecutionFailed, match=r"Analysis\.Failed: no tests"):
        StateMachine(definition, {}).run({})


def test_task_timeouts_raise_states_timeout_which_catch_can_handle() -> None:
    definition = machine(
        {
            "A": task(
                "Slow",
                TimeoutSeconds=0.2,
                Catch=[{"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}],
                End=True,
            ),
            "TimedOut": {"Type": "Pass", "Result": "timed out", "End": True},
        }
    )
    started = time.monotonic()
    out = StateMachine(definition, {"Slow": lambda _: time.sleep(5)}).run({})
    assert out == "timed out"
    assert time.monotonic() - started < 2


def test_events_report_entered_and_exited_states() -> None:
    events: list[tuple[str, str]] = []
    definition = machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}})
    StateMachine(definition, {}, on_event=lambda k, s, _: events.append((k, s))).run({})
    assert events == [("entered", "A"), ("exited", "A"), ("entered", "B")]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (machine({"A": {"Type": "Wait", "Timestamp": "2026-01-01T00:00:00Z", "End": True}}),
         "unsupported fields"),
        (machine({"A": {"Type": "Pass", "End": True, "Bogus": 1}}), "unsupported fields"),
        (machine({"A": {"Type": "Pass", "Next": "Nowhere"}}), "unknown state"),
        (machine({"A": {"Type": "Pass"}}), "exactly one of Next or End"),
        (machine({"A": task("Unregistered", End=True)}), "no step is registered"),
        (machine({"A": {"Type": "Task", "Resource": "arn:aws:lambda:x", "End": True}}),
         "unsupported Resource"),
        (machine({"A": {"Type": "Pass", "InputPath": "$..deep", "End": True}}), "unsupported path"),
        (machine({"A": {"Type": "Choice", "Choices": [
            {"Variable": "$.a", "StringEqualsPath": "$.b", "Next": "A"}]}}),
         "unsupported Choice rule"),
        ({"StartAt": "X", "States": {}}, "StartAt"),
    ],
)  # fmt: skip
def test_unsupported_definitions_are_rejected_at_load(
    definition: dict[str, Any], message: str
) -> None:
    with pytest.raises((AslError, ValueError), match=message):
        StateMachine(definition, {})


def test_intrinsic_functions_are_rejected() -> None:
    definition = machine(
        {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Format('{}', $.a)"}, "End": True}}
    )
    with pytest.raises(AslError, match="intrinsic"):
        StateMachine(definition, {})


def _counting_chain() -> tuple[dict[str, Any], dict[str, Any]]:
    calls: dict[str, int] = {"A": 0, "B": 0, "C": 0}

    def step(name: str) -> Any:
        def run(payload: dict[str, Any]) -> dict[str, Any]:
            calls[name] += 1
            return {"trail": [*payload.get("trail", []), name]}

        return run

    definition = machine(
        {"A": task("A", Next="B"), "B": task("B", Next="C"), "C": task("C", End=True)}
    )
    return definition, {"A": step("A"), "B": step("B"), "C": step("C"), "calls": calls}


def test_checkpoints_name_each_top_level_state_and_a_run_resumes_from_one() -> None:
    definition, steps = _counting_chain()
    calls = steps.pop("calls")
    seen: list[tuple[str, Any]] = []
    machine_ = StateMachine(definition, steps, on_transition=lambda n, d: seen.append((n, d)))
    assert machine_.run({}) == {"trail": ["A", "B", "C"]}
    assert seen == [("A", {}), ("B", {"trail": ["A"]}), ("C", {"trail": ["A", "B"]})]
    # Resuming at C with the input checkpointed for it runs C alone.
    resumed = StateMachine(definition, steps).run(seen[2][1], start_at="C")
    assert resumed == {"trail": ["A", "B", "C"]}
    assert calls == {"A": 1, "B": 1, "C": 2}
    with pytest.raises(AslError, match="unknown state"):
        machine_.run({}, start_at="Nope")


def test_a_stop_request_halts_between_states_and_no_catch_swallows_it() -> None:
    definition, steps = _counting_chain()
    calls = steps.pop("calls")
    definition["States"]["B"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "C"}]
    stop: list[str] = []

    def a_then_stop(payload: Any) -> Any:
        stop.append("cancelled by a user")
        return {"trail": ["A"]}

    steps["A"] = a_then_stop
    with pytest.raises(Stopped, match="cancelled by a user"):
        StateMachine(definition, steps, should_stop=lambda: stop[0] if stop else None).run({})
    assert calls == {"A": 0, "B": 0, "C": 0}


def test_a_stop_request_reaches_into_map_iterations() -> None:
    done: list[int] = []
    stop: list[str] = []

    def work(payload: Any) -> Any:
        done.append(payload)
        if len(done) == 2:
            stop.append("stop")
        return payload

    definition = machine(
        {
            "A": {
                "Type": "Map",
                "End": True,
                "MaxConcurrency": 1,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}],
                "ItemProcessor": machine({"W": task("W", End=True)}, "W"),
            },
            "B": {"Type": "Succeed"},
        }
    )
    with pytest.raises(Stopped):
        StateMachine(definition, {"W": work}, should_stop=lambda: stop[0] if stop else None).run(
            [1, 2, 3, 4]
        )
    assert done == [1, 2]


def test_a_wait_state_sleeps_its_seconds_then_goes_on() -> None:
    slept: list[float] = []
    definition = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "P"},
        "P": {"Type": "Pass", "Result": "done", "ResultPath": "$.after", "End": True},
    }}  # fmt: skip
    result = StateMachine(definition, {}, sleep=slept.append).run({"delay": 7})
    assert (slept, result) == ([7.0], {"delay": 7, "after": "done"})
