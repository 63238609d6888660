"""Across candidates: keep each only if it strictly adds coverage over the baseline plus the
candidates kept before it, then only if its tests still pass inside the whole suite."""

from __future__ import annotations

from pydantic import BaseModel

from assay.analysis.funnel import Evaluation, Stage
from assay.runtimes import CoverageMap, TestRun


class Verdict(BaseModel):
    evaluation: Evaluation
    status: str  # kept | discarded
    stage: Stage  # where it was discarded, or KEPT
    reason: str
    new_lines: int = 0
    new_branches: int = 0


def by_gain(evaluations: list[Evaluation], baseline: CoverageMap) -> list[Verdict]:
    """Decide `gained` in a stable order (by candidate id), accumulating coverage."""
    verdicts = []
    covered = baseline
    for evaluation in sorted(evaluations, key=lambda e: e.candidate.candidate_id):
        if not evaluation.survived:
            verdicts.append(
                Verdict(
                    evaluation=evaluation,
                    status="discarded",
                    stage=evaluation.discarded_at or Stage.BUILT,
                    reason=evaluation.reason,
                )
            )
            continue
        coverage = evaluation.coverage or CoverageMap()
        lines, branches = coverage.gain_over(covered)
        if lines + branches == 0:
            verdicts.append(
                Verdict(
                    evaluation=evaluation,
                    status="discarded",
                    stage=Stage.GAINED,
                    reason="adds no line or branch coverage over the baseline and earlier tests",
                )
            )
            continue
        covered = covered.merged(coverage)
        verdicts.append(
            Verdict(
                evaluation=evaluation,
                status="kept",
                stage=Stage.GAINED,
                reason=f"adds {lines} line(s) and {branches} branch(es)",
                new_lines=lines,
                new_branches=branches,
            )
        )
    return verdicts


def confirm_in_suite(verdicts: list[Verdict], suite: TestRun) -> list[Verdict]:
    """A gained candidate is kept only if all its tests pass when the whole suite runs."""
    failing_files = {t.file for t in suite.failed}
    confirmed = []
    for verdict in verdicts:
        if verdict.status != "kept":
            confirmed.append(verdict)
            continue
        path = verdict.evaluation.candidate.path
        if path in failing_files:
            confirmed.append(
                verdict.model_copy(
                    update={
                        "status": "discarded",
                        "stage": Stage.KEPT,
                        "reason": "fails when run inside the whole suite (order or state "
                        "dependence)",
                    }
                )
            )
        else:
            confirmed.append(verdict.model_copy(update={"stage": Stage.KEPT}))
    return confirmed


def funnel_counts(generated: int, verdicts: list[Verdict]) -> dict[str, int]:
    """How many candidates reached each stage, `generated` being the engine's first files.
    Every repair turn is a candidate too: the earlier turns count in `generated` and in the
    stages they reached, so a file refused at build and then repaired counts as generated
    twice and built once. Gained and kept are decided for items' last turns only."""
    order = list(Stage)
    earlier = [stage for v in verdicts for stage in v.evaluation.earlier]
    counts = {Stage.GENERATED.value: generated + len(earlier)}
    for stage in order[order.index(Stage.BUILT) :]:
        rank = order.index(stage)
        last = sum(1 for v in verdicts if v.status == "kept" or order.index(v.stage) > rank)
        counts[stage.value] = last + sum(1 for s in earlier if order.index(s) >= rank)
    return counts
