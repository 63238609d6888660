"""A run submitted through the API: its suite and items from the stores, its results sealed
in a scratch directory and kept in the blob store (`tenants/<t>/evals/runs/<id>/...`), its
record updated with the headline. The local worker runs it here whole; in AWS the same
pieces run as Step Functions states (`evals.distributed`)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.blobs import BlobStore
from assay.blobs.port import tenant_key
from assay.clock import utcnow
from assay.errors import NotFound, ValidationFailed
from assay.evals.compare import Comparison, compare
from assay.evals.datasets import get_version, read_items
from assay.evals.judges import Completer, Judging, MemoryJudgeCache
from assay.evals.outputs import write_run
from assay.evals.results import ItemResult, Results
from assay.evals.runner import run
from assay.evals.suite import Item, Suite
from assay.evals.target import release
from assay.evidence.signing import Signer
from assay.records import AnalysisEvent, EvalRun, EvalRunStatus
from assay.store import RecordStore

FILES = ("results.json", "junit.xml", "summary.md")
PROGRESS_EVERY = 25  # items between progress events


def suite_of(run_record: EvalRun) -> Suite:
    return Suite.model_validate({**run_record.suite, "dataset": run_record.dataset_id})


def check_items(suite: Suite, items: list[Item]) -> None:
    wanted = suite.placeholders()
    for item in items:
        missing = sorted(wanted - set(item.values()))
        if missing:
            raise ValidationFailed(f"item {item.id!r} has no {', '.join(missing)}, which the "
                                   "suite uses")  # fmt: skip


def prefix_of(run_record: EvalRun) -> str:
    return tenant_key(run_record.tenant_id, "evals", "runs", run_record.id)


def execution_input(records: RecordStore, blobs: BlobStore, run_record: EvalRun,
                    bucket: str | None) -> dict[str, Any]:  # fmt: skip
    """The eval-run state machine's input: the run record kept beside its results (where the
    map's batches read it), and the dataset version's JSONL as the map's items."""
    version = get_version(records, run_record.tenant_id, run_record.dataset_id,
                          run_record.dataset_version)  # fmt: skip
    suite_key = f"{prefix_of(run_record)}/run.json"
    blobs.put(suite_key, run_record.model_dump_json().encode())
    return {"run_id": run_record.id, "tenant_id": run_record.tenant_id, "bucket": bucket,
            "suite_key": suite_key, "dataset_key": version.blob_key,
            "concurrency": run_record.concurrency}  # fmt: skip


def read_run_results(blobs: BlobStore, run_record: EvalRun) -> Results:
    if run_record.results_prefix is None:
        raise NotFound(f"run {run_record.id} has no results yet")
    return Results.model_validate_json(blobs.get(f"{run_record.results_prefix}/results.json"))


class Events:
    """A run's events, numbered, in the same records as an analysis's (parent: the run)."""

    def __init__(self, records: RecordStore, run_record: EvalRun) -> None:
        self.records, self.run, self.seq = records, run_record, 0
        page = records.list(AnalysisEvent, run_record.tenant_id, parent=run_record.id,
                            limit=1, newest_first=True)  # fmt: skip
        self.seq = page.items[0].seq if page.items else 0

    def emit(self, kind: str, **data: Any) -> None:
        self.seq += 1
        self.records.create(AnalysisEvent(tenant_id=self.run.tenant_id, analysis_id=self.run.id,
                                          seq=self.seq, type=kind, data=data))  # fmt: skip


def finish(
    records: RecordStore, blobs: BlobStore, signer: Signer, run_record: EvalRun, *,
    results: Results, baseline: Results | None, sources: dict[str, Any],
) -> EvalRun:  # fmt: skip
    """Compare, seal, keep the files in the blob store, and record the headline."""
    results = results.model_copy(update={"run_id": run_record.id})
    comparison: Comparison | None = None
    if baseline is not None:
        comparison = compare(results, baseline, baseline.run_id)
    prefix = prefix_of(run_record)
    with tempfile.TemporaryDirectory(prefix="assay-eval-") as scratch:
        out = Path(scratch)
        write_run(out, results, signer, sources=sources, comparison=comparison)
        for path in sorted(out.rglob("*")):
            if path.is_file():
                blobs.put(f"{prefix}/{path.relative_to(out).as_posix()}", path.read_bytes())
    headline = None
    if comparison is not None:
        headline = {"baseline": comparison.baseline, "verdict": comparison.verdict,
                    "regressions": len(comparison.regressions),
                    "improvements": len(comparison.improvements),
                    "pass_rate_delta": comparison.pass_rate.delta}  # fmt: skip
    current = records.get(EvalRun, run_record.tenant_id, run_record.id) or run_record
    return records.update(current.evolve(
        status=EvalRunStatus.SUCCEEDED, gate_held=results.gate_held, gate=results.gate,
        summary=results.summary.model_dump(), comparison=headline, results_prefix=prefix,
        finished_at=utcnow(),
    ))  # fmt: skip


def baseline_of(records: RecordStore, blobs: BlobStore, run_record: EvalRun) -> Results | None:
    if not run_record.baseline_run_id:
        return None
    found = records.get(EvalRun, run_record.tenant_id, run_record.baseline_run_id)
    if found is None:
        raise NotFound(f"no run {run_record.baseline_run_id}")
    return read_run_results(blobs, found)


def execute(
    records: RecordStore, blobs: BlobStore, signer: Signer, run_record: EvalRun,
    completer: Completer, *, code_scorer: Callable[..., Any] | None = None,
) -> EvalRun:  # fmt: skip
    """Run a queued run here, whole (the local worker)."""
    events = Events(records, run_record)
    suite = suite_of(run_record)
    version = get_version(records, run_record.tenant_id, run_record.dataset_id,
                          run_record.dataset_version)  # fmt: skip
    items = read_items(blobs, version)
    baseline = baseline_of(records, blobs, run_record)
    outputs = {r.id: r.output for r in baseline.items if r.output} if baseline else {}
    events.emit("started", items=len(items), suite=suite.name, model=suite.target.model)
    answered = 0
    step = max(1, min(PROGRESS_EVERY, len(items) // 20))  # small runs show progress too

    def progress(result: ItemResult | None) -> None:
        nonlocal answered
        if result is None:
            answered += 1
            if answered % step == 0 or answered == len(items):
                events.emit("progress", answered=answered, items=len(items))

    async def scored() -> Results:
        try:
            return await run(
                suite, items, completer, judging=Judging(completer, MemoryJudgeCache()),
                concurrency=run_record.concurrency, code_scorer=code_scorer, baseline=outputs,
                on_item=progress,
            )  # fmt: skip
        finally:  # connections belong to this run's event loop
            await release(completer)

    results = asyncio.run(scored())
    sources = {"suite": suite.name, "dataset": run_record.dataset_id,
               "dataset_version": version.number, "dataset_sha256": version.sha256,
               "items": len(items), "model": suite.target.model}  # fmt: skip
    done = finish(records, blobs, signer, run_record, results=results, baseline=baseline,
                  sources=sources)  # fmt: skip
    events.emit("finished", gate_held=done.gate_held, **(done.summary or {}))
    return done
