"""Run one analysis locally: the ASL definition executed by the in-process runner.

The same `statemachines/analysis.asl.json` runs on Step Functions in AWS; here every Task's
resource is a bound method of `AnalysisSteps`. Progress goes to a callback (the terminal) and to
the analysis's event records (what the API streams).
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assay.analysis.options import AnalysisOptions
from assay.analysis.steps import AnalysisSteps, Stores, finish_report
from assay.clock import new_id
from assay.config import Settings
from assay.engines import Engine
from assay.errors import ValidationFailed
from assay.intake import IntakePolicy
from assay.records import Analysis, AnalysisEvent, AnalysisStatus
from assay.runtimes.python import PythonRuntime
from assay.sandbox import Sandbox
from assay.store import RecordStore
from assay.workflow import ExecutionFailed, StateMachine

LOCAL_TENANT = "local"
DEFINITION = "analysis.asl.json"


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


def choose_engine(engine: str, model: str | None, settings: Settings) -> Engine:
    model = model or settings.model
    if engine == "auto":
        engine = "llm" if model else "offline"
    if engine == "llm":
        if not model:
            raise ValidationFailed(
                "--engine llm needs a model",
                fix="pass --model openai/NAME (or set ASSAY_MODEL)",
            )
        from assay.engines.llm import LlmEngine

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return LlmEngine(model, api_base=settings.openai_api_base, api_key=key)
    from assay.engines.offline import OfflineEngine

    return OfflineEngine()


class EventRecorder:
    """Appends progress events to the analysis record, in order, and forwards them."""

    def __init__(
        self,
        records: RecordStore,
        analysis: Analysis,
        forward: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self._records = records
        self._analysis = analysis
        self._forward = forward
        self._seq = analysis.last_event  # a resumed analysis continues its numbering
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
) -> AnalysisResult:
    """Run one analysis. With `analysis` (a queued record, as the server submits them) that
    record is moved to running; without, a record is created in the local tenant."""
    if analysis is None:
        analysis = records.create(
            Analysis(
                id=options.analysis_id,
                tenant_id=LOCAL_TENANT,
                source=options.target[:2048],
                ref=options.ref,
                engine=options.engine,
                model=getattr(engine, "model", None),
                budget_s=int(options.budget_s),
                status=AnalysisStatus.RUNNING,
            )
        )
    else:
        analysis = records.update(analysis.evolve(status=AnalysisStatus.RUNNING))
    forward = progress or _silent
    recorder = EventRecorder(records, analysis, forward)
    work = settings.home / "work" / options.analysis_id
    stores = Stores(work=work, out=out)
    out.mkdir(parents=True, exist_ok=True)
    steps = AnalysisSteps(
        options, stores, sandbox=sandbox, engine=engine, signer=signer,
        cache=settings.cache_dir, emit=recorder, intake_policy=intake_policy,
        runtimes=[PythonRuntime(package_hosts=settings.package_host_list)],
    )  # fmt: skip
    machine = StateMachine(
        definition(),
        steps.resources(),
        max_workers=options.workers,
        on_event=lambda kind, name, _: forward(f"state.{kind}", {"state": name}),
    )
    state = {"analysis_id": options.analysis_id, "target": options.target}
    try:
        machine.run(state)
    except ExecutionFailed as failed:
        if not (out / "report.json").exists():
            # Even RecordFailure failed: still leave a report saying why.
            body = steps.report_body("failed", f"{failed.error}: {failed.cause}")
            finish_report(out, body, steps.evidence.head, len(steps.evidence.entries), "")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    final = records.get(type(analysis), analysis.tenant_id, analysis.id)
    if final is not None:
        records.update(
            final.evolve(
                status=AnalysisStatus.SUCCEEDED
                if report["status"] == "succeeded"
                else AnalysisStatus.FAILED,
                reason=report.get("reason"),
                report_key=str(out / "report.json"),
                last_event=recorder.last,
            )
        )
    return AnalysisResult(analysis_id=options.analysis_id, out=out, report=report)


def _silent(kind: str, data: dict[str, Any]) -> None:
    """Progress is optional."""


def new_analysis_id() -> str:
    return new_id()
