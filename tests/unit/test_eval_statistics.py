"""The statistics behind run comparison and judge calibration, against values computed by hand
or published in textbooks."""

from __future__ import annotations

import pytest

from assay.evals.calibrate import Label, kappa, measure
from assay.evals.compare import _t_p_value, compare, mcnemar
from assay.evals.evaluators import Score
from assay.evals.results import ItemResult, Results, Summary


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs() -> None:
    assert mcnemar(0, 0) == 1.0
    assert mcnemar(0, 2) == pytest.approx(0.5)  # 2 * (1/4)
    assert mcnemar(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar(0, 6) == pytest.approx(2 / 64)  # significant at 5%


def test_the_t_p_value_matches_students_distribution() -> None:
    assert _t_p_value(2.0, 10) == pytest.approx(0.0734, abs=5e-4)
    assert _t_p_value(2.228, 10) == pytest.approx(0.05, abs=5e-4)
    assert _t_p_value(1.96, 1000) == pytest.approx(0.05, abs=1e-3)


def test_kappa_of_a_textbook_table() -> None:
    # 20 both yes, 15 both no, 5 and 10 disagreeing: kappa 0.4 (Wikipedia's example).
    pairs = [(True, True)] * 20 + [(False, False)] * 15 + [(True, False)] * 5 + [(False, True)] * 10
    assert kappa(pairs) == pytest.approx(0.4)
    assert kappa([(True, True), (False, False)]) == 1.0


def test_calibration_names_the_worst_disagreements_first() -> None:
    labels = [Label(id=str(i), output="x", human_score=h) for i, h in enumerate([1, 1, 0, 0])]
    verdicts = {"0": (1.0, "ok"), "1": (0.0, "wrong"), "2": (0.2, "meh"), "3": (0.0, "no")}
    found = measure("j", 0.5, labels, verdicts, errors=0)
    assert found.agreement == 0.75 and found.mean_absolute_deviation == pytest.approx(0.3)
    assert [d.id for d in found.disagreements] == ["1", "2"]
    assert found.confusion == {"both_pass": 1, "both_fail": 2, "judge_only_pass": 0,
                               "human_only_pass": 1}  # fmt: skip


def _run(passes: list[bool]) -> Results:
    items = [ItemResult(id=str(i), input={}, output="o", passed=p,
                        scores=[Score(name="s", score=float(p), passed=p, reason="r")])
             for i, p in enumerate(passes)]  # fmt: skip
    summary = Summary(items=len(items), passed=sum(passes), failed=0, errors=0, pass_rate=0,
                      mean_scores={}, tokens=0, cost_usd=0, duration_s=0)  # fmt: skip
    return Results(suite="s", summary=summary, gate_held=True, items=items)


def test_a_large_paired_drop_is_more_than_noise_and_a_small_one_is_not() -> None:
    big = compare(_run([False] * 30 + [True] * 70), _run([True] * 100), "base")
    assert len(big.regressions) == 30 and big.pass_rate.significant
    assert big.pass_rate.high < 0 and big.verdict.startswith("worse, more than noise")
    small = compare(_run([False] + [True] * 99), _run([True] * 100), "base")
    assert not small.pass_rate.significant and small.verdict.startswith("within noise")
    same = compare(_run([True] * 10), _run([True] * 10), "base")
    assert same.verdict == "no change" and same.pass_rate.delta == 0
