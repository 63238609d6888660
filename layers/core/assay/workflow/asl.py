"""An in-process interpreter for the Amazon States Language subset Assay's workflow uses.

It runs `statemachines/*.asl.json` locally with the same semantics Step Functions applies:
InputPath -> Parameters -> the task -> ResultSelector -> ResultPath -> OutputPath, Retry with
exponential backoff, Catch, Choice rules, Map over items with bounded concurrency, Parallel
branches, Wait, Pass, Succeed and Fail. A definition using anything else (another state type,
an unknown field or comparison, an intrinsic function) is rejected when it is loaded, not
half-run.

Task resources are `${NameFunctionArn}` placeholders (CDK substitutes real ARNs in AWS); here
each name maps to a Python callable taking the task's input and returning its result.

A Map whose ItemProcessor says `ProcessorConfig: {Mode: DISTRIBUTED}` runs as a Distributed
Map: items read from an object (ItemReader, JSONL/JSON/CSV), batched (ItemBatcher: each child
gets `{"Items": [...], "BatchInput": {...}}`), each batch a child execution, failures tolerated
up to a threshold, and the results written as AWS writes them (ResultWriter: manifest.json and
SUCCEEDED_n/FAILED_n/PENDING_n.json under `<Prefix>/<map run id>/`, the state's result then
`{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`). S3 is the `objects` port here.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from assay.blobs.port import BlobStore
from assay.workflow import paths

Step = Callable[[Any], Any]

_COMMON = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath"}
# Fields Step Functions accepts only on a Map whose ProcessorConfig Mode is DISTRIBUTED.
_DISTRIBUTED_ONLY = {"ItemReader", "ItemBatcher", "ResultWriter", "Label",
                     "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
                     "ToleratedFailureCount", "ToleratedFailureCountPath"}  # fmt: skip
_ALLOWED: dict[str, set[str]] = {
    "Task": _COMMON
    | {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch",
       "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds"},
    "Parallel": _COMMON
    | {"Branches", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"},
    "Pass": _COMMON | {"Result", "Parameters", "ResultPath"},
    "Choice": {"Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"},
    "Map": _COMMON
    | {"ItemsPath", "ItemSelector", "Parameters", "ItemProcessor", "Iterator", "MaxConcurrency",
       "MaxConcurrencyPath", "ResultSelector", "ResultPath", "Retry", "Catch"}
    | _DISTRIBUTED_ONLY,
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Wait": _COMMON | {"Seconds", "SecondsPath"},
    "Fail": {"Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"},
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
GET_OBJECT = "arn:aws:states:::s3:getObject"
PUT_OBJECT = "arn:aws:states:::s3:putObject"
_READER_FIELDS = {"Resource", "ReaderConfig", "Parameters"}
_READER_CONFIG_FIELDS = {"InputType", "MaxItems", "MaxItemsPath", "CSVHeaderLocation",
                         "CSVHeaders", "CSVDelimiter"}  # fmt: skip
_BATCHER_FIELDS = {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
                   "MaxInputBytesPerBatchPath", "BatchInput"}  # fmt: skip
_CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
# A Map Run's default concurrency in AWS (MaxConcurrency 0 or absent).
_DISTRIBUTED_DEFAULT_CONCURRENCY = 10_000
# What the local runner's ARNs (map runs, child executions) say in place of region and account.
_LOCAL_ARN = "arn:aws:states:local:000000000000"


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


class Objects(Protocol):
    """The S3 a Distributed Map uses: ItemReader's `s3:getObject`, ResultWriter's
    `s3:putObject`. Any error raised fails the Map with States.ItemReaderFailed or
    States.ResultWriterFailed, as in AWS."""

    def get(self, bucket: str, key: str) -> bytes: ...

    def put(self, bucket: str, key: str, data: bytes) -> None: ...


class BlobObjects:
    """`Objects` on a BlobStore (the local profile's artifacts): the store stands for the one
    bucket the definition names (`bucket`; any name when None), keys unchanged, so the same
    input (`bucket`, `tenants/<id>/...` keys) runs locally and in AWS."""

    def __init__(self, store: BlobStore, bucket: str | None = None) -> None:
        self._store, self._bucket = store, bucket

    def _check(self, bucket: str) -> None:
        if self._bucket is not None and bucket != self._bucket:
            raise ValueError(f"no bucket {bucket!r} here (only {self._bucket!r})")

    def get(self, bucket: str, key: str) -> bytes:
        self._check(bucket)
        return self._store.get(key)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._check(bucket)
        self._store.put(key, data)


@dataclass
class _Child:
    """One child execution of a Distributed Map: an item, or a batch of `size` items."""

    input: Any
    size: int
    name: str = ""
    status: str = "PENDING"  # then SUCCEEDED or FAILED
    output: Any = None
    error: str = ""
    cause: str = ""
    started: str = ""
    stopped: str = ""


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
        objects: Objects | None = None,
        name: str = "local",
    ) -> None:
        self._definition = definition
        self._resources = dict(resources)
        # S3 for Distributed Maps' ItemReader and ResultWriter; `name` goes into their ARNs.
        self._objects = objects
        self._name = name
        self._sleep = sleep
        self._on_event = on_event or _ignore
        # Called with (state name, its input) before each top-level state: a checkpoint from
        # which `run(..., start_at=name)` resumes, as a Step Functions redrive would.
        self._on_transition = on_transition
        # Asked before every state, at any depth: a reason stops the execution.
        self._should_stop = should_stop
        self._max_workers = max_workers
        _validate_machine(definition, self._resources, "", objects=objects is not None)

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
            _raise_if_abandoned(context)
            # A Parallel runs a sandbox session beside its steps: no checkpoint there, so a
            # resumed run goes back to the state that opened the session.
            if top and self._on_transition is not None and state["Type"] != "Parallel":
                self._on_transition(name, data)
            self._on_event("entered", name, data)
            kind = state["Type"]
            if kind == "Fail":
                error, cause = _failure(state, _input(state, data))
                self._on_event("failed", name, error)
                raise ExecutionFailed(error, cause)
            if kind == "Succeed":
                return _output(state, _input(state, data))
            if kind == "Wait":
                seconds = state.get("Seconds")
                if "SecondsPath" in state:
                    seconds = paths.get(_input(state, data), state["SecondsPath"])
                self._sleep(float(seconds or 0))
                data = _output(state, _input(state, data))
                if state.get("End"):
                    return data
                name = state["Next"]
                continue
            if kind == "Choice":
                chosen = _choose(state, _input(state, data))
                self._on_event("exited", name, chosen)
                name = chosen
                data = _output(state, _input(state, data))
                continue
            try:
                data = self._run_state(state, data, context, name)
            except _Caught as caught:
                self._on_event("caught", name, caught.error_output)
                name, data = caught.next_state, caught.data
                continue
            self._on_event("exited", name, data)
            if state.get("End"):
                return data
            name = state["Next"]

    def _run_state(
        self, state: Mapping[str, Any], data: Any, context: dict[str, Any], name: str = ""
    ) -> Any:
        effective = _input(state, data)
        if state["Type"] == "Pass":
            result = (
                paths.render(state["Parameters"], effective, context)
                if "Parameters" in state
                else state.get("Result", effective)
            )
            return _output(state, _result(state, data, result))
        if "Parameters" in state and state["Type"] in {"Task", "Parallel"}:
            effective = paths.render(state["Parameters"], effective, context)
        attempts: dict[int, int] = {}
        while True:
            try:
                if state["Type"] == "Task":
                    result = self._invoke(state, effective, data)
                elif state["Type"] == "Parallel":
                    result = self._parallel(state, effective, context)
                else:
                    result = self._map(state, effective, context, name)
                if "ResultSelector" in state:
                    result = paths.render(state["ResultSelector"], result, context)
                return _output(state, _result(state, data, result))
            except (_Caught, Stopped):
                raise
            except Exception as exc:  # every step error goes through Retry/Catch
                error, cause = _error_of(exc)
                delay = self._retry_delay(state, error, attempts)
                _raise_if_abandoned(context)  # a branch whose Parallel failed retries nothing
                if delay is not None:
                    self._on_event("retry", error, {"cause": cause, "delay_s": delay})
                    self._sleep(delay)
                    continue
                raise self._catch(state, data, error, cause) from None

    def _parallel(self, state: Mapping[str, Any], data: Any, context: dict[str, Any]) -> Any:
        """Every branch on its own thread, the result their outputs in order. The first branch
        to fail fails the state at once, as in Step Functions, which stops the others: here
        they are left to end on their own (a session's task ends when its session is closed
        or idle), since a thread cannot be stopped."""
        branches = state["Branches"]
        outputs: list[Any] = [None] * len(branches)
        errors: list[BaseException] = []
        failed = threading.Event()
        inner = {**context, ABANDONED: failed}  # the branches go no further once one failed

        def one(index: int) -> None:
            try:
                outputs[index] = self._run_machine(branches[index], data, inner)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)
                failed.set()

        threads = [threading.Thread(target=one, args=(i,), daemon=True)
                   for i in range(len(branches))]  # fmt: skip
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads) and not failed.wait(0.05):
            pass
        if errors:
            error = errors[0]
            if isinstance(error, ExecutionFailed):
                raise StepError(error.error, error.cause)
            raise error
        return outputs

    def _invoke(self, state: Mapping[str, Any], payload: Any, data: Any = None) -> Any:
        step = self._resources[_resource_name(state["Resource"])]
        timeout = state.get("TimeoutSeconds")
        if "TimeoutSecondsPath" in state:
            timeout = paths.get(_input(state, data), state["TimeoutSecondsPath"])
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

    def _map(
        self, state: Mapping[str, Any], data: Any, context: dict[str, Any], name: str = ""
    ) -> Any:
        if _mode(state) == "DISTRIBUTED":
            return self._distributed_map(name, state, data, context)
        items = paths.get(data, state.get("ItemsPath", "$"))
        if not isinstance(items, list):
            raise StepError("States.Runtime", "ItemsPath must select an array")
        processor = state.get("ItemProcessor") or state["Iterator"]
        selector = state.get("ItemSelector") or state.get("Parameters")

        def one(index: int) -> Any:
            item_context = {**context, "Map": {"Item": {"Index": index, "Value": items[index]}}}
            item = paths.render(selector, data, item_context) if selector else items[index]
            return self._run_machine(processor, item, item_context)

        limit = _setting(state, data, "MaxConcurrency") or len(items) or 1
        workers = max(1, min(limit, self._max_workers or limit))
        if workers == 1:
            return [one(i) for i in range(len(items))]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, range(len(items))))

    # ------------------------------------------------------------------ Distributed Map
    def _distributed_map(
        self, name: str, state: Mapping[str, Any], data: Any, context: dict[str, Any]
    ) -> Any:
        """Items (read, selected, batched) become child executions, run at most MaxConcurrency
        at a time. Once failed items pass the tolerated threshold no further child starts (the
        rest stay PENDING); results are written when a ResultWriter asks, then the threshold
        fails the state with States.ExceedToleratedFailureThreshold."""
        source = self._read_items(state, data, context) if "ItemReader" in state else data
        items = paths.get(source, state.get("ItemsPath", "$"))
        if not isinstance(items, list):
            raise StepError("States.Runtime", "ItemsPath must select an array")
        selector = state.get("ItemSelector") or state.get("Parameters")
        if selector:
            items = [
                paths.render(selector, data, {**context, "Map": {"Item": {"Index": i, "Value": v}}})
                for i, v in enumerate(items)
            ]
        children = _batches(state, items, data, context)
        tolerance = _Tolerance(state, data, len(items))
        limit = _setting(state, data, "MaxConcurrency") or _DISTRIBUTED_DEFAULT_CONCURRENCY
        workers = max(1, min(limit, len(children), self._max_workers or limit))
        processor = state["ItemProcessor"]
        exceeded = self._run_children(children, workers, tolerance, processor, context)
        label = state.get("Label", name)
        if "ResultWriter" in state:
            result: Any = self._write_results(state, label, data, context, children)
        else:  # failed children appear as their execution records, as AWS returns them
            result = [
                c.output if c.status == "SUCCEEDED" else self._record(c, label) for c in children
            ]
        if exceeded:
            raise StepError(
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded",
            )
        return result

    def _run_children(
        self,
        children: list[_Child],
        workers: int,
        tolerance: _Tolerance,
        processor: Mapping[str, Any],
        context: dict[str, Any],
    ) -> bool:
        """Run the children with `workers` threads, each taking the next child not yet started;
        True when the failures exceeded the threshold (the children not started stay PENDING)."""
        lock = threading.Lock()
        position = iter(children)
        failed_items = 0
        exceeded = False
        aborted: list[BaseException] = []

        def worker() -> None:
            nonlocal failed_items, exceeded
            while True:
                with lock:
                    child = None if exceeded or aborted else next(position, None)
                if child is None:
                    return
                try:
                    self._run_child(child, processor, context)
                except BaseException as exc:  # Stopped, or a bug: ends the whole Map
                    with lock:
                        aborted.append(exc)
                    return
                if child.status == "FAILED":
                    with lock:
                        failed_items += child.size
                        exceeded = exceeded or tolerance.exceeded(failed_items)

        if workers == 1:
            worker()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for running in [pool.submit(worker) for _ in range(workers)]:
                    running.result()
        if aborted:
            raise aborted[0]
        return exceeded

    def _run_child(
        self, child: _Child, processor: Mapping[str, Any], context: dict[str, Any]
    ) -> None:
        child.name, child.started = str(uuid.uuid4()), _timestamp()
        try:
            child.output = self._run_machine(processor, child.input, {**context})
            child.status = "SUCCEEDED"
        except Stopped:
            raise
        except Exception as exc:  # a failed child execution, counted against the threshold
            child.status = "FAILED"
            child.error, child.cause = _error_of(exc)
        child.stopped = _timestamp()

    def _read_items(
        self, state: Mapping[str, Any], data: Any, context: dict[str, Any]
    ) -> list[Any]:
        reader = state["ItemReader"]
        bucket, key = _location(reader, data, context, "Key")
        assert self._objects is not None  # checked at load
        try:
            body = self._objects.get(bucket, key)
        except Exception as exc:  # the port's own error, whatever the store
            raise StepError("States.ItemReaderFailed", f"s3://{bucket}/{key}: {exc}") from None
        config = reader.get("ReaderConfig", {})
        items = _parse_items(body, config, f"s3://{bucket}/{key}")
        most = _setting(config, data, "MaxItems")
        return items[:most] if most else items

    def _write_results(
        self,
        state: Mapping[str, Any],
        label: str,
        data: Any,
        context: dict[str, Any],
        children: list[_Child],
    ) -> dict[str, Any]:
        """AWS's export: `<Prefix>/<map run id>/manifest.json` naming SUCCEEDED_0.json,
        FAILED_0.json and PENDING_0.json (each written only when it has entries)."""
        bucket, prefix = _location(state["ResultWriter"], data, context, "Prefix")
        run_id = str(uuid.uuid4())
        map_run_arn = f"{_LOCAL_ARN}:mapRun:{self._name}/{label}:{run_id}"
        folder = f"{prefix.rstrip('/')}/{run_id}" if prefix else run_id
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status, entries in files.items():
            records = [self._record(c, label) for c in children if c.status == status]
            if records:
                key = f"{folder}/{status}_0.json"
                body = json.dumps(records).encode()
                self._put(bucket, key, body)
                entries.append({"Key": key, "Size": len(body)})
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        key = f"{folder}/manifest.json"
        self._put(bucket, key, json.dumps(manifest).encode())
        return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}

    def _put(self, bucket: str, key: str, body: bytes) -> None:
        assert self._objects is not None  # checked at load
        try:
            self._objects.put(bucket, key, body)
        except Exception as exc:  # the port's own error, whatever the store
            raise StepError("States.ResultWriterFailed", f"s3://{bucket}/{key}: {exc}") from None

    def _record(self, child: _Child, label: str) -> dict[str, Any]:
        """A child execution as AWS exports it (Transformation NONE): Input and Output are JSON
        text; a failed child has Error and Cause instead of Output."""
        record: dict[str, Any] = {
            "Input": json.dumps(child.input),
            "InputDetails": {"Included": True},
            "Status": child.status,
        }
        if child.status == "PENDING":
            return record
        machine = f"{self._name}/{label}"
        record |= {
            "ExecutionArn": f"{_LOCAL_ARN}:execution:{machine}:{child.name}",
            "Name": child.name,
            "RedriveCount": 0,
            "RedriveStatus": "NOT_REDRIVABLE",
            "RedriveStatusReason": f"Execution is {child.status} and cannot be redriven",
            "StartDate": child.started,
            "StateMachineArn": f"{_LOCAL_ARN}:stateMachine:{machine}",
            "StopDate": child.stopped,
        }
        if child.status == "SUCCEEDED":
            record |= {"Output": json.dumps(child.output), "OutputDetails": {"Included": True}}
        else:
            record |= {"Error": child.error, "Cause": child.cause}
        return record

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
    """A Lambda placeholder's step name, or a service integration's ARN as it stands (e.g.
    `arn:aws:states:::ecs:runTask.sync`, which the caller registers under that name)."""
    if resource.startswith("${") and resource.endswith("FunctionArn}"):
        return resource[2 : -len("FunctionArn}")]
    if resource.startswith("arn:aws:states:::"):
        return resource
    raise AslError(f"unsupported Resource {resource!r}: use a ${{NameFunctionArn}} placeholder")


ABANDONED = "__abandoned"  # in a Parallel branch's context: set once a sibling failed


def _raise_if_abandoned(context: Mapping[str, Any]) -> None:
    abandoned = context.get(ABANDONED)
    if abandoned is not None and abandoned.is_set():
        raise Stopped("a sibling branch of the Parallel failed")


def _failure(state: Mapping[str, Any], data: Any) -> tuple[str, str]:
    """A Fail state's error and cause, given or taken from its input (ErrorPath, CausePath)."""
    error = state.get("Error", "States.Fail")
    cause = state.get("Cause", "")
    if "ErrorPath" in state:
        error = str(paths.get(data, state["ErrorPath"]))
    if "CausePath" in state:
        cause = str(paths.get(data, state["CausePath"]))
    return error, cause


# ---------------------------------------------------------------------- Distributed Map parts
def _mode(state: Mapping[str, Any]) -> str:
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    return str(processor.get("ProcessorConfig", {}).get("Mode", "INLINE"))


def _setting(config: Mapping[str, Any], data: Any, field: str, *, integer: bool = True) -> Any:
    """A number given as `Field` (checked at load), or read from the input by `FieldPath` (a
    reference path that must select a non-negative integer, or number); None when neither."""
    if field in config:
        return config[field]
    if f"{field}Path" not in config:
        return None
    value = paths.get(data, config[f"{field}Path"])
    if not _is_number(value) or value < 0 or (integer and not isinstance(value, int)):
        kind = "integer" if integer else "number"
        raise StepError("States.Runtime", f"{field}Path must select a non-negative {kind}")
    return value


class _Tolerance:
    """ToleratedFailurePercentage/-Count: failed items (all of a failed batch's) over the items
    read. Neither given, any failure is too many; both given, breaching either is."""

    def __init__(self, state: Mapping[str, Any], data: Any, items: int) -> None:
        self.percentage = _setting(state, data, "ToleratedFailurePercentage", integer=False)
        self.count = _setting(state, data, "ToleratedFailureCount")
        self.items = items

    def exceeded(self, failed: int) -> bool:
        if self.percentage is None and self.count is None:
            return failed > 0
        if self.count is not None and failed > self.count:
            return True
        return self.percentage is not None and failed * 100 > self.percentage * self.items


def _batches(
    state: Mapping[str, Any], items: list[Any], data: Any, context: dict[str, Any]
) -> list[_Child]:
    """One child per item, or per batch: `{"Items": [...]}` plus `"BatchInput"` when the
    ItemBatcher has one, at most MaxItemsPerBatch items and MaxInputBytesPerBatch bytes (the
    batch's compact JSON)."""
    batcher = state.get("ItemBatcher")
    if batcher is None:
        return [_Child(input=item, size=1) for item in items]
    head = {"BatchInput": paths.render(batcher["BatchInput"], data, context)} if (
        "BatchInput" in batcher) else {}  # fmt: skip
    most_items = _setting(batcher, data, "MaxItemsPerBatch") or len(items) or 1
    most_bytes = _setting(batcher, data, "MaxInputBytesPerBatch")
    empty = len(_compact({**head, "Items": []}))
    batches: list[list[Any]] = []
    size = 0
    for index, item in enumerate(items):
        grows = len(_compact(item))
        if most_bytes and empty + grows > most_bytes:
            raise StepError(
                "States.Runtime", f"item {index} alone exceeds MaxInputBytesPerBatch {most_bytes}"
            )
        full = batches and (
            len(batches[-1]) >= most_items or (most_bytes and size + 1 + grows > most_bytes)
        )
        if not batches or full:
            batches.append([item])
            size = empty + grows
        else:
            batches[-1].append(item)
            size += 1 + grows  # the comma, then the item
    return [_Child(input={**head, "Items": batch}, size=len(batch)) for batch in batches]


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _location(
    config: Mapping[str, Any], data: Any, context: dict[str, Any], field: str
) -> tuple[str, str]:
    """ItemReader's (Bucket, Key) or ResultWriter's (Bucket, Prefix) from its Parameters."""
    where = paths.render(config.get("Parameters", {}), data, context)
    bucket, second = where.get("Bucket"), where.get(field, "")
    if not isinstance(bucket, str) or not bucket or not isinstance(second, str):
        raise StepError("States.Runtime", f"Bucket and {field} must be strings: {where}")
    return bucket, second


def _parse_items(body: bytes, config: Mapping[str, Any], where: str) -> list[Any]:
    """The object's items by ReaderConfig.InputType; anything unreadable is
    States.ItemReaderFailed, naming the line."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StepError("States.ItemReaderFailed", f"{where} is not UTF-8: {exc}") from None
    kind = config["InputType"]
    if kind == "JSONL":
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise StepError(
                        "States.ItemReaderFailed", f"{where} line {number}: {exc.msg}"
                    ) from None
        return items
    if kind == "JSON":
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StepError("States.ItemReaderFailed", f"{where}: {exc}") from None
        if not isinstance(loaded, list):
            raise StepError("States.ItemReaderFailed", f"{where} does not hold a JSON array")
        return loaded
    return _csv_items(text, config, where)


def _csv_items(text: str, config: Mapping[str, Any], where: str) -> list[Any]:
    """Rows as objects of strings, keyed by the first row or by CSVHeaders (GIVEN)."""
    delimiter = _CSV_DELIMITERS[config.get("CSVDelimiter", "COMMA")]
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        header = list(config["CSVHeaders"])
    elif rows:
        header = rows.pop(0)
    else:
        return []
    items = []
    for number, row in enumerate(rows, 1):
        if len(row) != len(header):
            raise StepError(
                "States.ItemReaderFailed",
                f"{where} row {number} has {len(row)} fields, the header {len(header)}",
            )
        items.append(dict(zip(header, row, strict=True)))
    return items


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    machine: Mapping[str, Any], resources: Mapping[str, Step], where: str, *, objects: bool
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
        _validate_state(f"{where}{name}", state, states, resources, objects=objects)


def _validate_state(
    name: str,
    state: Mapping[str, Any],
    states: Mapping[str, Any],
    resources: Mapping[str, Step],
    *,
    objects: bool,
) -> None:
    kind = state.get("Type")
    if kind not in _ALLOWED:
        raise AslError(f"state {name}: unsupported type {kind!r}")
    extra = set(state) - _ALLOWED[kind]
    if extra:
        raise AslError(f"state {name}: unsupported fields {sorted(extra)} for a {kind} state")
    _validate_transitions(name, state, states)
    _validate_error_handling(name, state)
    _validate_paths(name, state)
    if kind == "Task":
        step = _resource_name(state["Resource"])
        if step not in resources:
            raise AslError(f"state {name}: no step is registered for {step!r}")
    elif kind == "Choice":
        for rule in state.get("Choices", []):
            _validate_rule(name, rule, top=True)
    elif kind == "Parallel":
        _validate_branches(name, state, resources, objects=objects)
    elif kind == "Map":
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if not isinstance(processor, dict):
            raise AslError(f"state {name}: a Map needs an ItemProcessor")
        _validate_map(name, state, processor, objects=objects)
        _validate_machine(processor, resources, f"{name}/", objects=objects)


def _validate_paths(name: str, state: Mapping[str, Any]) -> None:
    try:
        for field in ("InputPath", "OutputPath", "ResultPath", "ItemsPath", "TimeoutSecondsPath",
                      "ErrorPath", "CausePath"):  # fmt: skip
            if state.get(field) is not None:
                paths.parse(state[field])
        for field in ("Parameters", "ItemSelector", "ResultSelector"):
            _validate_template(state.get(field))
    except paths.PathError as exc:
        raise AslError(f"state {name}: {exc}") from None


def _validate_branches(
    name: str, state: Mapping[str, Any], resources: Mapping[str, Step], *, objects: bool
) -> None:
    branches = state.get("Branches")
    if not isinstance(branches, list) or not branches:
        raise AslError(f"state {name}: a Parallel needs Branches")
    for number, branch in enumerate(branches):
        _validate_machine(branch, resources, f"{name}[{number}]/", objects=objects)


def _validate_map(
    name: str, state: Mapping[str, Any], processor: Mapping[str, Any], *, objects: bool
) -> None:
    try:
        _validate_map_fields(name, state, processor, objects=objects)
    except paths.PathError as exc:
        raise AslError(f"state {name}: {exc}") from None


def _validate_map_fields(
    name: str, state: Mapping[str, Any], processor: Mapping[str, Any], *, objects: bool
) -> None:
    config = processor.get("ProcessorConfig", {})
    if not isinstance(config, dict) or set(config) - {"Mode", "ExecutionType"}:
        raise AslError(f"state {name}: ProcessorConfig takes Mode and ExecutionType only")
    mode = config.get("Mode", "INLINE")
    if mode == "DISTRIBUTED":
        if config.get("ExecutionType") not in {"EXPRESS", "STANDARD"}:
            raise AslError(
                f"state {name}: a DISTRIBUTED Map needs ExecutionType EXPRESS or STANDARD"
            )
        if "ItemProcessor" not in state:
            raise AslError(f"state {name}: a DISTRIBUTED Map needs ItemProcessor, not Iterator")
    elif mode == "INLINE":
        used = sorted(set(state) & _DISTRIBUTED_ONLY) + sorted(set(config) - {"Mode"})
        if used:
            raise AslError(f"state {name}: {used} need ProcessorConfig Mode DISTRIBUTED")
    else:
        raise AslError(f"state {name}: unsupported ProcessorConfig Mode {mode!r}")
    _validate_numbers(name, state, {"MaxConcurrency": (0, None, True),
                                    "ToleratedFailurePercentage": (0, 100, False),
                                    "ToleratedFailureCount": (0, None, True)})  # fmt: skip
    if "Label" in state and not (isinstance(state["Label"], str) and state["Label"].strip()):
        raise AslError(f"state {name}: Label must be a non-empty string")
    if "ItemReader" in state:
        _validate_reader(name, state["ItemReader"])
    if "ItemBatcher" in state:
        _validate_batcher(name, state["ItemBatcher"])
    if "ResultWriter" in state:
        _validate_writer(name, state["ResultWriter"])
    if not objects and {"ItemReader", "ResultWriter"} & set(state):
        raise AslError(f"state {name}: ItemReader and ResultWriter need an objects port (S3)")


def _validate_numbers(
    name: str, config: Mapping[str, Any], fields: Mapping[str, tuple[int, int | None, bool]]
) -> None:
    """Each field given literally (a number in range, an integer where it must be) or as a
    `FieldPath` reference path, never both."""
    for field, (low, high, integer) in fields.items():
        if field in config and f"{field}Path" in config:
            raise AslError(f"state {name}: {field} and {field}Path exclude each other")
        if f"{field}Path" in config:
            paths.parse(config[f"{field}Path"])
        if field not in config:
            continue
        value = config[field]
        if (
            not _is_number(value)
            or (integer and not isinstance(value, int))
            or value < low
            or (high is not None and value > high)
        ):
            raise AslError(f"state {name}: {field} must be a number from {low} to {high or 'any'}")


def _validate_s3(
    name: str, part: str, config: Any, *, fields: set[str], resource: str, keys: tuple[str, str]
) -> None:
    """ItemReader and ResultWriter: the S3 action they use and its Parameters (each key given
    literally or as `key.$`)."""
    if not isinstance(config, dict) or set(config) - fields:
        raise AslError(f"state {name}: {part} takes {sorted(fields)} only")
    if config.get("Resource") != resource:
        raise AslError(f"state {name}: {part} Resource must be {resource}")
    parameters = config.get("Parameters", {})
    given = [key.removesuffix(".$") for key in parameters] if isinstance(parameters, dict) else [""]
    if len(set(given)) != len(given) or set(given) - set(keys):
        raise AslError(f"state {name}: {part} Parameters take {list(keys)} only")
    required = keys if part == "ItemReader" else keys[:1]
    if set(required) - set(given):
        raise AslError(f"state {name}: {part} Parameters need {list(required)}")
    _validate_template(parameters)


def _validate_reader(name: str, reader: Any) -> None:
    _validate_s3(
        name, "ItemReader", reader, fields=_READER_FIELDS, resource=GET_OBJECT,
        keys=("Bucket", "Key"),
    )  # fmt: skip
    config = reader.get("ReaderConfig")
    if not isinstance(config, dict) or set(config) - _READER_CONFIG_FIELDS:
        raise AslError(f"state {name}: ReaderConfig takes {sorted(_READER_CONFIG_FIELDS)} only")
    kind = config.get("InputType")
    if kind not in {"JSONL", "JSON", "CSV"}:
        raise AslError(f"state {name}: ReaderConfig InputType must be JSONL, JSON or CSV")
    _validate_numbers(name, config, {"MaxItems": (1, None, True)})
    csv_fields = {"CSVHeaderLocation", "CSVHeaders", "CSVDelimiter"} & set(config)
    if kind != "CSV" and csv_fields:
        raise AslError(f"state {name}: {sorted(csv_fields)} are for InputType CSV")
    location = config.get("CSVHeaderLocation", "FIRST_ROW")
    headers = config.get("CSVHeaders")
    if location not in {"FIRST_ROW", "GIVEN"} or (location == "GIVEN") != (headers is not None):
        raise AslError(f"state {name}: CSVHeaders go with CSVHeaderLocation GIVEN, and only")
    if headers is not None and not (
        isinstance(headers, list) and headers and all(isinstance(h, str) for h in headers)
    ):
        raise AslError(f"state {name}: CSVHeaders must be a list of strings")
    if config.get("CSVDelimiter", "COMMA") not in _CSV_DELIMITERS:
        raise AslError(f"state {name}: CSVDelimiter must be one of {sorted(_CSV_DELIMITERS)}")


def _validate_batcher(name: str, batcher: Any) -> None:
    if not isinstance(batcher, dict) or set(batcher) - _BATCHER_FIELDS:
        raise AslError(f"state {name}: ItemBatcher takes {sorted(_BATCHER_FIELDS)} only")
    if not set(batcher) - {"BatchInput"}:
        raise AslError(f"state {name}: ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch")
    _validate_numbers(name, batcher, {"MaxItemsPerBatch": (1, None, True),
                                      "MaxInputBytesPerBatch": (1, 262_144, True)})  # fmt: skip
    if "BatchInput" in batcher:
        if not isinstance(batcher["BatchInput"], dict):
            raise AslError(f"state {name}: BatchInput must be an object")
        _validate_template(batcher["BatchInput"])


def _validate_writer(name: str, writer: Any) -> None:
    _validate_s3(
        name, "ResultWriter", writer, fields={"Resource", "Parameters"}, resource=PUT_OBJECT,
        keys=("Bucket", "Prefix"),
    )  # fmt: skip


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
