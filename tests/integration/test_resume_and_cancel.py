"""An analysis interrupted mid-run resumes from its last completed step; a cancelled one stops
between steps. Both end with a sealed report whose evidence verifies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import new_analysis_id, run_analysis
from assay.analysis.report import validate
from assay.config import load_settings
from assay.engines import Engine
from assay.evidence import verify_dir
from assay.evidence.log import LOG_FILE, LogEntry
from assay.records import Analysis, AnalysisEvent, AnalysisStatus
from assay.sandbox.process import ProcessSandbox
from assay.store.sqlite import SqliteStore
from assay.wiring import make_engine, make_signer
from tests.integration.conftest import EXAMPLE, REGISTRY
from tests.integration.test_pipeline import CART_REPAIRED, PRICING_TESTS
from tests.support.fake_llm import ScriptedLLM

pytestmark = REGISTRY
RULES = [("Module `shop/pricing.py`", PRICING_TESTS), ("Module `shop/cart.py`", CART_REPAIRED)]


class ServerDied(BaseException):
    """Stands in for the process being killed: nothing in the pipeline may handle it."""


def _run(
    home: Path,
    out: Path,
    base: str,
    store: SqliteStore,
    options: AnalysisOptions,
    *,
    before_generate: Callable[[], None] | None = None,
    **kwargs: Any,
) -> Any:
    settings = load_settings(
        home=home, model="openai/gpt-4o-mini", openai_api_base=base, openai_api_key="sk-x"
    )
    engine: Engine = make_engine(settings, "llm", None)
    if before_generate is not None:
        generate = engine.generate

        def interrupted(*args: Any) -> Any:
            before_generate()
            return generate(*args)

        engine.generate = interrupted  # type: ignore[method-assign,assignment]
    return run_analysis(
        settings, options, records=store, sandbox=ProcessSandbox(hidden=(home,)),
        engine=engine, signer=make_signer(settings), out=out, **kwargs,
    )  # fmt: skip


def _options() -> AnalysisOptions:
    return AnalysisOptions(
        analysis_id=new_analysis_id(), target=str(EXAMPLE), engine="llm",
        model="openai/gpt-4o-mini", budget_s=300, reruns=2, repair_turns=0, workers=1,
        engine_time_s=15,
    )  # fmt: skip


def _entries(out: Path) -> list[LogEntry]:
    return [LogEntry.model_validate_json(x) for x in (out / LOG_FILE).read_text().splitlines()]


def test_an_interrupted_analysis_resumes_from_its_last_completed_step(
    assay_home: Path, tmp_path: Path
) -> None:
    out, options = tmp_path / "out", _options()
    store = SqliteStore(load_settings(home=assay_home).database_path)
    llm = ScriptedLLM(RULES)
    crashes = ["once"]

    def die() -> None:
        if crashes:
            crashes.pop()
            raise ServerDied

    try:
        with llm.serve() as base:
            try:
                _run(assay_home, out, base, store, options, before_generate=die)
            except ServerDied:
                pass
            else:
                raise AssertionError("the first run should have died in Generate")
            stale = store.get(Analysis, "local", options.analysis_id)
            assert stale is not None and stale.status is AnalysisStatus.RUNNING
            stale = store.update(stale.evolve(attempts=1))  # as the worker's recovery does
            result = _run(assay_home, out, base, store, options, analysis=stale, resume=True)
        events = store.list(AnalysisEvent, "local", parent=options.analysis_id, limit=1000).items
        final = store.get(Analysis, "local", options.analysis_id)
    finally:
        store.close()

    report = result.report
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    assert report["funnel"]["kept"] == 2
    verdict = verify_dir(out)
    assert verdict.ok, verdict

    # The steps before the Map ran once; the log says where the run resumed.
    log = _entries(out)
    kinds = [e.type for e in log]
    assert kinds.count("intake") == kinds.count("baseline") == kinds.count("plan") == 1
    (resume,) = [e for e in log if e.type == "resume"]
    assert resume.payload == {"from": "Candidates", "attempt": 1, "discarded_entries": 0}
    assert kinds.index("plan") < kinds.index("resume") < kinds.index("generate")
    # Progress events from both runs form one unbroken sequence.
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert final is not None and final.status is AnalysisStatus.SUCCEEDED
    assert not (assay_home / "work" / options.analysis_id).exists()


def test_a_resume_without_a_checkpoint_starts_over(assay_home: Path, tmp_path: Path) -> None:
    out, options = tmp_path / "out", _options()
    store = SqliteStore(load_settings(home=assay_home).database_path)
    out.mkdir()
    (out / "leftover.txt").write_text("from an attempt whose work directory was lost")
    try:
        with ScriptedLLM(RULES).serve() as base:
            result = _run(assay_home, out, base, store, options, resume=True)
    finally:
        store.close()
    assert result.report["status"] == "succeeded"
    assert not (out / "leftover.txt").exists()
    assert verify_dir(out).ok


def test_a_cancelled_analysis_stops_between_steps_with_a_sealed_report(
    assay_home: Path, tmp_path: Path
) -> None:
    out, options = tmp_path / "out", _options()
    store = SqliteStore(load_settings(home=assay_home).database_path)

    def cancel_from_the_api() -> None:
        current = store.get(Analysis, "local", options.analysis_id)
        assert current is not None
        if current.status is AnalysisStatus.RUNNING:
            store.update(current.evolve(status=AnalysisStatus.CANCELLED, reason="cancelled by k1"))

    try:
        with ScriptedLLM(RULES).serve() as base:
            result = _run(
                assay_home, out, base, store, options, before_generate=cancel_from_the_api
            )
        final = store.get(Analysis, "local", options.analysis_id)
    finally:
        store.close()
    report = result.report
    assert (report["status"], report["reason"]) == ("cancelled", "cancelled by k1")
    assert validate(report) == []
    assert verify_dir(out).ok
    kinds = [e.type for e in _entries(out)]
    assert "cancel" in kinds and "select" not in kinds
    assert final is not None
    assert (final.status, final.reason) == (AnalysisStatus.CANCELLED, "cancelled by k1")
