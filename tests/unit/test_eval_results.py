"""Scoring a run's items, its summary and gate, and the files it writes, on outputs given
as the target would answer them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from assay.evals.evaluators import Observed, Score
from assay.evals.judges import LlmJudge
from assay.evals.results import score_item, summarize, write
from assay.evals.suite import Item, Suite

SUITE: dict[str, Any] = {
    "name": "capitals",
    "target": {"model": "bot", "messages": [{"role": "user", "content": "{{country}}?"}]},
    "dataset": "d.jsonl",
    "evaluators": [{"name": "exact", "type": "equals", "ignore_case": True},
                   {"name": "shape", "type": "regex", "pattern": "^[A-Z]", "full": False}],
}  # fmt: skip
FR = Item(id="fr", input={"country": "France"}, expected="Paris")
JP = Item(id="jp", input={"country": "Japan"}, expected="Tokyo")


def test_items_are_scored_summarized_and_gated() -> None:
    suite = Suite.model_validate(SUITE)
    good = score_item(suite, FR, Observed(output="Paris", latency_ms=40, cost_usd=0.001), tokens=12)
    bad = score_item(suite, JP, Observed(output="kyoto"), tokens=10)
    lost = score_item(suite, JP.model_copy(update={"id": "x"}), None, error="the gateway said 429")
    assert good.passed and not bad.passed and lost.error == "the gateway said 429"
    results = summarize(suite, [good, bad, lost], duration_s=1.5)
    s = results.summary
    assert (s.items, s.passed, s.failed, s.errors, s.tokens) == (3, 1, 1, 1, 22)
    assert s.pass_rate == 0.3333 and s.mean_scores == {"exact": 0.5, "shape": 0.5}
    assert not results.gate_held
    lenient = Suite.model_validate({**SUITE, "pass": {"min_score": 0.5}})
    assert summarize(lenient, [good, bad], 1.0).gate_held
    assert not summarize(lenient, [good, bad, lost], 1.0).gate_held  # an error fails the gate


def test_a_judge_is_called_with_its_settings_or_the_item_errs() -> None:
    suite = Suite.model_validate({**SUITE, "evaluators": [
        {"name": "judge", "type": "llm_judge", "model": "j", "rubric": "correct?"}]})  # fmt: skip

    def judge(settings: LlmJudge, item: Item, observed: Observed) -> Score:
        right = observed.output == item.expected
        return Score(name=settings.name, score=float(right), passed=right, reason=settings.rubric)

    assert score_item(suite, FR, Observed(output="Paris"), judge=judge).passed
    unjudged = score_item(suite, FR, Observed(output="Paris"))
    assert not unjudged.passed and "no judge model" in (unjudged.error or "")


def test_the_run_writes_results_junit_and_a_summary(tmp_path: Path) -> None:
    suite = Suite.model_validate(SUITE)
    results = summarize(suite, [score_item(suite, FR, Observed(output="Paris")),
                                score_item(suite, JP, Observed(output="kyoto"))], 2.0)  # fmt: skip
    assert write(results, tmp_path) == ["results.json", "junit.xml", "summary.md"]
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["schema_version"] == 1 and written["summary"]["passed"] == 1
    junit = ElementTree.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert junit is not None and (junit.get("tests"), junit.get("failures")) == ("2", "1")
    failure = junit.find("testcase[@name='jp']/failure")
    assert failure is not None and "exact: expected 'tokyo'" in failure.get("message", "")
    summary = (tmp_path / "summary.md").read_text()
    assert "gate: **failed**" in summary and "| jp | exact: expected 'tokyo'" in summary
