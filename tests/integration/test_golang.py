"""The Go runtime on `examples/go-shop` (standard library only, so nothing to download): go
test in the process sandbox with a cover profile, and a whole analysis with the LLM engine
against a scripted model server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.analysis.report import validate
from assay.evidence import verify_dir
from assay.runtimes.golang import GoRuntime
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox
from tests.support.analysis import analyze_with_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "go-shop"
pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="Go is not installed")

PRICING_TESTS = """```go
package pricing

import "testing"

func TestBulkPriceSteps(t *testing.T) {
	cases := []struct {
		quantity int
		want     float64
	}{{5, 5}, {10, 9.5}, {100, 90}}
	for _, c := range cases {
		if got := BulkPrice(1, c.quantity); got != c.want {
			t.Errorf("BulkPrice(1, %d) = %v, want %v", c.quantity, got, c.want)
		}
	}
}

func TestApplyDiscountRefusesBadInput(t *testing.T) {
	if _, err := ApplyDiscount(-1, 10); err != ErrBadInput {
		t.Errorf("negative price: err = %v", err)
	}
	if _, err := ApplyDiscount(10, 150); err != ErrBadInput {
		t.Errorf("percent above 100: err = %v", err)
	}
}

func TestMedianOfEvenCountIsMeanOfMiddle(t *testing.T) {
	got, err := Median([]float64{4, 1, 3, 2})
	if err != nil || got != 2.5 {
		t.Errorf("Median = %v, %v; want 2.5", got, err)
	}
}

func TestMedianOfNothingFails(t *testing.T) {
	if _, err := Median(nil); err == nil {
		t.Fatal("want an error")
	}
}
```
"""

CART_TESTS = """```go
package cart

import "testing"

func TestCodesAndRemoval(t *testing.T) {
	c := New()
	if err := c.Add("book", 20, 2); err != nil {
		t.Fatal(err)
	}
	if !c.UseCode("welcome10") || c.UseCode("FREE") {
		t.Fatal("codes")
	}
	if got := c.Total(); got != 36 {
		t.Errorf("Total = %v, want 36", got)
	}
	if !c.Remove("book") || c.Remove("book") {
		t.Error("remove")
	}
	if c.Add("pen", 1, 0) == nil {
		t.Error("zero quantity accepted")
	}
}
```
"""


@pytest.fixture(scope="module")
def go_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for the module's runtime tests: the standard library is compiled
    once (a minute on two cores), as it is once per machine for a user."""
    return tmp_path_factory.mktemp("go-cache")


def test_the_runtime_runs_go_tests_with_coverage(tmp_path: Path, go_cache: Path) -> None:
    runtime = GoRuntime()
    detection = runtime.detect(EXAMPLE)
    assert detection is not None
    assert detection.modules == ["cart/cart.go", "pricing/pricing.go"]
    assert detection.test_files == ["cart/cart_test.go"]
    path = runtime.candidate_path("pricing/pricing.go", 0, "llm", detection)
    assert path == "pricing/assay_pricing_llm_0_test.go"
    assert [f[0] for f in runtime.functions((EXAMPLE / "cart/cart.go").read_text())] == [
        "New", "Cart.Add", "Cart.Remove", "Cart.UseCode", "Cart.Total"]  # fmt: skip
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, EXAMPLE, sandbox, go_cache, [])
    workdir = tmp_path / "run"
    shutil.copytree(EXAMPLE, workdir)
    run = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=180))
    assert run.ok, run.output
    assert [t.test_id for t in run.tests] == ["cart/cart_test.go::TestEmptyCartCostsNothing"]
    assert run.coverage is not None
    cart = run.coverage.files["cart/cart.go"]
    assert cart.executed and cart.missing
    (workdir / path).write_text(PRICING_TESTS.split("```go\n")[1].split("```", maxsplit=1)[0])
    mixed = runtime.run_tests(env, detection, workdir, [path], sandbox, limits=Limits(wall_s=180))
    assert not mixed.ok
    (bad,) = mixed.failed
    assert bad.test_id == f"{path}::TestMedianOfEvenCountIsMeanOfMiddle"
    assert runtime.is_assertion_failure(bad.error_type, bad.message)
    assert "want 2.5" in (bad.message or "")
    assert len(mixed.passed) == 3
    pruned = runtime.prune((workdir / path).read_text(), {"TestMedianOfEvenCountIsMeanOfMiddle"})
    assert pruned is not None and "EvenCount" not in pruned and "TestBulkPriceSteps" in pruned


def test_an_llm_analysis_of_the_go_example(tmp_path: Path) -> None:
    report, llm = analyze_with_script(
        EXAMPLE,
        [("Module `pricing/pricing.go`", PRICING_TESTS), ("Module `cart/cart.go`", CART_TESTS)],
        tmp_path / "home", tmp_path / "out",
    )  # fmt: skip
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    assert report["language"] == "go"
    system = llm.requests[0]["messages"][0]["content"]
    assert "Go test engineer" in system and "```go" in system
    assert report["funnel"]["kept"] == 2
    kept = sorted(t["project_path"] for t in report["tests"] if t["status"] == "kept")
    # Beside the code they test, in its package, as Go requires...
    assert [p.rsplit("_llm_", 1)[0] for p in kept] == ["cart/assay_cart", "pricing/assay_pricing"]
    assert all(p.endswith("_test.go") for p in kept)
    # ...and in the output under tests/ at that path, nothing beside report.json.
    written = sorted(t["path"] for t in report["tests"] if t["status"] == "kept")
    assert written == [f"tests/{p}" for p in kept]
    assert all((tmp_path / "out" / p).is_file() for p in written)
    assert not list((tmp_path / "out").glob("*.go")) and not (tmp_path / "out" / "cart").exists()
    (finding,) = report["findings"]
    assert finding["test_id"].endswith("::TestMedianOfEvenCountIsMeanOfMiddle")
    files = report["coverage"]["files"]
    # Untested before; after, all but Median's last lines (their only test was the finding).
    assert files["pricing/pricing.go"]["before"] is None or (
        files["pricing/pricing.go"]["before"]["line_pct"] == 0.0
    )
    assert files["pricing/pricing.go"]["after"]["line_pct"] > 80.0
    assert report["coverage"]["after"]["line_pct"] > report["coverage"]["before"]["line_pct"]
    # Go's cover profile has no branches: not measured, not 100%.
    assert report["coverage"]["before"]["branch_pct"] is None
    assert report["coverage"]["after"]["branch_pct"] is None
    assert verify_dir(tmp_path / "out").ok


def test_a_module_without_a_go_line_builds_as_its_go_version_implies(
    tmp_path: Path, go_cache: Path
) -> None:
    """go.mod with no `go` line is Go 1.16 to the toolchain; -mod=mod must not turn it into
    the toolchain's version, under which vet refuses a non-constant format string (as
    github.com/hashicorp/go-version v1.6.0 has)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "go.mod").write_text("module example.com/say\n")
    (project / "say.go").write_text(
        'package say\n\nimport (\n\t"fmt"\n\t"io"\n)\n\n'
        "func Say(w io.Writer, format string) {\n\tfmt.Fprintf(w, format)\n}\n"
    )
    (project / "say_test.go").write_text(
        'package say\n\nimport (\n\t"strings"\n\t"testing"\n)\n\n'
        'func TestSay(t *testing.T) {\n\tvar b strings.Builder\n\tSay(&b, "hi")\n'
        '\tif b.String() != "hi" {\n\t\tt.Fatal(b.String())\n\t}\n}\n'
    )
    runtime = GoRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, project, sandbox, go_cache, [])
    run = runtime.run_tests(env, detection, project, [], sandbox, limits=Limits(wall_s=120))
    assert run.ok, run.output
    assert [t.test_id for t in run.tests] == ["say_test.go::TestSay"]
