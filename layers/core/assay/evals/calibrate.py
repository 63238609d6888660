"""A judge against people: a JSONL of labels (an item's input, an output, and the score a
person gave it) scored by the judge, then agreement on pass/fail, Cohen's kappa, the mean
absolute deviation of scores, and the items where judge and people disagree most."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.errors import ValidationFailed
from assay.evals.evaluators import Observed
from assay.evals.judges import AnyJudge, JudgeFailed, Judging
from assay.evals.suite import read_lines
from assay.evals.target import TargetFailed

MAX_LABELS = 100_000


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    input: Any = None
    output: str
    expected: Any = None
    human_score: float = Field(ge=0.0, le=1.0)


class Disagreement(BaseModel):
    id: str
    human_score: float
    judge_score: float
    judge_reason: str


class Calibration(BaseModel):
    judge: str
    labels: int
    scored: int  # labels the judge gave a verdict for
    errors: int
    threshold: float
    agreement: float  # the share of labels where judge and person agree on pass/fail
    kappa: float  # Cohen's kappa of pass/fail: agreement beyond chance
    mean_absolute_deviation: float
    confusion: dict[str, int]  # both_pass, both_fail, judge_only_pass, human_only_pass
    disagreements: list[Disagreement]


def load_labels(path: Path) -> list[Label]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read the labels {path}: {exc}") from None
    return read_lines(text, path.name, Label, MAX_LABELS, "labels")


def kappa(pairs: list[tuple[bool, bool]]) -> float:
    """Cohen's kappa of two raters' pass/fail verdicts (1: perfect, 0: chance)."""
    n = len(pairs)
    if not n:
        return 0.0
    observed = sum(a == b for a, b in pairs) / n
    yes_a, yes_b = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    expected = yes_a * yes_b + (1 - yes_a) * (1 - yes_b)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def measure(judge_name: str, threshold: float, labels: list[Label],
            verdicts: dict[str, tuple[float, str]], errors: int) -> Calibration:  # fmt: skip
    scored = [(label, verdicts[label.id]) for label in labels if label.id in verdicts]
    pairs = [(v[0] >= threshold, label.human_score >= threshold) for label, v in scored]
    n = len(scored)
    confusion = {
        "both_pass": sum(j and h for j, h in pairs),
        "both_fail": sum(not j and not h for j, h in pairs),
        "judge_only_pass": sum(j and not h for j, h in pairs),
        "human_only_pass": sum(h and not j for j, h in pairs),
    }
    worst = sorted(scored, key=lambda lv: -abs(lv[1][0] - lv[0].human_score))
    return Calibration(
        judge=judge_name, labels=len(labels), scored=n, errors=errors, threshold=threshold,
        agreement=round(sum(j == h for j, h in pairs) / n, 4) if n else 0.0,
        kappa=round(kappa(pairs), 4),
        mean_absolute_deviation=round(
            sum(abs(v[0] - label.human_score) for label, v in scored) / n, 4) if n else 0.0,
        confusion=confusion,
        disagreements=[Disagreement(id=label.id, human_score=label.human_score,
                                    judge_score=v[0], judge_reason=v[1][:500])
                       for label, v in worst[:20] if abs(v[0] - label.human_score) > 0],
    )  # fmt: skip


async def calibrate(judge: AnyJudge, judging: Judging, labels: list[Label], *,
                    concurrency: int = 8) -> Calibration:  # fmt: skip
    gate = asyncio.Semaphore(max(1, concurrency))
    verdicts: dict[str, tuple[float, str]] = {}
    errors = 0

    async def one(label: Label) -> None:
        nonlocal errors
        values = {**(label.input if isinstance(label.input, dict) else {}),
                  "expected": label.expected}  # fmt: skip
        async with gate:
            try:
                score = await judging.score(
                    judge, values, label.input, Observed(output=label.output)
                )
            except (JudgeFailed, TargetFailed, ValueError):
                errors += 1
                return
        verdicts[label.id] = (score.score, score.reason)

    await asyncio.gather(*(one(label) for label in labels))
    return measure(judge.name, judge.threshold, labels, verdicts, errors)


def markdown(result: Calibration) -> str:
    c = result.confusion
    lines = [
        f"# Calibration of {result.judge}", "",
        f"- {result.scored} of {result.labels} labels scored ({result.errors} judge errors)",
        f"- agreement on pass/fail (threshold {result.threshold}): {100 * result.agreement:.1f}%",
        f"- Cohen's kappa: {result.kappa:.3f}",
        f"- mean absolute deviation of scores: {result.mean_absolute_deviation:.3f}",
        f"- both pass {c['both_pass']}, both fail {c['both_fail']}, judge only passes "
        f"{c['judge_only_pass']}, people only pass {c['human_only_pass']}", "",
    ]  # fmt: skip
    if result.disagreements:
        lines += ["| item | people | judge | judge's reason |", "|---|---|---|---|"]
        for d in result.disagreements:
            why = d.judge_reason.replace("|", "/")[:200]
            lines.append(f"| {d.id} | {d.human_score:.2f} | {d.judge_score:.2f} | {why} |")
    return "\n".join(lines) + "\n"
