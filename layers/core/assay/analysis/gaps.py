"""Every module with gaps that ended without a kept test, and why; and the warnings an analysis
must not keep quiet about. Nothing here is left for the user to guess."""

from __future__ import annotations

from collections import Counter
from typing import Any

from assay.analysis.selection import Verdict
from assay.engines import Target
from assay.runtimes import CoverageMap, Environment

# How each reason kind reads in one line (the report keeps the full reason too).
KIND_WORDS = {
    "timed_out": "the generator timed out",
    "crashed": "the generator crashed",
    "import_failed": "the module could not be imported",
    "nothing_to_call": "nothing to call",
    "no_tests": "the generator wrote no test",
    "budget_spent": "the time budget ran out first",
    "model_error": "the model failed",
    "discarded": "every candidate was discarded",
    "not_attempted": "not attempted",
}


def left_without_tests(
    targets: list[Target],
    verdicts: list[Verdict],
    generation: dict[str, dict[str, Any]],
    unplanned: dict[str, dict[str, Any]],
    after: CoverageMap | None = None,
) -> list[dict[str, Any]]:
    """`lines` and `branches` are what is still uncovered in the end (`after`): a module whose
    gap the tests kept for other modules closed is not left without tests."""
    kept = {v.evaluation.candidate.module for v in verdicts if v.status == "kept"}
    gaps = []
    for target in targets:
        if target.module in kept:
            continue
        lines, branches = len(target.missing_lines), len(target.missing_branches)
        if after is not None and target.module in after.files:
            final = after.files[target.module]
            lines, branches = len(final.missing), len(final.missing_branches)
        if lines + branches == 0:
            continue
        entry: dict[str, Any] = {"module": target.module, "lines": lines, "branches": branches}
        mine = [v for v in verdicts if v.evaluation.candidate.module == target.module]
        outcome = generation.get(target.module)
        if mine:
            stages = Counter(v.stage.value for v in mine)
            said = ", ".join(f"{n} at {stage}" for stage, n in sorted(stages.items()))
            first = mine[0]
            entry.update(kind="discarded",
                         reason=f"{len(mine)} candidate(s) discarded ({said}): {first.reason}",
                         detail="\n".join(first.evaluation.failures[:5]))  # fmt: skip
        elif outcome is not None:
            entry.update(kind=outcome.get("kind", "no_tests"), reason=outcome.get("reason", ""),
                         detail=outcome.get("detail", ""))  # fmt: skip
        else:
            entry.update(kind="no_tests", reason="the engine produced no candidate", detail="")
        gaps.append(entry)
    for module, info in sorted(unplanned.items()):
        gaps.append({"module": module, "lines": info.get("lines", 0),
                     "branches": info.get("branches", 0), "kind": "not_attempted",
                     "reason": info.get("reason", ""), "detail": ""})  # fmt: skip
    return gaps


def warnings(
    baseline: dict[str, Any] | None,
    environment: Environment | None,
    gaps: list[dict[str, Any]],
    verdicts: list[Verdict],
    *,
    planned: int,
) -> list[str]:
    said = list((baseline or {}).get("warnings", []))
    if environment is not None:
        said += [n for n in environment.notes if n.startswith("installed without")]
    kept = sum(v.status == "kept" for v in verdicts)
    attempted = [g for g in gaps if g["kind"] != "not_attempted"]
    if planned and not kept and attempted:
        kinds = Counter(KIND_WORDS.get(g["kind"], g["kind"]) for g in attempted)
        why = ", ".join(f"{kind}: {n}" for kind, n in kinds.most_common())
        said.append(f"no test could be kept for any of the {planned} module(s) with gaps ({why})")
    return said
