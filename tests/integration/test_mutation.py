"""The optional mutation stage: mutmut in the sandbox against the kept tests only, reported per
module with the surviving mutants, recorded in the evidence."""

from __future__ import annotations

from pathlib import Path

from assay.analysis.report import validate
from assay.evidence import verify_dir
from tests.integration.conftest import EXAMPLE, REGISTRY
from tests.integration.test_pipeline import CART_REPAIRED, PRICING_TESTS
from tests.support.analysis import analyze_with_script

pytestmark = REGISTRY


def test_mutation_score_of_the_kept_tests(assay_home: Path, tmp_path: Path) -> None:
    report, _ = analyze_with_script(
        EXAMPLE,
        [("Module `shop/pricing.py`", PRICING_TESTS), ("Module `shop/cart.py`", CART_REPAIRED)],
        assay_home, tmp_path / "out", budget_s=300, mutation=True, mutation_budget_s=120,
    )  # fmt: skip
    out = tmp_path / "out"
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    mutation = report["mutation"]
    assert mutation["tool"] == "mutmut" and mutation["complete"], mutation.get("reason")
    # Only the modules with kept tests are mutated, each scored.
    assert set(mutation["modules"]) == {"shop/cart.py", "shop/pricing.py"}
    for module in mutation["modules"].values():
        # Every checked mutant is killed, survived or not reached (mutmut's "suspicious"
        # ones aside, which this example has none of).
        assert module["total"] == module["killed"] + module["survived"] + module["uncovered"]
        assert module["killed"] > 0
        assert len(module["survivors"]) <= module["survived"]
    assert 0 < mutation["killed"] <= mutation["total"]
    assert mutation["score"] == round(100 * mutation["killed"] / mutation["total"], 1)
    survivors = [s for m in mutation["modules"].values() for s in m["survivors"]]
    assert survivors and all(s["diff"].startswith("---") for s in survivors)
    assert (out / "mutation.json").is_file()
    assert "## Mutation score" in (out / "summary.md").read_text()
    assert verify_dir(out).ok  # mutation.json is among the artifacts the log vouches for


def test_every_language_has_its_mutation_tool(tmp_path: Path) -> None:
    from assay.config import load_settings
    from assay.runtimes.registry import runtimes

    tools = {r.language: getattr(r.mutation_tool(), "name", None)
             for r in runtimes(load_settings(home=tmp_path))}  # fmt: skip
    assert tools == {"python": "mutmut", "javascript": "stryker", "go": "assay-go-mutation",
                     "rust": "cargo-mutants", "kotlin": "pitest", "java": "pitest"}  # fmt: skip
