"""An in-process interpreter for the Amazon States Language subset Assay's workflow uses.

It runs `statemachines/*.asl.json` locally with the same semantics Step Functions applies:
InputPath -> Parameters -> the task -> ResultSelector -> ResultPath -> OutputPath, Retry with
exponential backoff, Catch, Choice rules, Map over items with bounded concurrency, Pass,
Succeed and Fail. A definition using anything else (another state type, an unknown field or
comparison, an intrinsic function) is rejected when it is loaded, not half-run.

Task resources are `${NameFunctionArn}` placeholders (CDK substitutes real ARNs in AWS); here
each name maps to a Python callable taking the task's input and returning its result.
"""

from __future__ import annotations

import fnmatch
import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from assay.workflow import paths

Step = Callable[[Any], Any]

_COMMON = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath"}
_ALLOWED: dict[str, set[str]] = {
    "Task": _COMMON
    | {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch",
       "TimeoutSeconds", "HeartbeatSeconds"},
    "Pass": _COMMON | {"Result", "Parameters", "ResultPath"},
    "Choice": {"Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"},
    "Map": _COMMON
    | {"ItemsPath", "ItemSelector", "Parameters", "ItemProcessor", "Iterator", "MaxConcurrency",
       "ResultSelector", "ResultPath", "Retry", "Catch"},
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "Cause"},
}  # fmt: skip
_COMPARISONS = {
    "StringEquals", "StringLessThan", "StringGreaterThan", "StringMatches",
    "NumericEquals", "NumericLessThan", "NumericGreaterThan",
    "NumericLessThanEquals", "NumericGreaterThanEquals",
    "BooleanEquals", "IsPresent", "IsNull", "IsString", "IsNumeric", "IsBoolean",
}  # fmt: skip
_RETRIER_FIELDS = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                   "MaxDelaySeconds", "JitterStrategy"}  # fmt: skip
_CATCHER_FIELDS = {"ErrorEquals", "Next", "ResultPath"}


class AslError(ValueError):
    """The definition uses something this runner does not support, or is malformed."""


class StepError(Exception):
    """Raised by a step to fail with a named error (matched by Retry/Catch `ErrorEquals`)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


class ExecutionFailed(Exception):
    """The execution ended in a Fail state or with an uncaught error."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def _error_of(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, StepError | ExecutionFailed):
        return exc.error, exc.cause
    if isinstance(exc, paths.PathError):
        return "States.Runtime", str(exc)
    return type(exc).__name__, str(exc)


def _matches(patterns: list[str], error: str) -> bool:
    if error in patterns:
        return True
    if "States.ALL" in patterns:
        return True
    return "States.TaskFailed" in patterns and error != "States.Timeout"


def _ignore(kind: str, state: str, data: Any) -> None:
    """The default event listener."""


class StateMachine:
    def __init__(
        self,
        definition: Mapping[str, Any],
        resources: Mapping[str, Step],
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[str, str, Any], None] | None = None,
        on_transition: Callable[[str, Any], None] | None = None,
        should_stop: Callable[[], str | None] | None = None,
        max_workers: int | None = None,
    ) -> None:
        self._definition = definition
        self._resources = dict(resources)
        self._sleep = sleep
        self._on_event = on_event or _ignore
        # Called with (state name, its input) before each top-level state: a checkpoint from
        # which `run(..., start_at=name)` resumes, as a Step Functions redrive would.
        self._on_transition = on_transition
        # Asked before every state, at any depth: a reason stops the execution.
        self._should_stop = should_stop
        self._max_workers = max_workers
        _validate_machine(definition, self._resources, "")

    @classmethod
    def from_file(cls, path: Path, resources: Mapping[str, Step], **options: Any) -> StateMachine:
        return cls(json.loads(path.read_text()), resources, **options)

    def run(self, execution_input: Any, *, start_at: str | None = None) -> Any:
        """Run from StartAt, or from the top-level state `start_at` given its input."""
        if start_at is not None and start_at not in self._definition["States"]:
            raise AslError(f"cannot start at unknown state {start_at!r}")
        try:
            return self._run_machine(
                self._definition, execution_input, {"Execution": {}}, start_at=start_at, top=True
            )
        except paths.PathError as exc:  # Step Functions: States.Runtime, not catchable
            raise ExecutionFailed("States.Runtime", str(exc)) from None

    # ------------------------------------------------------------------ interpretation
    def _run_machine(
        self,
        machine: Mapping[str, Any],
        data: Any,
        context: dict[str, Any],
        *,
        start_at: str | None = None,
        top: bool = False,
    ) -> Any:
        name = start_at or machine["StartAt"]
        states = machine["States"]
        while True:
            state = states[name]
            if self._should_stop is not None and (reason := self._should_stop()):
                raise Stopped(reason)
            if top and self._on_transition is not None:
                self._on_transition(name, data)
            self._on_event("entered", name, data)
            kind = state["Type"]
            if kind == "Fail":
                self._on_event("failed", name, state.get("Error"))
                raise ExecutionFailed(state.get("Error", "States.Fail"), state.get("Cause", ""))
            if kind == "Succeed":
                return _output(state, _input(state, data))
            if kind == "Choice":
                chosen = _choose(state, _input(state, data))
                self._on_event("exited", name, chosen)
                name = chosen
                data = _output(state, _input(state, data))
                continue
            try:
                data = self._run_state(state, data, context)
            except _Caught as caught:
                self._on_event("caught", name, caught.error_output)
                name, data = caught.next_state, caught.data
                continue
            self._on_event("exited", name, data)
            if state.get("End"):
                return data
            name = state["Next"]

    def _run_state(self, state: Mapping[str, Any], data: Any, context: dict[str, Any]) -> Any:
        effective = _input(state, data)
        if state["Type"] == "Pass":
            result = (
                paths.render(state["Parameters"], effective, context)
                if "Parameters" in state
                else state.get("Result", effective)
            )
            return _output(state, _result(state, data, result))
        if "Parameters" in state and state["Type"] == "Task":
            effective = paths.render(state["Parameters"], effective, context)
        attempts: dict[int, int] = {}
        while True:
            try:
                if state["Type"] == "Task":
                    result = self._invoke(state, effective)
                else:
                    result = self._map(state, effective, context)
                if "ResultSelector" in state:
                    result = paths.render(state["ResultSelector"], result, context)
                return _output(state, _result(state, data, result))
            except (_Caught, Stopped):
                raise
            except Exception as exc:  # every step error goes through Retry/Catch
                error, cause = _error_of(exc)
                delay = self._retry_delay(state, error, attempts)
                if delay is not None:
                    self._on_event("retry", error, {"cause": cause, "delay_s": delay})
                    self._sleep(delay)
                    continue
                raise self._catch(state, data, error, cause) from None

    def _invoke(self, state: Mapping[str, Any], payload: Any) -> Any:
        step = self._resources[_resource_name(state["Resource"])]
        timeout = state.get("TimeoutSeconds")
        if timeout is None:
            return step(payload)
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["result"] = step(payload)
            except BaseException as exc:  # re-raised in the caller's thread
                box["error"] = exc

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            raise StepError("States.Timeout", f"the task ran longer than {timeout} s")
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _map(self, state: Mapping[str, Any], data: Any, context: dict[str, Any]) -> list[Any]:
        items = paths.get(data, state.get("ItemsPath", "$"))
        if not isinstance(items, list):
            raise StepError("States.Runtime", "ItemsPath must select an array")
        processor = state.get("ItemProcessor") or state["Iterator"]
        selector = state.get("ItemSelector") or state.get("Parameters")

        def one(index: int) -> Any:
            item_context = {**context, "Map": {"Item": {"Index": index, "Value": items[index]}}}
            item = paths.render(selector, data, item_context) if selector else items[index]
            return self._run_machine(processor, item, item_context)

        limit = state.get("MaxConcurrency", 0) or len(items) or 1
        workers = max(1, min(limit, self._max_workers or limit))
        if workers == 1:
            return [one(i) for i in range(len(items))]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, range(len(items))))

    def _retry_delay(
        self, state: Mapping[str, Any], error: str, attempts: dict[int, int]
    ) -> float | None:
        for index, retrier in enumerate(state.get("Retry", [])):
            if not _matches(retrier["ErrorEquals"], error):
                continue
            used = attempts.get(index, 0)
            if used >= retrier.get("MaxAttempts", 3):
                return None
            attempts[index] = used + 1
            delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** used
            if "MaxDelaySeconds" in retrier:
                delay = min(delay, retrier["MaxDelaySeconds"])
            if retrier.get("JitterStrategy") == "FULL":
                delay = random.uniform(0, delay)  # noqa: S311 - jitter, not security
            return float(delay)
        return None

    @staticmethod
    def _catch(state: Mapping[str, Any], data: Any, error: str, cause: str) -> Exception:
        output = {"Error": error, "Cause": cause}
        for catcher in state.get("Catch", []):
            if _matches(catcher["ErrorEquals"], error):
                merged = paths.put(data, catcher.get("ResultPath", "$"), output)
                return _Caught(catcher["Next"], merged, output)
        return ExecutionFailed(error, cause)


class Stopped(Exception):
    """The execution was stopped from outside (`should_stop`) between two states. Like
    Step Functions' StopExecution it is not an error a Catch can handle."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Caught(Exception):
    def __init__(self, next_state: str, data: Any, error_output: dict[str, str]) -> None:
        super().__init__(next_state)
        self.next_state, self.data, self.error_output = next_state, data, error_output


def _input(state: Mapping[str, Any], data: Any) -> Any:
    if "InputPath" not in state:
        return data
    return {} if state["InputPath"] is None else paths.get(data, state["InputPath"])


def _result(state: Mapping[str, Any], data: Any, result: Any) -> Any:
    if "ResultPath" not in state:
        return result
    if state["ResultPath"] is None:
        return data
    return paths.put(data, state["ResultPath"], result)


def _output(state: Mapping[str, Any], data: Any) -> Any:
    if "OutputPath" not in state:
        return data
    return {} if state["OutputPath"] is None else paths.get(data, state["OutputPath"])


def _resource_name(resource: str) -> str:
    if resource.startswith("${") and resource.endswith("FunctionArn}"):
        return resource[2 : -len("FunctionArn}")]
    raise AslError(f"unsupported Resource {resource!r}: use a ${{NameFunctionArn}} placeholder")


# ---------------------------------------------------------------------- Choice rules
def _choose(state: Mapping[str, Any], data: Any) -> str:
    for rule in state["Choices"]:
        if _rule_holds(rule, data):
            return str(rule["Next"])
    if "Default" in state:
        return str(state["Default"])
    raise ExecutionFailed("States.NoChoiceMatched", "no Choice rule matched and no Default")


def _rule_holds(rule: Mapping[str, Any], data: Any) -> bool:
    if "And" in rule:
        return all(_rule_holds(r, data) for r in rule["And"])
    if "Or" in rule:
        return any(_rule_holds(r, data) for r in rule["Or"])
    if "Not" in rule:
        return not _rule_holds(rule["Not"], data)
    return _compare(rule, data)


def _glob(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric(test: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, expected: _is_number(value) and test(value, expected)


def _string(test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, expected: isinstance(value, str) and test(value, expected)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "IsNull": lambda value, expected: (value is None) is expected,
    "IsString": lambda value, expected: isinstance(value, str) is expected,
    "IsBoolean": lambda value, expected: isinstance(value, bool) is expected,
    "IsNumeric": lambda value, expected: _is_number(value) is expected,
    "BooleanEquals": lambda value, expected: isinstance(value, bool) and value is expected,
    "StringEquals": _string(lambda a, b: a == b),
    "StringLessThan": _string(lambda a, b: a < b),
    "StringGreaterThan": _string(lambda a, b: a > b),
    "StringMatches": _string(_glob),
    "NumericEquals": _numeric(lambda a, b: a == b),
    "NumericLessThan": _numeric(lambda a, b: a < b),
    "NumericGreaterThan": _numeric(lambda a, b: a > b),
    "NumericLessThanEquals": _numeric(lambda a, b: a <= b),
    "NumericGreaterThanEquals": _numeric(lambda a, b: a >= b),
}


def _compare(rule: Mapping[str, Any], data: Any) -> bool:
    (operator,) = [k for k in rule if k in _COMPARISONS]
    expected = rule[operator]
    try:
        value = paths.get(data, rule["Variable"])
    except paths.PathError:
        return operator == "IsPresent" and expected is False
    if operator == "IsPresent":
        return expected is True
    return _OPERATORS[operator](value, expected)


# ---------------------------------------------------------------------- validation
def _validate_machine(
    machine: Mapping[str, Any], resources: Mapping[str, Step], where: str
) -> None:
    states = machine.get("States")
    if not isinstance(states, dict) or machine.get("StartAt") not in states:
        raise AslError(f"{where or 'the machine'}: StartAt must name one of its States")
    unknown = set(machine) - {"Comment", "StartAt", "States", "TimeoutSeconds", "Version",
                              "ProcessorConfig", "QueryLanguage"}  # fmt: skip
    if unknown:
        raise AslError(f"{where or 'the machine'}: unsupported fields {sorted(unknown)}")
    if machine.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise AslError("only the JSONPath query language is supported")
    for name, state in states.items():
        _validate_state(f"{where}{name}", state, states, resources)


def _validate_state(
    name: str, state: Mapping[str, Any], states: Mapping[str, Any], resources: Mapping[str, Step]
) -> None:
    kind = state.get("Type")
    if kind not in _ALLOWED:
        raise AslError(f"state {name}: unsupported type {kind!r}")
    extra = set(state) - _ALLOWED[kind]
    if extra:
        raise AslError(f"state {name}: unsupported fields {sorted(extra)} for a {kind} state")
    _validate_transitions(name, state, states)
    _validate_error_handling(name, state)
    try:
        for field in ("InputPath", "OutputPath", "ResultPath", "ItemsPath"):
            if state.get(field) is not None:
                paths.parse(state[field])
        for field in ("Parameters", "ItemSelector", "ResultSelector"):
            _validate_template(state.get(field))
    except paths.PathError as exc:
        raise AslError(f"state {name}: {exc}") from None
    if kind == "Task":
        step = _resource_name(state["Resource"])
        if step not in resources:
            raise AslError(f"state {name}: no step is registered for {step!r}")
    elif kind == "Choice":
        for rule in state.get("Choices", []):
            _validate_rule(name, rule, top=True)
    elif kind == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if not isinstance(processor, dict):
            raise AslError(f"state {name}: a Map needs an ItemProcessor")
        _validate_machine(processor, resources, f"{name}/")


def _validate_template(template: Any) -> None:
    """Every `key.$` value must be a plain path: intrinsic functions are not supported."""
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or value.startswith("States."):
                    raise paths.PathError(f"intrinsic functions are not supported: {value}")
                paths.parse(value[1:] if value.startswith("$$") else value)
            else:
                _validate_template(value)
    elif isinstance(template, list):
        for item in template:
            _validate_template(item)


def _validate_transitions(name: str, state: Mapping[str, Any], states: Mapping[str, Any]) -> None:
    if state["Type"] not in {"Choice", "Succeed", "Fail"} and (
        ("Next" in state) == bool(state.get("End"))
    ):
        raise AslError(f"state {name}: needs exactly one of Next or End")
    targets = [state.get("Next"), state.get("Default")]
    targets += [c.get("Next") for c in state.get("Catch", [])]
    targets += [r.get("Next") for r in state.get("Choices", [])]
    for target in filter(None, targets):
        if target not in states:
            raise AslError(f"state {name}: transition to unknown state {target!r}")


def _validate_error_handling(name: str, state: Mapping[str, Any]) -> None:
    for retrier in state.get("Retry", []):
        if set(retrier) - _RETRIER_FIELDS or "ErrorEquals" not in retrier:
            raise AslError(f"state {name}: malformed Retry {retrier}")
    for catcher in state.get("Catch", []):
        if set(catcher) - _CATCHER_FIELDS or "ErrorEquals" not in catcher:
            raise AslError(f"state {name}: malformed Catch {catcher}")


def _validate_rule(name: str, rule: Mapping[str, Any], *, top: bool) -> None:
    for combinator in ("And", "Or"):
        if combinator in rule:
            for inner in rule[combinator]:
                _validate_rule(name, inner, top=False)
            return
    if "Not" in rule:
        _validate_rule(name, rule["Not"], top=False)
        return
    operators = [k for k in rule if k not in {"Variable", "Next"}]
    if len(operators) != 1 or operators[0] not in _COMPARISONS or "Variable" not in rule:
        raise AslError(f"state {name}: unsupported Choice rule {dict(rule)}")
    if operators[0].endswith("Path"):
        raise AslError(f"state {name}: path comparisons are not supported")
    if top and "Next" not in rule:
        raise AslError(f"state {name}: a top-level Choice rule needs Next")
