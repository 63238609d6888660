"""A run against a baseline run of the same dataset: which items regressed (passed before, fail
now) or improved, and whether the change in pass rate and mean score is more than noise.

Items are paired (the same id in both runs), so the tests are paired: McNemar's exact test on
the items whose verdict changed, and a t interval on the per-item score differences. Pure."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from assay.evals.results import ItemResult, Results

Z95 = 1.959964
# Student's t, 97.5th percentile, by degrees of freedom (1..30); above 30 the normal's.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042]  # fmt: skip
ALPHA = 0.05


class ItemChange(BaseModel):
    id: str
    before_passed: bool
    after_passed: bool
    before_score: float
    after_score: float
    before_output: str | None = None
    after_output: str | None = None
    reason: str = ""  # why it fails now (or failed before)


class Delta(BaseModel):
    before: float
    after: float
    delta: float
    low: float  # the 95% interval of the delta
    high: float
    p_value: float
    significant: bool  # more than noise at the 5% level


class Comparison(BaseModel):
    baseline: str  # the baseline run's id (or where it was read from)
    paired: int  # items in both runs
    only_in_baseline: int
    only_in_run: int
    regressions: list[ItemChange] = Field(default_factory=list)
    improvements: list[ItemChange] = Field(default_factory=list)
    pass_rate: Delta
    mean_score: Delta
    verdict: str  # one sentence


def item_score(result: ItemResult) -> float:
    """An item's score: the mean of its evaluators' (0 when it erred before any)."""
    return sum(s.score for s in result.scores) / len(result.scores) if result.scores else 0.0


def _why(result: ItemResult) -> str:
    if result.error:
        return result.error
    return "; ".join(f"{s.name}: {s.reason}" for s in result.scores if not s.passed)[:500]


def mcnemar(improved: int, regressed: int) -> float:
    """Two-sided exact p-value that improvements and regressions are equally likely."""
    discordant = improved + regressed
    if discordant == 0:
        return 1.0
    low = min(improved, regressed)
    tail = sum(math.comb(discordant, k) for k in range(low + 1)) / 2**discordant
    return float(min(1.0, 2 * tail))


def _t(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else Z95


def _t_p_value(t: float, df: int) -> float:
    """Two-sided p for a t statistic: the normal's for large df, a conservative one below."""
    if df > 30:
        return math.erfc(abs(t) / math.sqrt(2))
    # Student's t survival by the regularized incomplete beta, through a series that is exact
    # enough for the verdict (significant at 5% or not).
    x = df / (df + t * t)
    return min(1.0, _incomplete_beta(df / 2, 0.5, x))


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) by its continued fraction (Numerical Recipes' betacf)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log(1 - x))  # fmt: skip
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _incomplete_beta(b, a, 1 - x)
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    f = d
    for m in range(1, 200):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1.0 + numerator / c if abs(c) > 1e-300 else 1e-300
            f *= c * d
        if abs(c * d - 1.0) < 1e-12:
            break
    return front * f / a


def compare(run: Results, baseline: Results, baseline_name: str) -> Comparison:
    before = {r.id: r for r in baseline.items}
    after = {r.id: r for r in run.items}
    paired = [i for i in after if i in before]
    regressions: list[ItemChange] = []
    improvements: list[ItemChange] = []
    diffs: list[float] = []
    for item_id in paired:
        b, a = before[item_id], after[item_id]
        diffs.append(item_score(a) - item_score(b))
        if b.passed != a.passed:
            change = ItemChange(
                id=item_id, before_passed=b.passed, after_passed=a.passed,
                before_score=round(item_score(b), 4), after_score=round(item_score(a), 4),
                before_output=b.output, after_output=a.output, reason=_why(a if b.passed else b),
            )  # fmt: skip
            (regressions if b.passed else improvements).append(change)
    n = len(paired)
    rate_before = sum(before[i].passed for i in paired) / n if n else 0.0
    rate_after = sum(after[i].passed for i in paired) / n if n else 0.0
    up, down = len(improvements), len(regressions)
    delta = (up - down) / n if n else 0.0
    # The paired difference of proportions' standard error (Agresti, 2002, 10.1).
    se = math.sqrt(max(0.0, (up + down) / n - delta * delta) / n) if n else 0.0
    p_rate = mcnemar(up, down)
    rate = Delta(before=round(rate_before, 4), after=round(rate_after, 4), delta=round(delta, 4),
                 low=round(delta - Z95 * se, 4), high=round(delta + Z95 * se, 4),
                 p_value=round(p_rate, 6), significant=p_rate < ALPHA)  # fmt: skip
    mean = sum(diffs) / n if n else 0.0
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else 0.0
    half = _t(n - 1) * sd / math.sqrt(n) if n > 1 else 0.0
    if sd > 0 and n > 1:
        p_score = _t_p_value(mean / (sd / math.sqrt(n)), n - 1)
    else:
        p_score = 1.0 if mean == 0 else 0.0
    score = Delta(
        before=round(sum(item_score(before[i]) for i in paired) / n, 4) if n else 0.0,
        after=round(sum(item_score(after[i]) for i in paired) / n, 4) if n else 0.0,
        delta=round(mean, 4), low=round(mean - half, 4), high=round(mean + half, 4),
        p_value=round(p_score, 6), significant=n > 1 and p_score < ALPHA,
    )  # fmt: skip
    return Comparison(
        baseline=baseline_name, paired=n, only_in_baseline=len(set(before) - set(after)),
        only_in_run=len(set(after) - set(before)), regressions=regressions,
        improvements=improvements, pass_rate=rate, mean_score=score,
        verdict=_verdict(rate, score, down, up),
    )  # fmt: skip


def _verdict(rate: Delta, score: Delta, down: int, up: int) -> str:
    moved = f"{down} regressed, {up} improved"
    if rate.significant or score.significant:
        direction = (
            "worse" if (rate.delta < 0 if rate.significant else score.delta < 0) else "better"
        )
        return f"{direction}, more than noise (p={min(rate.p_value, score.p_value):.3g}): {moved}"
    if down or up or score.delta:
        return f"within noise (p={min(rate.p_value, score.p_value):.3g}): {moved}"
    return "no change"


def markdown(comparison: Comparison) -> str:
    c = comparison
    lines = [
        f"## Against {c.baseline}", "",
        f"- **{c.verdict}**",
        f"- pass rate {100 * c.pass_rate.before:.1f}% -> {100 * c.pass_rate.after:.1f}% "
        f"(delta {100 * c.pass_rate.delta:+.1f} points, 95% CI {100 * c.pass_rate.low:+.1f} to "
        f"{100 * c.pass_rate.high:+.1f}, p={c.pass_rate.p_value:.3g})",
        f"- mean score {c.mean_score.before:.3f} -> {c.mean_score.after:.3f} "
        f"(delta {c.mean_score.delta:+.3f}, 95% CI {c.mean_score.low:+.3f} to "
        f"{c.mean_score.high:+.3f}, p={c.mean_score.p_value:.3g})",
        f"- {c.paired} items paired; {c.only_in_baseline} only in the baseline, "
        f"{c.only_in_run} only in this run", "",
    ]  # fmt: skip
    for title, changes in (("Regressions", c.regressions), ("Improvements", c.improvements)):
        if changes:
            lines += [f"### {title}", "", "| item | before | after | why |", "|---|---|---|---|"]
            lines += [f"| {x.id} | {x.before_score:.2f} | {x.after_score:.2f} | "
                      f"{x.reason.replace('|', '/')[:200]} |" for x in changes[:50]]  # fmt: skip
            lines.append("")
    return "\n".join(lines)
