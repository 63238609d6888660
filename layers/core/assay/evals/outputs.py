"""A run's output directory: results.json, summary.md, junit.xml, and evidence/ (the same
hash-linked, signed log as analyses: what was run, on which data, with which outcome), so
`assay verify DIR` tells whether any file was edited afterwards. Everything is written at the
end, once the run has its results: a run refused before it starts leaves nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.evals import results as results_files
from assay.evals.compare import Comparison
from assay.evals.compare import markdown as comparison_markdown
from assay.evals.results import Results
from assay.evidence.log import EvidenceLog
from assay.evidence.signing import Signer


def write_run(
    out: Path, results: Results, signer: Signer, *, sources: dict[str, Any],
    comparison: Comparison | None = None,
) -> list[str]:  # fmt: skip
    """Write the run's files and seal them; `sources` (the suite and dataset, with their
    digests) is the log's first entry. Returns the files written."""
    if comparison is not None:
        results = results.model_copy(update={"comparison": comparison.model_dump()})
    names = results_files.write(results, out)
    if comparison is not None:
        with (out / "summary.md").open("a", encoding="utf-8") as summary:
            summary.write("\n" + comparison_markdown(comparison))
    log = EvidenceLog(out, results.run_id)
    log.append("eval.sources", sources)
    s = results.summary
    log.append(
        "eval.results",
        {"suite": results.suite, "model": results.model, "gate_held": results.gate_held,
         "items": s.items, "passed": s.passed, "failed": s.failed, "errors": s.errors,
         "pass_rate": s.pass_rate},
        artifacts=names,
    )  # fmt: skip
    log.seal(signer)
    return [*names, "evidence/"]


def read_results(path: Path) -> Results:
    """A previous run's results: its directory or its results.json."""
    file = path / "results.json" if path.is_dir() else path
    return Results.model_validate_json(file.read_text(encoding="utf-8"))
