"""The console's evaluation pages end to end, in a real headless Chromium driven by Playwright,
against `assay serve` on loopback whose gateway reaches scripted models (a target answering
capitals, a `broken` one getting two wrong, and a fair judge).

Seeded through the API, as a user would: a dataset with two versions, a run of the good target
and a run of the broken one against it as the baseline (its eval worker runs them), and online
scores of a resource's live traffic. Screenshots land in `test-artifacts/console/`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from assay.records.api_keys import mint_key
from tests.e2e.test_console import BUILT, _accessible, _shot, _watch_for_errors
from tests.e2e.test_serve import serving
from tests.support.eval_models import CAPITALS, EvalModels

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DASH, MINUS = "\u2013", "\u2212"  # as the console writes ranges and negative changes


@pytest.fixture
def chromium() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed; run `make setup` (scripts/ensure-system-deps)")
    if not BUILT.is_file():
        pytest.fail("the console is not built; run `make setup` (npm run build)")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


class Api:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(method, path, **kwargs)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def finished_run(self, body: dict[str, Any]) -> dict[str, Any]:
        """Submit a run and wait while the server's eval worker runs it."""
        run_id = self.ok("POST", "/v1/evals/runs", json=body)["id"]
        deadline = time.monotonic() + 30
        while True:
            found: dict[str, Any] = self.ok("GET", f"/v1/evals/runs/{run_id}")
            if found["status"] in {"succeeded", "failed"} or time.monotonic() > deadline:
                assert found["status"] == "succeeded", found
                return found
            time.sleep(0.2)


def _suite(model: str) -> dict[str, Any]:
    return {
        "name": "capitals", "dataset": "capitals",
        "target": {"model": model, "messages": [
            {"role": "user", "content": "What is the capital of {{country}}?"}]},
        "evaluators": [{"name": "exact", "type": "equals", "ignore_case": True},
                       {"name": "judge", "type": "llm_judge", "model": "fair-judge",
                        "rubric": "Is it {{expected}}?"}],
        "pass": {"min_score": 0.9},
    }  # fmt: skip


def _seed(api: Api, upstream: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scripted models behind the gateway, a dataset of two versions, a good run and a
    broken one against it; then online scores of the good target's live traffic."""
    connection = {"name": "scripted", "base_url": upstream}
    made = api.ok("POST", "/v1/gateway/connections", json=connection)
    for model in ("capital-bot", "broken-bot", "fair-judge"):
        target = {"targets": [{"connection_id": made["id"], "model": model}]}
        api.ok("PUT", f"/v1/gateway/resources/{model}", json=target)
    lines = "".join(json.dumps({"id": c.lower(), "input": {"country": c}, "expected": city}) + "\n"
                    for c, city in CAPITALS.items())  # fmt: skip
    jsonl = {"Content-Type": "application/x-ndjson"}
    api.ok("POST", "/v1/evals/datasets/capitals/upload", content=lines, headers=jsonl,
           params={"description": "Countries and their capitals"})  # fmt: skip
    api.ok("POST", "/v1/evals/datasets/capitals/upload", content=lines.split("\n", 1)[1],
           headers=jsonl)  # fmt: skip
    good = api.finished_run({"suite": _suite("capital-bot"), "dataset_version": 1})
    broken = api.finished_run({"suite": _suite("broken-bot"), "dataset_version": 1,
                               "baseline_run_id": good["id"]})  # fmt: skip
    assert broken["comparison"]["regressions"] == 2
    # Online evaluation of capital-bot's live answers (after the runs: theirs are not sampled).
    shape = {"name": "shape", "type": "regex", "pattern": "^[A-Z][a-z]+$"}
    rule = {"sample_rate": 1.0, "evaluators": [shape]}
    api.ok("PUT", "/v1/gateway/resources/capital-bot",
           json={"targets": [{"connection_id": made["id"], "model": "capital-bot"}],
                 "evaluation": rule})  # fmt: skip
    for country in ("France", "Atlantis"):
        question = {"role": "user", "content": f"What is the capital of {country}?"}
        asked = {"model": "capital-bot", "messages": [question]}
        api.ok("POST", "/v1/chat/completions", json=asked)
    deadline = time.monotonic() + 20
    while sum(t["samples"] for t in api.ok("GET", "/v1/evals/scores")) < 2:
        assert time.monotonic() < deadline, "online evaluation never scored the samples"
        time.sleep(0.2)
    return good, broken


def _open(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Evaluations").get_by_role("link", name=link).click()


def test_the_evaluation_pages(tmp_path: Path, chromium: Browser) -> None:
    key = mint_key()
    models = EvalModels()
    with models.serve() as upstream, serving(tmp_path, ASSAY_BOOTSTRAP_API_KEY=key) as (base, _):
        api = Api(base, key)
        good, broken = _seed(api, upstream)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors = _watch_for_errors(page)
        page.goto(base + "/")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Sections").get_by_role("link", name="Evals").click()

        # The runs, newest first, with their pass rates, gates and verdicts.
        expect(page.get_by_role("heading", name="Eval runs")).to_be_visible()
        rows = page.locator("table.eval-runs tbody tr")
        expect(rows).to_have_count(2)
        newest, oldest = rows.nth(0), rows.nth(1)
        expect(newest).to_have_attribute("data-run-id", broken["id"])
        expect(newest.locator("td.pass-rate")).to_contain_text("66.7%")
        expect(newest.locator("td.pass-rate")).to_contain_text("4 of 6")
        expect(newest).to_contain_text("gate failed")
        expect(newest).to_contain_text("2 regressed, 0 improved")
        expect(newest).to_contain_text("broken-bot")
        expect(oldest.locator("td.pass-rate")).to_contain_text("100.0%")
        expect(oldest).to_contain_text("gate held")
        expect(oldest).to_contain_text("no baseline")
        _shot(page, "evals-01-runs")
        _accessible(page, "eval runs")

        # The broken run: summary, gate, scores and their distribution, failing items first.
        newest.get_by_role("link", name="capitals", exact=True).click()
        expect(page.get_by_role("heading", name="capitals", exact=True)).to_be_visible()
        expect(page.get_by_test_id("pass-rate")).to_have_text("66.7%")
        expect(page.get_by_test_id("gate")).to_contain_text("Gate failed: mean score 0.667 < 0.9")
        expect(page.get_by_test_id("baseline-verdict")).to_contain_text("2 regressed")
        expect(page.get_by_test_id("mean-exact")).to_have_text("0.67")
        exact = page.get_by_role("list", name="Distribution of exact's scores")
        expect(exact.get_by_role("listitem").first).to_contain_text(f"score 0.0{DASH}0.1: 2 items")
        expect(exact.get_by_role("listitem").last).to_contain_text(f"score 0.9{DASH}1.0: 4 items")
        items = page.locator("ul.eval-items > li")
        expect(items).to_have_count(6)
        failing = {items.nth(i).get_attribute("data-item-id") for i in range(2)}
        assert failing == {"kenya", "peru"}  # failing first
        expect(items.nth(2)).to_contain_text("passed")
        kenya = page.locator("li[data-item-id=kenya]")
        expect(kenya).to_contain_text("failed")
        expect(kenya.get_by_label("Output of kenya")).to_have_text("Mombasa")
        expect(kenya.get_by_label("Input of kenya")).to_contain_text('"country": "Kenya"')
        scores = kenya.get_by_role("table", name="Scores of kenya")
        expect(scores.get_by_role("row", name="exact")).to_contain_text("expected 'nairobi'")
        expect(scores.get_by_role("row", name="judge")).to_contain_text("not just a capital")
        _shot(page, "evals-02-run")
        _accessible(page, "eval run")

        # Compared with its baseline: the regressions with the outputs before and after.
        page.get_by_role("link", name="Compare item by item").click()
        expect(page.get_by_test_id("compare-verdict")).to_contain_text("within noise")
        expect(page.get_by_label("Baseline run")).to_have_value(good["id"])
        deltas = page.get_by_role("table", name="Pass rate and mean score")
        expect(deltas.get_by_role("row", name="Pass rate")).to_contain_text(f"{MINUS}33.3 pts")
        expect(deltas.get_by_role("row", name="Pass rate")).to_contain_text("no, within noise")
        regressions = page.get_by_role("region", name="Regressions (2)")
        changed = (("peru", "Lima", "Lima, I think"), ("kenya", "Nairobi", "Mombasa"))
        for item, before, after in changed:
            change = regressions.locator(f"li[data-item-id={item}]")
            expect(change.locator("pre").first).to_have_text(before)
            expect(change.locator("pre").last).to_have_text(after)
        expect(page.get_by_role("region", name="Improvements (0)")).to_be_visible()
        _shot(page, "evals-03-compare")
        _accessible(page, "eval compare")

        # The good run has no baseline: pick one, and the same items read as improvements.
        page.goto(f"{base}/#/evals/runs/{good['id']}")
        page.get_by_role("link", name="Compare with another run").click()
        expect(page.get_by_text("Pick a baseline run to compare with.")).to_be_visible()
        page.get_by_label("Baseline run").select_option(broken["id"])
        expect(page.get_by_role("region", name="Improvements (2)")).to_contain_text("Mombasa")
        expect(page.get_by_role("region", name="Regressions (0)")).to_be_visible()

        # Datasets: the versions, and a version's items.
        _open(page, "Datasets")
        page.get_by_role("link", name="capitals", exact=True).click()
        versions = page.get_by_role("region", name="Versions (2)")
        expect(versions.locator("tr[data-version='2']")).to_contain_text("v2 (latest)")
        expect(versions.locator("tr[data-version='2']")).to_contain_text("upload:jsonl")
        expect(versions.locator("tr[data-version='1']")).to_contain_text("6")
        shown = page.get_by_role("region", name="Items of v2")
        expect(shown.locator("tbody tr")).to_have_count(5)  # v2 has no france
        page.get_by_role("link", name="v1: show items").click()
        expect(page.get_by_role("region", name="Items of v1").locator("tbody tr")).to_have_count(6)
        expect(page.get_by_role("rowheader", name="france")).to_be_visible()
        _shot(page, "evals-04-dataset")
        _accessible(page, "dataset")

        # Judges: one made here, listed with its endpoint.
        _open(page, "Judges")
        expect(page.get_by_text("No judges yet.")).to_be_visible()
        page.get_by_role("button", name="Add a judge").click()
        page.get_by_label("Name (letters").fill("capitals")
        page.get_by_label("Target model").fill("capital-bot")
        page.get_by_label("Evaluators (JSON list").fill(
            '[{"name": "exact", "type": "equals", "value": "{{expected}}"}]'
        )
        page.get_by_role("button", name="Save judge").click()
        expect(page.get_by_test_id("endpoint-capitals")).to_have_text(
            f"POST {base}/v1/judges/capitals/chat/completions"
        )
        _shot(page, "evals-05-judges")
        _accessible(page, "judges")

        # Online scores, per resource and hour.
        _open(page, "Online scores")
        trend = page.get_by_role("region", name="Resource capital-bot")
        expect(trend.locator("tbody tr").first.locator("td").first).to_have_text("2")  # samples
        expect(trend.get_by_role("columnheader", name="shape (mean)")).to_be_visible()
        expect(trend.locator("tbody tr").first).to_contain_text("50.0%")
        _shot(page, "evals-06-scores")
        _accessible(page, "online scores")

        # A run followed live while it runs (a slow model), then its results.
        models.delay_s = 1.5
        queued = api.ok("POST", "/v1/evals/runs", json={"suite": _suite("capital-bot")})
        page.goto(f"{base}/#/evals/runs/{queued['id']}")
        expect(page.get_by_role("region", name="Progress")).to_contain_text("of 5 items answered")
        expect(page.get_by_text("● live")).to_be_visible()
        _shot(page, "evals-07-run-live")
        expect(page.locator(".badge-succeeded")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("pass-rate")).to_have_text("100.0%")
        expect(page.get_by_role("region", name="Progress")).to_have_count(0)
        context.close()

        # Readable on a phone: the widest page (the comparison) fits a 390px screen.
        phone = chromium.new_context(viewport={"width": 390, "height": 844})
        small = phone.new_page()
        small.goto(f"{base}/#/evals/runs/{broken['id']}/compare")
        small.get_by_label("API key").fill(key)
        small.get_by_role("button", name="Sign in").click()
        expect(small.get_by_role("region", name="Regressions (2)")).to_contain_text("Mombasa")
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the page is {width}px wide on a 390px screen"
        _shot(small, "evals-08-phone-compare")
        phone.close()
    assert errors == []
