"""Run one analysis locally: the ASL definition executed by the in-process runner.

The same `statemachines/analysis.asl.json` runs on Step Functions in AWS; here every Task's
resource is a bound method of `AnalysisSteps`. Progress goes to a callback (the terminal) and to
the analysis's event records (what the API streams).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assay.analysis import report as reports
from assay.analysis.options import AnalysisOptions
from assay.analysis.state import StepsState, Stores
from assay.analysis.steps import AnalysisSteps
from assay.clock import new_id
from assay.config import Settings
from assay.engines import Engine
from assay.evidence import EvidenceLog
from assay.intake import IntakePolicy
from assay.records import Analysis, AnalysisEvent, AnalysisStatus, AnalysisSummary
from assay.runtimes import registry
from assay.sandbox import Sandbox
from assay.store import RecordStore
from assay.workflow import ExecutionFailed, StateMachine, Stopped

LOCAL_TENANT = "local"
DEFINITION = "analysis.asl.json"
CHECKPOINT = "checkpoint.json"


class AnalysisResult(BaseModel):
    analysis_id: str
    out: Path
    report: dict[str, Any]

    @property
    def succeeded(self) -> bool:
        return self.report.get("status") == "succeeded"


def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((files("assay.workflow") / DEFINITION).read_text())
    return loaded


class EventRecorder:
    """Appends progress events to the analysis record, in order, and forwards them."""

    def __init__(
        self,
        records: RecordStore,
        analysis: Analysis,
        forward: Callable[[str, dict[str, Any]], None],
        *,
        after: int = 0,
    ) -> None:
        self._records = records
        self._analysis = analysis
        self._forward = forward
        self._seq = after  # a resumed analysis continues its numbering
        self._lock = threading.Lock()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            self._records.create(
                AnalysisEvent(
                    tenant_id=self._analysis.tenant_id,
                    analysis_id=self._analysis.id,
                    seq=self._seq,
                    type=kind,
                    data=json.loads(json.dumps(data, default=str)),
                )
            )
        self._forward(kind, data)

    @property
    def last(self) -> int:
        return self._seq


class Checkpoint(BaseModel):
    """Written before each top-level state: where to resume, with what, knowing what."""

    next_state: str
    input: Any
    evidence_entries: int
    steps: StepsState


def _load_checkpoint(work: Path) -> Checkpoint | None:
    try:
        return Checkpoint.model_validate_json((work / CHECKPOINT).read_bytes())
    except (OSError, ValueError):
        return None


def _save_checkpoint(work: Path, checkpoint: Checkpoint) -> None:
    """Atomically: a crash mid-write leaves the previous checkpoint."""
    work.mkdir(parents=True, exist_ok=True)
    staging = work / (CHECKPOINT + ".tmp")
    staging.write_text(checkpoint.model_dump_json())
    os.replace(staging, work / CHECKPOINT)


def _last_event(records: RecordStore, analysis: Analysis) -> int:
    page = records.list(
        AnalysisEvent, analysis.tenant_id, parent=analysis.id, limit=1, newest_first=True
    )
    return max([analysis.last_event, *(e.seq for e in page.items)])


def _cancel_reason(records: RecordStore, analysis: Analysis) -> Callable[[], str | None]:
    def check() -> str | None:
        current = records.get(Analysis, analysis.tenant_id, analysis.id)
        if current is not None and current.status is AnalysisStatus.CANCELLED:
            return current.reason or "cancelled"
        return None

    return check


def _settle(
    records: RecordStore,
    analysis: Analysis,
    *,
    report: dict[str, Any],
    cancelled: str | None,
    out: Path,
    last_event: int,
) -> None:
    """The record's final status: cancelled wins (a user asked), else what the report says."""
    final = records.get(Analysis, analysis.tenant_id, analysis.id)
    if final is None:
        return
    if cancelled is not None or final.status is AnalysisStatus.CANCELLED:
        status, reason = AnalysisStatus.CANCELLED, final.reason or cancelled
    elif report["status"] == "succeeded":
        status, reason = AnalysisStatus.SUCCEEDED, None
    else:
        status, reason = AnalysisStatus.FAILED, report.get("reason")
    settled = final.evolve(
        status=status, reason=reason, report_key=str(out / "report.json"),
        last_event=last_event, summary=AnalysisSummary.of(report),
    )  # fmt: skip
    records.update(settled)


def run_analysis(
    settings: Settings,
    options: AnalysisOptions,
    *,
    records: RecordStore,
    sandbox: Sandbox,
    engine: Engine,
    signer: Any,
    out: Path,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
    intake_policy: IntakePolicy | None = None,
    analysis: Analysis | None = None,
    resume: bool = False,
    publish: Callable[[Path], None] | None = None,
) -> AnalysisResult:
    """Run one analysis. With `analysis` (a queued record, as the server submits them) that
    record is moved to running; without, a record is created in the local tenant.

    Before each top-level state a checkpoint is saved in the work directory. With `resume`,
    a run interrupted by a stopped server continues from its last checkpoint (or starts over
    when there is none), and a record cancelled meanwhile stops between two states.
    `publish` receives the output directory once its report is sealed, before the record says
    the analysis finished (so whoever sees it finished can fetch the output)."""
    analysis = _open_record(records, options, engine, analysis)
    forward = progress or _silent
    work = settings.home / "work" / options.analysis_id
    checkpoint, evidence = _resume_point(work, out, options.analysis_id, resume)
    recorder = EventRecorder(records, analysis, forward, after=_last_event(records, analysis))
    out.mkdir(parents=True, exist_ok=True)
    steps = AnalysisSteps(
        options, Stores(work=work, out=out), sandbox=sandbox, engine=engine, signer=signer,
        cache=settings.cache_dir, emit=recorder, intake_policy=intake_policy,
        runtimes=registry.runtimes(settings), evidence=evidence,
    )  # fmt: skip

    def save(name: str, data: Any) -> None:
        _save_checkpoint(
            work,
            Checkpoint(
                next_state=name, input=data, evidence_entries=len(steps.evidence.entries),
                steps=steps.export_state(),
            ),
        )  # fmt: skip

    machine = StateMachine(
        definition(),
        steps.resources(),
        max_workers=options.workers,
        on_event=lambda kind, name, _: forward(f"state.{kind}", {"state": name}),
        on_transition=save,
        should_stop=_cancel_reason(records, analysis),
    )
    state: Any = {"tenant_id": analysis.tenant_id, "analysis_id": options.analysis_id,
                  "target": options.target}  # fmt: skip
    start_at = None
    if checkpoint is not None:
        steps.restore_state(checkpoint.steps)
        steps.record_resume(
            checkpoint.next_state, analysis.attempts, evidence.discarded if evidence else 0
        )
        state, start_at = checkpoint.input, checkpoint.next_state
    elif resume:
        recorder("analysis.restarted", {"attempt": analysis.attempts})
    cancelled = _execute(machine, steps, state, start_at, out)
    shutil.rmtree(work, ignore_errors=True)  # only once done: a crash keeps it to resume from
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    if publish is not None:
        publish(out)
    _settle(
        records, analysis, report=report, cancelled=cancelled, out=out, last_event=recorder.last
    )
    return AnalysisResult(analysis_id=options.analysis_id, out=out, report=report)


def _open_record(
    records: RecordStore, options: AnalysisOptions, engine: Engine, analysis: Analysis | None
) -> Analysis:
    """The analysis's record, running: the submitted one, or a new one in the local tenant."""
    if analysis is None:
        return records.create(
            Analysis(
                id=options.analysis_id, tenant_id=LOCAL_TENANT, source=options.target[:2048],
                ref=options.ref, engine=options.engine, model=engine.model,
                budget_s=int(options.budget_s), status=AnalysisStatus.RUNNING,
            )
        )  # fmt: skip
    if analysis.status is not AnalysisStatus.RUNNING:
        return records.update(analysis.evolve(status=AnalysisStatus.RUNNING))
    return analysis


def _resume_point(
    work: Path, out: Path, analysis_id: str, resume: bool
) -> tuple[Checkpoint | None, EvidenceLog | None]:
    """Where an interrupted run left off, with its evidence reopened; (None, None) for a fresh
    start, which first clears whatever an earlier attempt left."""
    checkpoint = _load_checkpoint(work) if resume else None
    if checkpoint is not None:
        try:
            return checkpoint, EvidenceLog.reopen(out, analysis_id, checkpoint.evidence_entries)
        except (OSError, ValueError):
            pass
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return None, None


def _execute(
    machine: StateMachine, steps: AnalysisSteps, state: Any, start_at: str | None, out: Path
) -> str | None:
    """Run the workflow to its end; returns the cancellation reason when it was cancelled.
    Whatever happens, out/ ends with a report."""
    try:
        machine.run(state, start_at=start_at)
    except Stopped as stop:
        steps.record_cancellation(stop.reason)
        return stop.reason
    except ExecutionFailed as failed:
        if not (out / "report.json").exists():
            # Even RecordFailure failed: still leave a report saying why.
            body = steps.report_body("failed", f"{failed.error}: {failed.cause}")
            reports.finish(out, body, steps.evidence.head, len(steps.evidence.entries), "")
    return None


def _silent(kind: str, data: dict[str, Any]) -> None:
    """Progress is optional."""


def new_analysis_id() -> str:
    return new_id()
