"""Whole analyses of the example project: the LLM engine against a scripted server over real
HTTP (LiteLLM), and the offline engine (Pynguin), each in the process sandbox."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import new_analysis_id, run_analysis
from assay.analysis.report import validate
from assay.config import load_settings
from assay.evidence import verify_dir
from assay.records import Analysis, AnalysisEvent
from assay.sandbox.process import ProcessSandbox
from assay.store.sqlite import SqliteStore
from assay.wiring import make_engine, make_signer
from tests.integration.conftest import EXAMPLE, REGISTRY
from tests.support.fake_llm import ScriptedLLM

pytestmark = REGISTRY

PRICING_TESTS = """Here are the tests:

```python
import pytest
from shop.pricing import apply_discount, bulk_price, median


def test_negative_price_is_rejected():
    with pytest.raises(ValueError):
        apply_discount(-1.0, 10)


def test_percent_above_100_is_rejected():
    with pytest.raises(ValueError):
        apply_discount(10.0, 150)


def test_bulk_price_tiers():
    assert bulk_price(1.0, 0) == 0.0
    assert bulk_price(2.0, 5) == 10.0
    assert bulk_price(1.0, 10) == 9.5
    assert bulk_price(1.0, 100) == 90.0


def test_median_of_even_count_is_mean_of_middle_values():
    assert median([4, 1, 3, 2]) == 2.5


def test_median_of_empty_list_is_rejected():
    with pytest.raises(ValueError):
        median([])
```
"""

CART_BROKEN = "```python\nfrom shop.cart import Cart\n\ndef test_total(:\n    pass\n```\n"

CART_REPAIRED = """```python
import pytest
from shop.cart import Cart


def test_empty_cart_total_is_zero():
    assert Cart().total() == 0.0


def test_code_discounts_the_total():
    cart = Cart()
    cart.add("book", 20.0, 2)
    assert cart.use_code("welcome10") is True
    assert cart.total() == 36.0


def test_unknown_code_is_refused():
    assert Cart().use_code("FREE") is False


def test_remove_and_missing_items():
    cart = Cart()
    cart.add("pen", 1.5)
    cart.add("pen", 1.5, 3)
    assert cart.subtotal() == 6.0
    cart.remove("pen")
    with pytest.raises(KeyError):
        cart.remove("pen")
    with pytest.raises(ValueError):
        cart.add("pen", 1.0, 0)
    assert cart.total() == 0.0


def test_total_without_code():
    cart = Cart()
    cart.add("mug", 7.25)
    assert cart.total() == 7.25
```
"""


def _analyze(home: Path, out: Path, engine: str, **settings_overrides: Any) -> Any:
    settings = load_settings(home=home, **settings_overrides)
    chosen = make_engine(settings, engine, None)
    options = AnalysisOptions(
        analysis_id=new_analysis_id(), target=str(EXAMPLE), engine=engine,
        model=getattr(chosen, "model", None), budget_s=300, reruns=3,
        repair_turns=settings.repair_turns, workers=2, engine_time_s=15,
    )  # fmt: skip
    store = SqliteStore(settings.database_path)
    events: list[str] = []
    try:
        result = run_analysis(
            settings, options, records=store,
            sandbox=ProcessSandbox(hidden=(home,)), engine=chosen,
            signer=make_signer(settings), out=out,
            progress=lambda kind, data: events.append(kind),
        )  # fmt: skip
        stored = store.list(AnalysisEvent, "local", parent=result.analysis_id, limit=1000).items
        analysis = store.get(Analysis, "local", result.analysis_id)
    finally:
        store.close()
    return result, stored, analysis, events


def _kept_tests_run_in_the_project(out: Path, tmp_path: Path, home: Path) -> None:
    """Copy the project, add tests/ from the output, run pytest from its root."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    shutil.copytree(out / "tests", project / "tests", dirs_exist_ok=True)
    python = next((home / "cache" / "envs").glob("*/bin/python"))
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_llm_engine_end_to_end_with_repair_findings_and_cost(
    assay_home: Path, tmp_path: Path
) -> None:
    llm = ScriptedLLM(
        [
            ("Your previous test file for `shop/cart.py`", CART_REPAIRED),
            ("Module `shop/pricing.py`", PRICING_TESTS),
            ("Module `shop/cart.py`", CART_BROKEN),
        ]
    )
    out = tmp_path / "out"
    with llm.serve() as base:
        result, events, analysis, progress = _analyze(
            assay_home, out, "llm", model="openai/gpt-4o-mini", openai_api_base=base,
            openai_api_key="sk-scripted", repair_turns=2,
        )  # fmt: skip
    report = result.report
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []

    # The cart candidate did not build, was repaired once over HTTP, and was then kept.
    asked = [r["messages"][-1]["content"] for r in llm.requests]
    repairs = [text for text in asked if "Your previous test file" in text]
    assert len(repairs) == 1
    assert "not valid Python" in repairs[0]
    cart = next(t for t in report["tests"] if t["module"] == "shop/cart.py")
    assert (cart["status"], cart["turns"]) == ("kept", 1)

    # The median test that asserts the documented behaviour fails every time: a finding.
    (finding,) = report["findings"]
    assert finding["test_id"].endswith("test_median_of_even_count_is_mean_of_middle_values")
    assert finding["error_type"] == "AssertionError"
    assert finding["runs"] == 3
    assert (out / finding["path"]).is_file()
    # ...and the rest of that file is kept, pruned of the failing test.
    pricing = next(t for t in report["tests"] if t["module"] == "shop/pricing.py")
    assert pricing["status"] == "kept"
    kept_code = (out / pricing["path"]).read_text()
    assert "test_median_of_even_count" not in kept_code
    assert "test_bulk_price_tiers" in kept_code

    # Three candidates: the refused cart file counts as generated, not built; its repair is.
    funnel = report["funnel"]
    assert funnel == {"generated": 3, "built": 2, "passed": 2, "reliable": 2, "gained": 2,
                      "kept": 2}  # fmt: skip
    before, after = report["coverage"]["before"], report["coverage"]["after"]
    assert after["line_pct"] > before["line_pct"]
    assert after["branch_pct"] > before["branch_pct"]
    files = report["coverage"]["files"]
    assert {"shop/pricing.py", "shop/cart.py"} <= set(files)
    pricing_cov = files["shop/pricing.py"]
    assert pricing_cov["after"]["line_pct"] > pricing_cov["before"]["line_pct"]
    assert sum(f["after"]["lines_total"] for f in files.values()) == after["lines_total"]

    # Three completions (pricing, cart, cart repair), each reporting 900 + 300 tokens.
    assert len(llm.requests) == 3
    assert report["cost"]["prompt_tokens"] == 3 * 900
    assert report["cost"]["completion_tokens"] == 3 * 300
    assert report["cost"]["usd"] > 0
    assert report["cost"]["usd_known"] is True

    assert verify_dir(out).ok
    junit = (out / "junit.xml").read_text()
    assert "test_bulk_price_tiers" in junit
    assert "Findings (possible bugs)" in (out / "summary.md").read_text()
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {"intake", "baseline", "select", "report"} <= {e.type for e in events}
    assert analysis is not None
    assert analysis.status == "succeeded"
    # The record carries the headline, so lists need not open reports.
    assert analysis.summary is not None
    assert analysis.summary.kept == 2 and analysis.summary.findings == 1
    assert analysis.summary.line_pct_after == after["line_pct"]
    assert analysis.summary.usd == report["cost"]["usd"]
    assert "generate" in progress
    _kept_tests_run_in_the_project(out, tmp_path, assay_home)


def test_offline_engine_end_to_end(assay_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result, _, _, _ = _analyze(assay_home, out, "offline")
    report = result.report
    assert report["status"] == "succeeded", report["reason"]
    assert report["engine"] == "offline"
    assert validate(report) == []
    assert report["funnel"]["kept"] >= 1
    assert report["coverage"]["after"]["line_pct"] > report["coverage"]["before"]["line_pct"]
    assert report["cost"] == {"prompt_tokens": 0, "completion_tokens": 0, "usd": 0.0,
                              "usd_known": True}  # fmt: skip
    kept = [t for t in report["tests"] if t["status"] == "kept"]
    assert all((out / t["path"]).is_file() for t in kept)
    assert verify_dir(out).ok
    _kept_tests_run_in_the_project(out, tmp_path, assay_home)


def test_an_unusable_target_fails_with_a_report(assay_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    settings = load_settings(home=assay_home)
    store = SqliteStore(settings.database_path)
    options = AnalysisOptions(analysis_id=new_analysis_id(), target=str(tmp_path / "nowhere"))
    try:
        failed = run_analysis(settings, options, records=store, sandbox=ProcessSandbox(),
                              engine=make_engine(settings, "offline", None),
                              signer=make_signer(settings), out=out)  # fmt: skip
    finally:
        store.close()
    assert failed.report["status"] == "failed"
    assert "does not exist" in failed.report["reason"]
    assert failed.report["coverage"]["before"] == failed.report["coverage"]["after"]
    assert failed.report["coverage"]["after"]["line_pct"] is None
    assert validate(failed.report) == []
    assert verify_dir(out).ok
    assert json.loads((out / "report.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("engine", ["llm"])
def test_llm_without_a_model_is_a_usage_error(assay_home: Path, engine: str) -> None:
    from assay.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="needs a model"):
        make_engine(load_settings(home=assay_home), engine, None)
