"""`assay eval run` as users run it (a separate process), through this machine's gateway, against
scripted models on 127.0.0.1: the target and every kind of judge, baselines and regressions,
the evidence, and wrong input refused before any model is called."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.eval_models import CAPITALS, EvalModels

ASSAY = shutil.which("assay", path=str(Path(sys.executable).parent)) or "assay"


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[EvalModels, str]]:
    scripted = EvalModels()
    with scripted.serve() as base:
        yield scripted, base


def assay(home: Path, base: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "OPENAI"))}
    environment.update({"ASSAY_HOME": str(home), "ASSAY_OPENAI_API_BASE": base,
                        "ASSAY_OPENAI_API_KEY": "sk-test"})  # fmt: skip
    result = subprocess.run([ASSAY, *args], capture_output=True, text=True, env=environment,
                            timeout=120, check=False)  # fmt: skip
    assert "Traceback" not in result.stderr + result.stdout
    return result


def write_suite(
    folder: Path,
    evaluators: Sequence[Mapping[str, Any]],
    *,
    model: str = "capital-bot",
    gate: object = "all",
    items: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = items or [{"id": c.lower(), "input": {"country": c}, "expected": city}
                     for c, city in CAPITALS.items()]  # fmt: skip
    (folder / "capitals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = {
        "name": "capitals",
        "target": {"model": model, "params": {"temperature": 0}, "messages": [
            {"role": "system", "content": "Answer with the city only."},
            {"role": "user", "content": "What is the capital of {{country}}?"}]},
        "dataset": "capitals.jsonl", "evaluators": evaluators, "pass": gate,
    }  # fmt: skip
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    return folder / "suite.yaml"


EVERY_KIND: list[dict[str, Any]] = [
    {"name": "exact", "type": "equals", "value": "{{expected}}", "ignore_case": True},
    {"name": "mentions", "type": "contains", "value": "{{expected}}"},
    {"name": "shape", "type": "regex", "pattern": "^[A-Z][a-z]+$"},
    {"name": "close", "type": "similarity", "threshold": 0.9},
    {"name": "fast", "type": "latency", "max": 30000},
    {"name": "cheap", "type": "cost", "max": 1},
    {"name": "judge", "type": "llm_judge", "model": "fair-judge",
     "rubric": "Is the answer {{expected}}?", "threshold": 0.7},
    {"name": "versus", "type": "pairwise", "model": "fair-judge", "rubric": "Which is better?"},
    {"name": "panel", "type": "panel", "models": ["fair-judge", "shaky-judge"],
     "rubric": "Correct?"},
    {"name": "code", "type": "python",
     "code": "def score(output, item):\n    return output == item['expected']\n"},
]  # fmt: skip


def judge_calls(scripted: EvalModels) -> int:
    return sum(str(r.get("model", "")).endswith("judge") for r in scripted.requests)


def test_a_suite_with_every_evaluator_runs_gates_seals_and_reruns_from_the_cache(
    tmp_path: Path, models: tuple[EvalModels, str]
) -> None:
    scripted, base = models
    suite = write_suite(tmp_path / "suite", EVERY_KIND)
    out = tmp_path / "run"
    result = assay(tmp_path / "home", base, "eval", "run", str(suite), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "6/6 passed" in result.stdout
    results = json.loads((out / "results.json").read_text())
    assert results["schema_version"] == 1 and results["gate_held"]
    summary = results["summary"]
    assert summary["items"] == 6 and summary["passed"] == 6 and summary["errors"] == 0
    assert set(summary["mean_scores"]) == {e["name"] for e in EVERY_KIND}
    assert summary["tokens"] > 0
    paris = next(i for i in results["items"] if i["id"] == "france")
    assert paris["output"] == "Paris" and paris["passed"]
    by_name = {s["name"]: s for s in paris["scores"]}
    assert by_name["versus"]["score"] == 0.5  # both bare capitals: a tie in both orders
    assert "fair-judge" in by_name["panel"]["reason"]
    junit = (out / "junit.xml").read_text()
    assert junit.count("<testcase") == 6
    assert "Eval run: capitals" in (out / "summary.md").read_text()
    verified = assay(tmp_path / "home", base, "verify", str(out))
    assert verified.returncode == 0, verified.stderr
    # The same run again: every judge answer comes from the cache.
    before = judge_calls(scripted)
    again = assay(tmp_path / "home", base, "eval", "run", str(suite), "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    assert judge_calls(scripted) == before
    # Eval traffic went through the gateway, marked and accounted.
    usage = assay(tmp_path / "home", base, "eval", "run", str(suite), "--json",
                  "--out", str(tmp_path / "c"))  # fmt: skip
    assert json.loads(usage.stdout)["model"] == "capital-bot"


def test_editing_any_result_afterwards_is_caught(
    tmp_path: Path, models: tuple[EvalModels, str]
) -> None:
    _, base = models
    suite = write_suite(tmp_path / "suite", EVERY_KIND[:3])
    out = tmp_path / "run"
    assert (
        assay(tmp_path / "home", base, "eval", "run", str(suite), "--out", str(out)).returncode == 0
    )
    results = json.loads((out / "results.json").read_text())
    results["items"][0]["output"] = "Lyon"
    (out / "results.json").write_text(json.dumps(results))
    verified = assay(tmp_path / "home", base, "verify", str(out))
    assert verified.returncode == 1
    assert "results.json was changed" in verified.stderr


def test_a_changed_target_regresses_against_its_baseline(
    tmp_path: Path, models: tuple[EvalModels, str]
) -> None:
    _, base = models
    evaluators = [{"name": "exact", "type": "equals", "ignore_case": True}]
    home = tmp_path / "home"
    good = write_suite(tmp_path / "good", evaluators, gate={"min_score": 0.5})
    assert (
        assay(home, base, "eval", "run", str(good), "--out", str(tmp_path / "before")).returncode
        == 0
    )
    broken = write_suite(tmp_path / "broken", evaluators, model="broken-bot",
                         gate={"min_score": 0.5})  # fmt: skip
    lenient = assay(home, base, "eval", "run", str(broken), "--baseline", str(tmp_path / "before"),
                    "--out", str(tmp_path / "after"))  # fmt: skip
    assert lenient.returncode == 0, lenient.stderr  # 4 of 6 still pass: the min_score gate holds
    comparison = json.loads((tmp_path / "after" / "results.json").read_text())["comparison"]
    assert sorted(c["id"] for c in comparison["regressions"]) == ["kenya", "peru"]
    assert comparison["improvements"] == [] and comparison["paired"] == 6
    assert comparison["pass_rate"]["delta"] == pytest.approx(-2 / 6, abs=1e-3)
    assert not comparison["pass_rate"]["significant"]  # 2 of 6 is within noise (McNemar p=0.5)
    assert "Regressions" in (tmp_path / "after" / "summary.md").read_text()
    strict = assay(home, base, "eval", "run", str(broken), "--baseline", str(tmp_path / "before"),
                   "--fail-on-regression", "--out", str(tmp_path / "strict"))  # fmt: skip
    assert strict.returncode == 1
    assert "2 items regressed" in strict.stdout
    floor = assay(home, base, "eval", "run", str(good), "--min-pass-rate", "1",
                  "--out", str(tmp_path / "floor"))  # fmt: skip
    assert floor.returncode == 0
    after, before = str(tmp_path / "after"), str(tmp_path / "before")
    compared = assay(home, base, "eval", "compare", after, before, "--fail-on-regression")
    assert compared.returncode == 1 and "kenya" in compared.stdout


def test_judges_that_misbehave_fail_their_items_not_the_run(
    tmp_path: Path, models: tuple[EvalModels, str]
) -> None:
    _, base = models
    evaluators = [
        {"name": "shaky", "type": "llm_judge", "model": "shaky-judge", "rubric": "ok?"},
        {"name": "biased", "type": "pairwise", "model": "first-judge", "rubric": "better?"},
    ]
    suite = write_suite(tmp_path / "s", evaluators)
    out = tmp_path / "run"
    result = assay(tmp_path / "home", base, "eval", "run", str(suite), "--out", str(out))
    items = json.loads((out / "results.json").read_text())["items"]
    assert result.returncode == 0, result.stderr  # malformed once, then asked again: passes
    biased = next(s for s in items[0]["scores"] if s["name"] == "biased")
    assert biased["score"] == 0.5 and "changed with the order" in biased["reason"]
    garbled = write_suite(tmp_path / "g", [
        {"name": "garbled", "type": "llm_judge", "model": "garbled-judge", "rubric": "ok?"},
        {"name": "slow", "type": "llm_judge", "model": "slow-judge", "rubric": "ok?",
         "timeout_s": 0.5}], items=[{"id": "fr", "input": {"country": "France"}}])  # fmt: skip
    failed = assay(
        tmp_path / "home", base, "eval", "run", str(garbled), "--out", str(tmp_path / "g2")
    )
    assert failed.returncode == 1
    item = json.loads((tmp_path / "g2" / "results.json").read_text())["items"][0]
    assert item["output"] == "Paris" and not item["passed"]
    assert "malformed JSON twice" in item["error"] or "no verdict in 0.5 s" in item["error"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_type", "evaluators.0.equals.ignore_case"),
        ("duplicate_ids", "is repeated"),
        ("huge_line", "over the"),
        ("unknown_model", "no gateway model nobody-bot"),
        ("missing_field", "has no country"),
        ("no_file", "cannot read the suite"),
    ],
)
def test_wrong_input_is_refused_before_any_model_is_called(
    tmp_path: Path, models: tuple[EvalModels, str], case: str, expected: str
) -> None:
    scripted, base = models
    folder = tmp_path / "s"
    suite = write_suite(folder, [{"name": "exact", "type": "equals"}])
    data = folder / "capitals.jsonl"
    if case == "wrong_type":
        write_suite(folder, [{"name": "exact", "type": "equals", "ignore_case": "sometimes"}])
    elif case == "duplicate_ids":
        data.write_text(data.read_text() + data.read_text().splitlines()[0] + "\n")
    elif case == "huge_line":
        big = {"id": "big", "input": {"country": "x" * (50 * 1024 * 1024)}}
        data.write_text(data.read_text() + json.dumps(big) + "\n")
    elif case == "unknown_model":
        write_suite(folder, [{"name": "exact", "type": "equals"}], model="nobody-bot")
    elif case == "missing_field":
        write_suite(folder, [{"name": "exact", "type": "equals"}],
                    items=[{"id": "a", "input": {"nation": "France"}}])  # fmt: skip
    else:
        suite = folder / "absent.yaml"
    asked = len(scripted.requests)
    environment_base = "" if case == "unknown_model" else base
    out = tmp_path / "out"
    result = assay(
        tmp_path / "home", environment_base, "eval", "run", str(suite), "--out", str(out)
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert result.stderr.count("error:") == 1
    assert not out.exists()
    assert len(scripted.requests) == asked


def test_calibrate_scores_a_judge_against_people(
    tmp_path: Path, models: tuple[EvalModels, str]
) -> None:
    _, base = models
    suite = write_suite(
        tmp_path / "s",
        [{"name": "judge", "type": "llm_judge", "model": "fair-judge", "rubric": "Correct?"}],
    )
    labels = [
        {"id": "1", "input": {"country": "France"}, "output": "Paris", "human_score": 1},
        {"id": "2", "input": {"country": "Japan"}, "output": "Tokyo", "human_score": 1},
        {"id": "3", "input": {"country": "Peru"}, "output": "Lima, I think", "human_score": 0},
        {"id": "4", "input": {"country": "Kenya"}, "output": "Cairo", "human_score": 0},
    ]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(x) + "\n" for x in labels))
    result = assay(tmp_path / "home", base, "eval", "calibrate", str(suite),
                   str(tmp_path / "labels.jsonl"), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    # The scripted judge passes any bare capital: it disagrees with people on "Cairo" only.
    assert found["scored"] == 4 and found["agreement"] == 0.75
    assert found["kappa"] == pytest.approx(0.5)
    assert [d["id"] for d in found["disagreements"]] == ["4"]
    bad = assay(tmp_path / "home", base, "eval", "calibrate", str(suite), str(suite))
    assert bad.returncode == 2 and "line 1" in bad.stderr
