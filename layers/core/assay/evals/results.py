"""A run's results: each item's output scored by the suite's evaluators, the summary, whether
the gate holds, and the files a run writes (results.json, junit.xml, summary.md). Pure: the
outputs come from whoever called the target (the gateway, in a run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assay.analysis.report import write_junit
from assay.evals.evaluators import DETERMINISTIC, Observed, Score
from assay.evals.suite import Item, MinScore, Suite
from assay.evals.templates import MissingField
from assay.runtimes.port import TestCaseResult

SCHEMA_VERSION = 1
# Scores of the evaluators that are not pure functions (judges call a model, code runs in the
# sandbox): (the evaluator's settings, the item, what the target answered) -> its score. The run
# passes one in; without one a suite holding such an evaluator cannot be scored.
Judge = Callable[[Any, Item, Observed], Score]


class ItemResult(BaseModel):
    id: str
    input: dict[str, Any]
    expected: Any = None  # the item's, so a failing item reads whole
    output: str | None
    latency_ms: float = 0.0
    tokens: int = 0
    cost_usd: float = 0.0
    passed: bool
    scores: list[Score] = Field(default_factory=list)
    error: str | None = None  # the target or an evaluator could not be called


class Summary(BaseModel):
    items: int
    passed: int
    failed: int
    errors: int
    pass_rate: float
    mean_scores: dict[str, float]
    tokens: int
    cost_usd: float
    duration_s: float


class Results(BaseModel):
    schema_version: int = SCHEMA_VERSION
    run_id: str = ""
    suite: str
    model: str = ""  # the target the suite names
    summary: Summary
    gate_held: bool
    gate: str = ""  # what the gate asked, and why it held or not
    comparison: dict[str, Any] | None = None  # against a baseline (compare.Comparison)
    items: list[ItemResult]


def score_item(suite: Suite, item: Item, observed: Observed | None, *, error: str | None = None,
               tokens: int = 0, judge: Judge | None = None) -> ItemResult:  # fmt: skip
    """One item's result: every evaluator on the output, or the error that left none."""
    base = {"id": item.id, "input": item.input, "expected": item.expected, "tokens": tokens}
    if observed is None:
        return ItemResult(**base, output=None, passed=False, error=error or "no output")
    scores: list[Score] = []
    try:
        for evaluator in suite.evaluators:
            if isinstance(evaluator, DETERMINISTIC):
                scores.append(evaluator.evaluate(observed, item.values()))
            elif judge is None:
                raise RuntimeError(f"{evaluator.name}: no judge model to call")
            else:
                scores.append(judge(evaluator, item, observed))
    except (MissingField, RuntimeError, ValueError) as exc:
        error = str(exc)
    return ItemResult(**base, output=observed.output, latency_ms=observed.latency_ms,
                      cost_usd=observed.cost_usd, scores=scores, error=error,
                      passed=error is None and all(s.passed for s in scores))  # fmt: skip


def summarize(suite: Suite, items: list[ItemResult], duration_s: float) -> Results:
    """The run's summary, and whether its gate holds: every item passed (`all`), or the mean
    score over every evaluator and item reached `min_score`."""
    errors = sum(r.error is not None for r in items)
    passed = sum(r.passed for r in items)
    names = [e.name for e in suite.evaluators]
    means = {}
    for name in names:
        found = [s.score for r in items for s in r.scores if s.name == name]
        means[name] = round(sum(found) / len(found), 4) if found else 0.0
    summary = Summary(
        items=len(items), passed=passed, failed=len(items) - passed - errors, errors=errors,
        pass_rate=round(passed / len(items), 4) if items else 0.0, mean_scores=means,
        tokens=sum(r.tokens for r in items), cost_usd=round(sum(r.cost_usd for r in items), 6),
        duration_s=round(duration_s, 3),
    )  # fmt: skip
    if isinstance(suite.gate, MinScore):
        every = [s.score for r in items for s in r.scores]
        mean = sum(every) / len(every) if every else 0.0
        held = errors == 0 and mean >= suite.gate.min_score
        gate = (
            f"mean score {mean:.3f} {'>=' if mean >= suite.gate.min_score else '<'} "
            f"{suite.gate.min_score}" + (f", {errors} errors" if errors else "")
        )
    else:
        held = bool(items) and passed == len(items)
        gate = f"all items pass: {passed} of {len(items)} did"
    return Results(suite=suite.name, model=suite.target.model, summary=summary, gate_held=held,
                   gate=gate, items=items)  # fmt: skip


def write(results: Results, out: Path) -> list[str]:
    """results.json, junit.xml (a test case per item) and summary.md in `out`; their names."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(results.model_dump_json(indent=1) + "\n")
    cases = [
        TestCaseResult(
            test_id=f"{results.suite}::{r.id}", file=results.suite,
            outcome="passed" if r.passed else ("error" if r.error else "failed"),
            error_type="EvalError" if r.error else (None if r.passed else "EvalFailure"),
            message=r.error or "; ".join(f"{s.name}: {s.reason}" for s in r.scores
                                         if not s.passed) or None,
            detail=r.output,
        )
        for r in results.items
    ]  # fmt: skip
    write_junit(out / "junit.xml", cases, name=results.suite)
    (out / "summary.md").write_text(markdown(results))
    return ["results.json", "junit.xml", "summary.md"]


def markdown(results: Results) -> str:
    s = results.summary
    lines = [
        f"# Eval run: {results.suite}", "",
        f"- gate: **{'held' if results.gate_held else 'failed'}** ({results.gate})",
        f"- items: {s.items}, passed {s.passed}, failed {s.failed}, errors {s.errors} "
        f"(pass rate {100 * s.pass_rate:.1f}%)",
        f"- tokens {s.tokens}, cost ${s.cost_usd:.4f}, {s.duration_s:.1f} s", "",
        "| evaluator | mean score |", "|---|---|",
        *[f"| {name} | {mean:.3f} |" for name, mean in s.mean_scores.items()], "",
    ]  # fmt: skip
    failing = [r for r in results.items if not r.passed]
    if failing:
        lines += ["## Failing items", "", "| item | why |", "|---|---|"]
        for r in failing[:50]:
            why = r.error or "; ".join(f"{x.name}: {x.reason}" for x in r.scores if not x.passed)
            lines.append(f"| {r.id} | {why.replace('|', '/')[:300]} |")
        lines.append("")
    return "\n".join(lines)
