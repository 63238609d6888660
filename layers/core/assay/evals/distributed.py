"""The steps of `statemachines/eval-run.asl.json`: one eval run as a Step Functions execution
whose Distributed Map reads the dataset's JSONL from S3, hands batches of items to
`score_batch`, and writes their results back to S3, so a run of a million items needs no new
code. The same steps run under the local ASL runner (`assay.workflow.asl`) on the file blob
store, so both profiles keep one definition.

Each step is a method taking the state's input and returning its result; the Lambda handlers
in `functions/evals/handler.py` only build this class from the ports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from assay.blobs import BlobStore
from assay.blobs.port import tenant_key
from assay.clock import utcnow
from assay.errors import NotFound
from assay.evals.execution import Events, baseline_of, finish, suite_of
from assay.evals.judges import Completer, Judging, MemoryJudgeCache
from assay.evals.results import ItemResult, summarize
from assay.evals.runner import run
from assay.evals.suite import Item
from assay.evals.target import release
from assay.evidence.signing import Signer
from assay.records import EvalRun, EvalRunStatus
from assay.store import RecordStore


class EvalSteps:
    def __init__(
        self, records: RecordStore, blobs: BlobStore, signer: Signer,
        completer_for: Callable[[str, str], Completer],
    ) -> None:  # fmt: skip
        """`completer_for(tenant_id, actor)` reaches the gateway as the run's submitter."""
        self.records, self.blobs, self.signer = records, blobs, signer
        self.completer_for = completer_for
        self._runs: dict[str, EvalRun] = {}  # a warm container's run records, by blob key
        self._baselines: dict[str, dict[str, str]] = {}

    def _record(self, tenant_id: str, run_id: str) -> EvalRun:
        found = self.records.get(EvalRun, tenant_id, run_id)
        if found is None:
            raise NotFound(f"no eval run {run_id}")
        return found

    def prepare(self, event: dict[str, Any]) -> dict[str, Any]:
        record = self._record(event["tenant_id"], event["run_id"])
        if record.status is EvalRunStatus.QUEUED:
            record = self.records.update(record.evolve(status=EvalRunStatus.RUNNING))
        Events(self.records, record).emit("started", suite=record.suite_name,
                                          dataset=record.dataset_id)  # fmt: skip
        prefix = tenant_key(record.tenant_id, "evals", "runs", record.id, "map")
        return {**event, "results_prefix": prefix,
                "concurrency": max(1, min(int(event.get("concurrency") or 8), 1000))}  # fmt: skip

    def _run_of(self, key: str) -> EvalRun:
        found = self._runs.get(key)
        if found is None:
            found = EvalRun.model_validate_json(self.blobs.get(key))
            self._runs = {key: found}  # one run at a time per container
        return found

    def score_batch(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A batch of dataset lines: each item's result, in order. An item that fails is an
        item with an error; only a failure of the whole batch raises (and counts against the
        map's tolerated failures)."""
        given = event["BatchInput"]
        record = self._run_of(given["suite_key"])
        suite = suite_of(record)
        items = [Item.model_validate(line) for line in event["Items"]]
        if record.baseline_run_id not in self._baselines:
            baseline = baseline_of(self.records, self.blobs, record)
            outputs = {r.id: r.output for r in baseline.items if r.output} if baseline else {}
            self._baselines = {record.baseline_run_id or "": outputs}
        completer = self.completer_for(record.tenant_id, record.created_by or "eval-run")

        async def scored() -> list[ItemResult]:
            try:
                results = await run(
                    suite, items, completer, judging=Judging(completer, MemoryJudgeCache()),
                    concurrency=len(items), baseline=self._baselines[record.baseline_run_id or ""],
                )  # fmt: skip
                return results.items
            finally:
                await release(completer)

        return [r.model_dump(mode="json") for r in asyncio.run(scored())]

    def _map_results(self, details: dict[str, Any]) -> list[ItemResult]:
        """Every item's result from the ResultWriter's files: succeeded batches' outputs, and
        for failed batches each of their items with the batch's error."""
        manifest = json.loads(self.blobs.get(details["Key"]))
        found: list[ItemResult] = []
        files = manifest.get("ResultFiles", {})
        for status in ("SUCCEEDED", "FAILED", "PENDING"):
            for entry in files.get(status, []):
                for child in json.loads(self.blobs.get(entry["Key"])):
                    if status == "SUCCEEDED":
                        found += [ItemResult.model_validate(r) for r in json.loads(child["Output"])]
                        continue
                    why = f"{child.get('Error', status)}: {child.get('Cause', '')}"[:500]
                    batch = json.loads(child.get("Input") or "{}")
                    for line in batch.get("Items", []):
                        found.append(
                            ItemResult(
                                id=str(line.get("id")),
                                expected=line.get("expected"),
                                input=line.get("input") or {},
                                output=None,
                                passed=False,
                                error=f"the batch failed ({why})",
                            )
                        )
        return found

    def summarize(self, event: dict[str, Any]) -> dict[str, Any]:
        record = self._record(event["tenant_id"], event["run_id"])
        suite = suite_of(record)
        items = self._map_results(event["ResultWriterDetails"])
        duration = (utcnow() - record.created_at).total_seconds()
        results = summarize(suite, items, duration)
        sources = {"suite": suite.name, "dataset": record.dataset_id,
                   "dataset_version": record.dataset_version, "dataset_key": event["dataset_key"],
                   "items": len(items), "model": suite.target.model,
                   "map_run": event.get("map_run_arn")}  # fmt: skip
        done = finish(
            self.records,
            self.blobs,
            self.signer,
            record,
            results=results,
            baseline=baseline_of(self.records, self.blobs, record),
            sources=sources,
        )
        Events(self.records, done).emit(
            "finished", gate_held=done.gate_held, **(done.summary or {})
        )
        return {"gate_held": done.gate_held, "items": len(items), "passed": results.summary.passed}

    def record_failure(self, event: dict[str, Any]) -> dict[str, Any]:
        error = event.get("error") or {}
        reason = f"{error.get('Error', 'failed')}: {error.get('Cause', '')}"[:2000]
        record = self._record(event["tenant_id"], event["run_id"])
        self.records.update(record.evolve(status=EvalRunStatus.FAILED, reason=reason,
                                          finished_at=utcnow()))  # fmt: skip
        Events(self.records, record).emit("failed", reason=reason)
        return {"reason": reason}

    def resources(self) -> dict[str, Callable[[Any], Any]]:
        """The ASL's task names, for the local runner."""
        return {
            "EvalPrepare": self.prepare,
            "EvalScoreBatch": self.score_batch,
            "EvalSummarize": self.summarize,
            "EvalRecordFailure": self.record_failure,
        }
