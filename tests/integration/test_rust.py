"""The Rust runtime on `examples/rust-shop` (no dependencies, so runs stay offline): cargo test
in the process sandbox with LLVM line coverage, and a whole analysis with the LLM engine
against a scripted model server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.analysis.report import validate
from assay.evidence import verify_dir
from assay.runtimes.rust import RustRuntime
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox
from tests.support.analysis import analyze_with_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rust-shop"
USABLE, WHY = RustRuntime().availability()
pytestmark = pytest.mark.skipif(not USABLE, reason=f"Rust with coverage tools: {WHY}")

PRICING_TESTS = """```rust
use shop::pricing::{apply_discount, bulk_price, median, PriceError};

#[test]
fn bulk_prices_step_down() {
    assert_eq!(bulk_price(1.0, 5), 5.0);
    assert_eq!(bulk_price(1.0, 10), 9.5);
    assert_eq!(bulk_price(1.0, 100), 90.0);
}

#[test]
fn discounts_refuse_bad_input() {
    assert_eq!(apply_discount(-1.0, 10.0), Err(PriceError::NegativePrice));
    assert_eq!(apply_discount(10.0, 150.0), Err(PriceError::PercentOutOfRange));
}

#[test]
fn median_of_an_even_count_is_the_mean_of_the_middle() {
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Ok(2.5));
}

#[test]
fn median_of_nothing_is_an_error() {
    assert_eq!(median(&[]), Err(PriceError::Empty));
}
```
"""

CART_TESTS = """```rust
use shop::cart::Cart;

#[test]
fn codes_and_removal() {
    let mut cart = Cart::new();
    cart.add("book", 20.0, 2).unwrap();
    assert!(cart.use_code("welcome10"));
    assert!(!cart.use_code("FREE"));
    assert_eq!(cart.total(), 36.0);
    assert!(cart.remove("book"));
    assert!(!cart.remove("book"));
    assert!(cart.add("pen", 1.0, 0).is_err());
}
```
"""


def test_the_runtime_runs_cargo_tests_with_coverage(tmp_path: Path) -> None:
    runtime = RustRuntime()
    detection = runtime.detect(EXAMPLE)
    assert detection is not None
    assert detection.modules == ["src/cart.rs", "src/lib.rs", "src/pricing.rs"]
    assert runtime.import_hint("src/pricing.rs", detection) == "shop::pricing"
    path = runtime.candidate_path("src/pricing.rs", 0, "llm", detection)
    assert path == "tests/assay_pricing_llm_0.rs"
    names = [f[0] for f in runtime.functions((EXAMPLE / "src/cart.rs").read_text())]
    assert names == ["Cart::new", "Cart::add", "Cart::remove", "Cart::use_code", "Cart::total"]
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, EXAMPLE, sandbox, tmp_path / "cache", [])
    workdir = tmp_path / "run"
    shutil.copytree(EXAMPLE, workdir)
    run = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=300))
    assert run.ok, run.output
    assert [t.test_id for t in run.tests if t.outcome == "passed"] == [
        "tests/cart.rs::an_empty_cart_costs_nothing"]  # fmt: skip
    assert run.coverage is not None
    cart = run.coverage.files["src/cart.rs"]
    assert cart.executed and cart.missing
    (workdir / path).write_text(PRICING_TESTS.split("```rust\n")[1].split("```", maxsplit=1)[0])
    mixed = runtime.run_tests(env, detection, workdir, [path], sandbox, limits=Limits(wall_s=300))
    assert not mixed.ok
    (bad,) = mixed.failed
    assert bad.test_id == f"{path}::median_of_an_even_count_is_the_mean_of_the_middle"
    assert runtime.is_assertion_failure(bad.error_type, bad.message), bad
    assert len(mixed.passed) == 3
    assert mixed.coverage is not None and mixed.coverage.files["src/pricing.rs"].executed
    pruned = runtime.prune((workdir / path).read_text(), {bad.test_id.split("::")[-1]})
    assert pruned is not None and "even_count" not in pruned and "bulk_prices" in pruned


def test_an_llm_analysis_of_the_rust_example(tmp_path: Path) -> None:
    report, llm = analyze_with_script(
        EXAMPLE,
        [("Module `src/pricing.rs`", PRICING_TESTS), ("Module `src/cart.rs`", CART_TESTS)],
        tmp_path / "home", tmp_path / "out", test_timeout_s=300,
    )  # fmt: skip
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    assert report["language"] == "rust"
    prompts = [r["messages"][1]["content"] for r in llm.requests]
    (pricing,) = [p for p in prompts if "Module `src/pricing.rs`" in p]
    assert "import it as `shop::pricing`" in pricing and "```rust" in pricing
    assert report["funnel"]["kept"] == 2
    (finding,) = report["findings"]
    assert finding["test_id"].endswith("::median_of_an_even_count_is_the_mean_of_the_middle")
    assert report["coverage"]["after"]["line_pct"] > report["coverage"]["before"]["line_pct"]
    assert verify_dir(tmp_path / "out").ok
