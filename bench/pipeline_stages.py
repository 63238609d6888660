"""Per-stage timings of the example analysis (what `make run` does), warm and cold caches,
and the effect of executing candidates in parallel (1 worker vs the number of cores)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import choose_engine, new_analysis_id, run_analysis
from assay.config import load_settings
from assay.sandbox.process import ProcessSandbox
from assay.store.sqlite import SqliteStore
from assay.wiring import make_signer

ROOT = Path(__file__).resolve().parent
EXAMPLE = ROOT.parent / "examples" / "shop"


def analyze(home: Path, workers: int) -> dict[str, object]:
    settings = load_settings(home=home)
    store = SqliteStore(settings.database_path)
    options = AnalysisOptions(analysis_id=new_analysis_id(), target=str(EXAMPLE),
                              engine="offline", budget_s=300, workers=workers,
                              engine_time_s=15)  # fmt: skip
    started = time.perf_counter()
    try:
        result = run_analysis(
            settings, options, records=store, sandbox=ProcessSandbox(hidden=(home,)),
            engine=choose_engine("offline", None, settings), signer=make_signer(settings),
            out=Path(tempfile.mkdtemp(prefix="assay-bench-out-")),
        )  # fmt: skip
    finally:
        store.close()
    report = result.report
    return {
        "workers": workers,
        "wall_s": round(time.perf_counter() - started, 2),
        "stages_s": report["stages"],
        "funnel": report["funnel"],
        "coverage": {k: (v["line_pct"], v["branch_pct"]) for k, v in report["coverage"].items()},
    }


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="assay-bench-home-"))
    cores = os.cpu_count() or 1
    figures = {
        "cold_cache": analyze(home, cores),  # builds the project environment
        "warm_cache_parallel": analyze(home, cores),
        "warm_cache_serial": analyze(home, 1),
    }
    print(json.dumps(figures, indent=2))
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "pipeline_stages.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
