"""Distributed Map in the in-process ASL runner: items read from an object (the `objects` port
standing in for S3), batched, run as child executions with bounded concurrency, failures
tolerated up to a threshold, and results written the way Step Functions writes them."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from assay.blobs.filesystem import FileBlobStore
from assay.workflow import ExecutionFailed, StateMachine, StepError, Stopped
from assay.workflow.asl import GET_OBJECT, PUT_OBJECT, AslError, BlobObjects


class Bucket:
    """An in-memory `objects` port: (bucket, key) -> bytes."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.puts: list[tuple[str, str]] = []

    def get(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)]

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.puts.append((bucket, key))
        self.objects[(bucket, key)] = data

    def json(self, bucket: str, key: str) -> Any:
        return json.loads(self.objects[(bucket, key)])


def jsonl(*items: Any) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def task(step: str, **fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": f"${{{step}FunctionArn}}", **fields}


def reader(input_type: str = "JSONL", **config: Any) -> dict[str, Any]:
    return {
        "Resource": GET_OBJECT,
        "ReaderConfig": {"InputType": input_type, **config},
        "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
    }


def writer() -> dict[str, Any]:
    return {"Resource": PUT_OBJECT, "Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "$.out"}}


def distributed(execution_type: str = "EXPRESS", **fields: Any) -> dict[str, Any]:
    """A machine of one Distributed Map whose processor is the one Task `Work`."""
    state = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": "Work",
            "States": {"Work": task("Work", End=True)},
        },
        "End": True,
        **fields,
    }
    return {"StartAt": "Scores", "States": {"Scores": state}}


INPUT = {"bucket": "data", "key": "sets/items.jsonl", "out": "runs/r1/map", "run": "r1"}


class Recorder:
    """A step that records its inputs and answers with a function of each."""

    def __init__(self, answer: Any = None) -> None:
        self.calls: list[Any] = []
        self.lock = threading.Lock()
        self.answer = answer or (lambda payload: {"seen": payload})

    def __call__(self, payload: Any) -> Any:
        with self.lock:
            self.calls.append(payload)
        return self.answer(payload)


def failing_when(predicate: Any) -> Recorder:
    def answer(payload: Any) -> Any:
        if predicate(payload):
            raise StepError("Eval.Broken", f"cannot score {payload}")
        return {"ok": payload}

    return Recorder(answer)


def run(
    definition: dict[str, Any], bucket: Bucket, step: Any, data: Any = None, **options: Any
) -> Any:
    machine = StateMachine(definition, {"Work": step}, objects=bucket, **options)
    return machine.run(INPUT if data is None else data)


def items_bucket(body: bytes, key: str = "sets/items.jsonl") -> Bucket:
    bucket = Bucket()
    bucket.objects[("data", key)] = body
    return bucket


# ---------------------------------------------------------------------- reading
def test_items_come_from_the_jsonl_object_one_child_each_in_order() -> None:
    bucket = items_bucket(jsonl({"id": 1}, {"id": 2}, {"id": 3}))
    step = Recorder()
    out = run(distributed(ItemReader=reader(), MaxConcurrency=1), bucket, step)
    assert step.calls == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert out == [{"seen": {"id": 1}}, {"seen": {"id": 2}}, {"seen": {"id": 3}}]


def test_blank_lines_are_skipped_and_a_broken_line_fails_the_reader_naming_it() -> None:
    ok = items_bucket(b'{"id": 1}\n\n  \n{"id": 2}\n')
    assert len(run(distributed(ItemReader=reader()), ok, Recorder())) == 2
    broken = items_bucket(b'{"id": 1}\n{"id": \n')
    with pytest.raises(ExecutionFailed) as failed:
        run(distributed(ItemReader=reader()), broken, Recorder())
    assert failed.value.error == "States.ItemReaderFailed"
    assert "line 2" in failed.value.cause


def test_a_missing_object_is_an_item_reader_failure_a_catch_can_handle() -> None:
    definition = distributed(
        ItemReader=reader(),
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Handled"}],
    )
    state = definition["States"]["Scores"]
    del state["End"]
    state["Next"] = "Handled"
    definition["States"]["Handled"] = {"Type": "Pass", "End": True}
    out = run(definition, Bucket(), Recorder())
    assert out["error"]["Error"] == "States.ItemReaderFailed"
    assert "s3://data/sets/items.jsonl" in out["error"]["Cause"]


def test_max_items_and_max_items_path_read_only_the_first_items() -> None:
    bucket = items_bucket(jsonl(*({"id": i} for i in range(10))))
    assert len(run(distributed(ItemReader=reader(MaxItems=4)), bucket, Recorder())) == 4
    by_path = distributed(ItemReader=reader(MaxItemsPath="$.limit"))
    assert len(run(by_path, bucket, Recorder(), {**INPUT, "limit": 3})) == 3


def test_json_and_csv_objects() -> None:
    as_json = items_bucket(json.dumps([{"id": 1}, {"id": 2}]).encode(), "sets/items.json")
    data = {**INPUT, "key": "sets/items.json"}
    assert run(distributed(ItemReader=reader("JSON")), as_json, Recorder(), data) == [
        {"seen": {"id": 1}}, {"seen": {"id": 2}}]  # fmt: skip
    as_csv = items_bucket(b'id,question\n1,why\n2,"a, b"\n', "sets/items.csv")
    data = {**INPUT, "key": "sets/items.csv"}
    step = Recorder()
    run(distributed(ItemReader=reader("CSV"), MaxConcurrency=1), as_csv, step, data)
    assert step.calls == [{"id": "1", "question": "why"}, {"id": "2", "question": "a, b"}]
    given = reader("CSV", CSVHeaderLocation="GIVEN", CSVHeaders=["a", "b"], CSVDelimiter="PIPE")
    piped = items_bucket(b"1|x\n2|y\n", "sets/items.csv")
    step = Recorder()
    run(distributed(ItemReader=given, MaxConcurrency=1), piped, step, data)
    assert step.calls == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]


def test_without_an_item_reader_items_come_from_the_input() -> None:
    out = StateMachine(distributed(ItemsPath="$.rows"), {"Work": Recorder()}).run({"rows": [1, 2]})
    assert out == [{"seen": 1}, {"seen": 2}]


# ---------------------------------------------------------------------- batching
def test_batches_carry_items_and_batch_input_exactly_as_step_functions_passes_them() -> None:
    bucket = items_bucket(jsonl(*({"id": i} for i in range(5))))
    batcher = {"MaxItemsPerBatch": 2, "BatchInput": {"run_id.$": "$.run", "fixed": "x"}}
    step = Recorder(lambda batch: [item["id"] * 10 for item in batch["Items"]])
    definition = distributed(ItemReader=reader(), ItemBatcher=batcher, MaxConcurrency=1)
    out = run(definition, bucket, step)
    batch_input = {"run_id": "r1", "fixed": "x"}
    assert step.calls == [
        {"Items": [{"id": 0}, {"id": 1}], "BatchInput": batch_input},
        {"Items": [{"id": 2}, {"id": 3}], "BatchInput": batch_input},
        {"Items": [{"id": 4}], "BatchInput": batch_input},
    ]
    assert out == [[0, 10], [20, 30], [40]]  # one result per batch


def test_without_batch_input_a_batch_is_items_alone() -> None:
    bucket = items_bucket(jsonl(1, 2, 3))
    step = Recorder()
    definition = distributed(ItemReader=reader(), ItemBatcher={"MaxItemsPerBatch": 5})
    run(definition, bucket, step)
    assert step.calls == [{"Items": [1, 2, 3]}]


def test_max_input_bytes_per_batch_bounds_each_batch_as_compact_json() -> None:
    items = [{"text": "x" * 20} for _ in range(6)]  # 32 bytes each
    bucket = items_bucket(jsonl(*items))
    batcher = {"MaxInputBytesPerBatch": 80}  # {"Items":[a,b]} = 12 + 32 + 1 + 32 = 77 bytes
    step = Recorder()
    run(distributed(ItemReader=reader(), ItemBatcher=batcher, MaxConcurrency=1), bucket, step)
    assert [len(c["Items"]) for c in step.calls] == [2, 2, 2]
    for call in step.calls:
        assert len(json.dumps(call, separators=(",", ":"))) <= 80


def test_item_selector_shapes_each_item_before_batching() -> None:
    bucket = items_bucket(jsonl("a", "b", "c"))
    selector = {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "run.$": "$.run"}
    step = Recorder()
    definition = distributed(
        ItemReader=reader(), ItemSelector=selector, ItemBatcher={"MaxItemsPerBatch": 3}
    )
    run(definition, bucket, step)
    assert step.calls == [{"Items": [{"value": v, "index": i, "run": "r1"}
                                     for i, v in enumerate("abc")]}]  # fmt: skip


# ---------------------------------------------------------------------- results
def _manifest(bucket: Bucket, out: dict[str, Any]) -> dict[str, Any]:
    details = out["ResultWriterDetails"]
    manifest: dict[str, Any] = bucket.json(details["Bucket"], details["Key"])
    return manifest


def test_result_writer_writes_manifest_and_succeeded_file_and_returns_where() -> None:
    bucket = items_bucket(jsonl({"id": 1}, {"id": 2}))
    definition = distributed(ItemReader=reader(), ResultWriter=writer(), Label="Scoring")
    out = run(definition, bucket, Recorder(), name="eval-run")
    assert set(out) == {"MapRunArn", "ResultWriterDetails"}
    run_id = out["MapRunArn"].rsplit(":", 1)[1]
    assert out["MapRunArn"].startswith("arn:aws:states:") and ":mapRun:eval-run/Scoring:" in (
        out["MapRunArn"])  # fmt: skip
    assert out["ResultWriterDetails"] == {"Bucket": "data",
                                          "Key": f"runs/r1/map/{run_id}/manifest.json"}  # fmt: skip
    manifest = _manifest(bucket, out)
    succeeded = f"runs/r1/map/{run_id}/SUCCEEDED_0.json"
    assert manifest == {
        "DestinationBucket": "data",
        "MapRunArn": out["MapRunArn"],
        "ResultFiles": {
            "FAILED": [],
            "PENDING": [],
            "SUCCEEDED": [{"Key": succeeded, "Size": len(bucket.objects[("data", succeeded)])}],
        },
    }
    records = bucket.json("data", succeeded)
    assert [json.loads(r["Input"]) for r in records] == [{"id": 1}, {"id": 2}]
    assert [json.loads(r["Output"]) for r in records] == [{"seen": {"id": 1}},
                                                           {"seen": {"id": 2}}]  # fmt: skip
    for record in records:
        assert record["Status"] == "SUCCEEDED"
        assert record["InputDetails"] == record["OutputDetails"] == {"Included": True}
        assert record["StateMachineArn"].endswith(":stateMachine:eval-run/Scoring")
        assert record["ExecutionArn"].endswith(f":execution:eval-run/Scoring:{record['Name']}")
        assert record["StartDate"].endswith("Z") and record["StopDate"] >= record["StartDate"]
        assert {"RedriveCount", "RedriveStatus", "RedriveStatusReason"} <= set(record)
    assert not [key for _, key in bucket.puts if "FAILED" in key or "PENDING" in key]


def test_a_prefix_ending_in_a_slash_and_no_prefix_at_all() -> None:
    bucket = items_bucket(jsonl(1))
    out = run(distributed(ItemReader=reader(), ResultWriter=writer()), bucket, Recorder(),
              {**INPUT, "out": "runs/r1/"})  # fmt: skip
    assert "//" not in out["ResultWriterDetails"]["Key"]
    bare = {"Resource": PUT_OBJECT, "Parameters": {"Bucket": "data"}}
    out = run(distributed(ItemReader=reader(), ResultWriter=bare), bucket, Recorder())
    run_id = out["MapRunArn"].rsplit(":", 1)[1]
    assert out["ResultWriterDetails"]["Key"] == f"{run_id}/manifest.json"


def test_the_writer_output_goes_through_result_path_like_any_result() -> None:
    bucket = items_bucket(jsonl(1))
    definition = distributed(ItemReader=reader(), ResultWriter=writer(), ResultPath="$.map")
    out = run(definition, bucket, Recorder())
    assert out["run"] == "r1" and set(out["map"]) == {"MapRunArn", "ResultWriterDetails"}


def test_a_store_that_cannot_write_is_a_result_writer_failure() -> None:
    class ReadOnly(Bucket):
        def put(self, bucket: str, key: str, data: bytes) -> None:
            raise PermissionError("AccessDenied")

    bucket = ReadOnly()
    bucket.objects[("data", "sets/items.jsonl")] = jsonl(1)
    with pytest.raises(ExecutionFailed) as failed:
        run(distributed(ItemReader=reader(), ResultWriter=writer()), bucket, Recorder())
    assert failed.value.error == "States.ResultWriterFailed"
    assert "AccessDenied" in failed.value.cause


# ---------------------------------------------------------------------- failures
def test_failures_within_the_tolerated_percentage_are_recorded_as_failed() -> None:
    bucket = items_bucket(jsonl(*range(20)))
    step = failing_when(lambda item: item == 7)  # 1 of 20 = 5%
    definition = distributed(
        ItemReader=reader(), ResultWriter=writer(), ToleratedFailurePercentage=5
    )
    out = run(definition, bucket, step)
    manifest = _manifest(bucket, out)
    (failed_file,) = manifest["ResultFiles"]["FAILED"]
    (failed,) = bucket.json("data", failed_file["Key"])
    assert failed["Status"] == "FAILED" and json.loads(failed["Input"]) == 7
    assert failed["Error"] == "Eval.Broken" and "cannot score 7" in failed["Cause"]
    assert "Output" not in failed
    (succeeded_file,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert len(bucket.json("data", succeeded_file["Key"])) == 19
    assert manifest["ResultFiles"]["PENDING"] == []


def test_without_a_writer_a_tolerated_failure_is_its_execution_record_in_the_output() -> None:
    step = failing_when(lambda item: item == 2)
    definition = distributed(ItemsPath="$.rows", ToleratedFailureCount=1)
    out = StateMachine(definition, {"Work": step}).run({"rows": [1, 2, 3]})
    assert out[0] == {"ok": 1} and out[2] == {"ok": 3}
    assert out[1]["Status"] == "FAILED" and out[1]["Error"] == "Eval.Broken"


def test_beyond_the_threshold_the_map_fails_with_exceed_tolerated_failure_threshold() -> None:
    bucket = items_bucket(jsonl(*range(20)))
    step = failing_when(lambda item: item in {3, 9})  # 2 of 20 = 10% > 5%
    definition = distributed(
        ItemReader=reader(), ResultWriter=writer(), ToleratedFailurePercentage=5
    )
    with pytest.raises(ExecutionFailed) as failed:
        run(definition, bucket, step)
    assert failed.value.error == "States.ExceedToleratedFailureThreshold"


def test_no_threshold_given_means_no_failure_tolerated() -> None:
    step = failing_when(lambda item: item == 3)
    with pytest.raises(ExecutionFailed) as failed:
        StateMachine(distributed(), {"Work": step}).run([1, 2, 3, 4])
    assert failed.value.error == "States.ExceedToleratedFailureThreshold"


def test_a_count_threshold_and_both_thresholds_either_breached() -> None:
    step = failing_when(lambda item: item < 2)  # 2 of 10 fail
    items = list(range(10))
    assert len(StateMachine(distributed(ToleratedFailureCount=2), {"Work": step}).run(items)) == 10
    with pytest.raises(ExecutionFailed):
        StateMachine(distributed(ToleratedFailureCount=1), {"Work": step}).run(items)
    both = distributed(ToleratedFailureCount=5, ToleratedFailurePercentage=10)  # 20% > 10%
    with pytest.raises(ExecutionFailed):
        StateMachine(both, {"Work": step}).run(items)
    by_path = distributed(ToleratedFailurePercentagePath="$.pct", ItemsPath="$.rows")
    assert len(StateMachine(by_path, {"Work": step}).run({"pct": 20, "rows": items})) == 10


def test_a_failed_batch_counts_every_item_in_it() -> None:
    step = failing_when(lambda batch: 0 in batch["Items"])  # the first batch of 5
    items = list(range(10))
    tolerant = distributed(ItemBatcher={"MaxItemsPerBatch": 5}, ToleratedFailurePercentage=50)
    out = StateMachine(tolerant, {"Work": step}).run(items)
    assert out[0]["Status"] == "FAILED" and out[1] == {"ok": {"Items": [5, 6, 7, 8, 9]}}
    strict = distributed(ItemBatcher={"MaxItemsPerBatch": 5}, ToleratedFailureCount=4)
    with pytest.raises(ExecutionFailed):  # 5 failed items > 4
        StateMachine(strict, {"Work": step}).run(items)


def test_once_exceeded_no_child_starts_and_the_rest_are_written_as_pending() -> None:
    bucket = items_bucket(jsonl(*range(6)))
    step = failing_when(lambda item: item == 1)
    definition = distributed(
        ItemReader=reader(), ResultWriter=writer(), MaxConcurrency=1,
        Catch=[{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"],
                "ResultPath": "$.error", "Next": "Record"}],
    )  # fmt: skip
    scores = definition["States"]["Scores"]
    del scores["End"]
    scores["Next"] = "Record"
    definition["States"]["Record"] = {"Type": "Pass", "End": True}
    out = run(definition, bucket, step)
    assert out["error"]["Error"] == "States.ExceedToleratedFailureThreshold"
    assert step.calls == [0, 1]  # sequential: nothing after the failure started
    (_, manifest_key) = next((b, k) for b, k in bucket.puts if k.endswith("manifest.json"))
    files = bucket.json("data", manifest_key)["ResultFiles"]
    (pending,) = files["PENDING"]
    assert [json.loads(r["Input"]) for r in bucket.json("data", pending["Key"])] == [2, 3, 4, 5]
    assert [r["Status"] for r in bucket.json("data", pending["Key"])] == ["PENDING"] * 4
    assert len(files["SUCCEEDED"]) == len(files["FAILED"]) == 1


def test_retries_inside_the_child_run_before_it_counts_as_failed() -> None:
    attempts: dict[int, int] = {}

    def flaky(item: int) -> int:
        attempts[item] = attempts.get(item, 0) + 1
        if attempts[item] == 1:
            raise StepError("Lambda.ServiceException", "try again")
        return item

    definition = distributed(ItemsPath="$.rows")
    work = definition["States"]["Scores"]["ItemProcessor"]["States"]["Work"]
    work["Retry"] = [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1}]
    machine = StateMachine(definition, {"Work": flaky}, sleep=lambda _: None)
    assert machine.run({"rows": [1, 2]}) == [1, 2]


# ---------------------------------------------------------------------- concurrency
class Gauge:
    """Counts how many calls run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.most = self.calls = 0

    def __call__(self, payload: Any) -> Any:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        time.sleep(0.005)
        with self.lock:
            self.running -= 1
        return payload


def test_max_concurrency_bounds_the_children_running_at_once() -> None:
    gauge = Gauge()
    StateMachine(distributed(MaxConcurrency=3), {"Work": gauge}).run(list(range(24)))
    assert gauge.calls == 24
    assert 1 < gauge.most <= 3


def test_max_concurrency_path_reads_the_bound_from_the_input() -> None:
    gauge = Gauge()
    definition = distributed(MaxConcurrencyPath="$.concurrency", ItemsPath="$.rows")
    StateMachine(definition, {"Work": gauge}).run({"concurrency": 2, "rows": list(range(12))})
    assert 1 < gauge.most <= 2
    with pytest.raises(ExecutionFailed) as failed:
        StateMachine(definition, {"Work": gauge}).run({"concurrency": "2", "rows": [1]})
    assert "MaxConcurrencyPath" in failed.value.cause


def test_the_runner_wide_worker_cap_applies_too() -> None:
    gauge = Gauge()
    StateMachine(distributed(), {"Work": gauge}, max_workers=2).run(list(range(12)))
    assert gauge.most <= 2


def test_a_stop_inside_a_child_stops_the_execution_and_is_not_a_failure() -> None:
    stop = threading.Event()

    def work(item: int) -> int:
        if item == 2:
            stop.set()
        return item

    definition = distributed(ToleratedFailurePercentage=100, MaxConcurrency=1)
    machine = StateMachine(
        definition, {"Work": work}, should_stop=lambda: "cancelled" if stop.is_set() else None
    )
    with pytest.raises(Stopped):
        machine.run([1, 2, 3])


# ---------------------------------------------------------------------- the port
def test_blob_objects_serve_the_local_artifacts_as_the_bucket(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path / "artifacts")
    store.put("tenants/t1/evals/r1/dataset.jsonl", jsonl({"id": "a"}, {"id": "b"}))
    objects = BlobObjects(store, bucket="assay-artifacts")
    definition = distributed(ItemReader=reader(), ResultWriter=writer())
    data = {"bucket": "assay-artifacts", "key": "tenants/t1/evals/r1/dataset.jsonl",
            "out": "tenants/t1/evals/r1/map"}  # fmt: skip
    out = StateMachine(definition, {"Work": Recorder()}, objects=objects).run(data)
    manifest = json.loads(store.get(out["ResultWriterDetails"]["Key"]))
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert len(json.loads(store.get(succeeded["Key"]))) == 2
    with pytest.raises(ExecutionFailed) as failed:
        StateMachine(definition, {"Work": Recorder()}, objects=objects).run(
            {**data, "bucket": "someone-elses"}
        )
    assert failed.value.error == "States.ItemReaderFailed"


# ---------------------------------------------------------------------- rejected at load
def _with(**fields: Any) -> dict[str, Any]:
    return distributed(**fields)


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (_with(ItemReader={**reader(), "Extra": 1}), "ItemReader takes"),
        (_with(ItemReader=reader(Compression="GZIP")), "ReaderConfig takes"),
        (_with(ItemReader=reader("PARQUET")), "InputType"),
        (
            _with(ItemReader={**reader(), "Resource": "arn:aws:states:::s3:listObjectsV2"}),
            "Resource must be",
        ),
        (_with(ItemReader={**reader(), "Parameters": {"Bucket": "b"}}), "need ['Bucket', 'Key']"),
        (
            _with(ItemReader={**reader(), "Parameters": {"Bucket": "b", "Key": "k", "Ver": 1}}),
            "take ['Bucket', 'Key'] only",
        ),
        (_with(ItemReader=reader(MaxItems=0)), "MaxItems"),
        (_with(ItemReader=reader(MaxItems=2, MaxItemsPath="$.n")), "exclude each other"),
        (_with(ItemReader=reader(CSVHeaders=["a"])), "for InputType CSV"),
        (_with(ItemBatcher={"MaxItemsPerBatch": 2, "Extra": 1}), "ItemBatcher takes"),
        (_with(ItemBatcher={"BatchInput": {}}), "needs MaxItemsPerBatch"),
        (_with(ItemBatcher={"MaxItemsPerBatch": 0}), "MaxItemsPerBatch"),
        (
            _with(ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"a.$": "States.Format('x')"}}),
            "intrinsic",
        ),
        (
            _with(ResultWriter={**writer(), "WriterConfig": {"OutputType": "JSONL"}}),
            "ResultWriter takes",
        ),
        (
            _with(ResultWriter={**writer(), "Resource": "arn:aws:states:::s3:getObject"}),
            "Resource must be",
        ),
        (_with(ToleratedFailurePercentage=150), "ToleratedFailurePercentage"),
        (_with(ToleratedFailureCount=-1), "ToleratedFailureCount"),
        (_with(MaxConcurrency=2, MaxConcurrencyPath="$.c"), "exclude each other"),
        (_with(MaxConcurrency=1.5), "MaxConcurrency"),
        (_with(MaxConcurrencyPath="$.a[*]"), "unsupported path"),
        (_with(ItemSelectr={}), "unsupported fields"),
        (_with(execution_type="BATCH"), "ExecutionType"),
    ],
)
def test_unknown_or_malformed_distributed_fields_are_rejected_at_load(
    definition: dict[str, Any], message: str
) -> None:
    with pytest.raises(AslError, match=message.replace("[", r"\[").replace("]", r"\]")):
        StateMachine(definition, {"Work": Recorder()}, objects=Bucket())


def test_processor_config_is_checked() -> None:
    definition = distributed()
    config = definition["States"]["Scores"]["ItemProcessor"]["ProcessorConfig"]
    config["Parallelism"] = 4
    with pytest.raises(AslError, match="ProcessorConfig takes"):
        StateMachine(definition, {"Work": Recorder()})
    config.pop("Parallelism")
    config["Mode"] = "SHARDED"
    with pytest.raises(AslError, match="Mode"):
        StateMachine(definition, {"Work": Recorder()})


def test_distributed_fields_on_an_inline_map_are_rejected() -> None:
    definition = distributed(ToleratedFailureCount=1)
    definition["States"]["Scores"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    with pytest.raises(AslError, match="need ProcessorConfig Mode DISTRIBUTED"):
        StateMachine(definition, {"Work": Recorder()})
    definition["States"]["Scores"]["ItemProcessor"]["ProcessorConfig"] = {
        "Mode": "INLINE", "ExecutionType": "EXPRESS"}  # fmt: skip
    definition["States"]["Scores"].pop("ToleratedFailureCount")
    with pytest.raises(AslError, match="ExecutionType"):
        StateMachine(definition, {"Work": Recorder()})


def test_reading_or_writing_objects_without_an_objects_port_is_rejected_at_load() -> None:
    with pytest.raises(AslError, match="objects port"):
        StateMachine(distributed(ItemReader=reader()), {"Work": Recorder()})
    with pytest.raises(AslError, match="objects port"):
        StateMachine(distributed(ResultWriter=writer()), {"Work": Recorder()})


def test_an_inline_map_with_processor_config_runs_as_before() -> None:
    definition = distributed(MaxConcurrency=2)
    definition["States"]["Scores"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    step = failing_when(lambda item: item == 2)
    with pytest.raises(ExecutionFailed) as failed:  # an inline failure is the item's own error
        StateMachine(definition, {"Work": step}).run([1, 2, 3])
    assert failed.value.error == "Eval.Broken"
    assert StateMachine(definition, {"Work": Recorder()}).run([1]) == [{"seen": 1}]
