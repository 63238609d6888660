"""The Java runtime on `examples/java-shop` (Maven layout, JUnit 5): the project's Maven build
with JaCoCo in the process sandbox (plugins from Maven Central through the package egress),
javac alone for a project Maven does not build, and a whole analysis with the LLM engine
against a scripted model server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.analysis.report import validate
from assay.evidence import verify_dir
from assay.runtimes.java import JavaRuntime
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox
from tests.support.analysis import analyze_with_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "java-shop"
USABLE, WHY = JavaRuntime().availability()
pytestmark = [
    pytest.mark.skipif(not USABLE, reason=f"Java with JUnit 5 and JaCoCo: {WHY}"),
    # The project's Maven build fetches its plugins and dependencies from Maven Central.
    pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", "repo.maven.apache.org"]),
]

PRICING_TESTS = """```java
package shop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PricingTest {
    @Test
    void bulkPricesStepDown() {
        assertEquals(5.0, Pricing.bulkPrice(1.0, 5));
        assertEquals(9.5, Pricing.bulkPrice(1.0, 10));
        assertEquals(90.0, Pricing.bulkPrice(1.0, 100));
    }

    @Test
    void discountsRefuseBadInput() {
        assertThrows(IllegalArgumentException.class, () -> Pricing.applyDiscount(-1, 10));
        assertThrows(IllegalArgumentException.class, () -> Pricing.applyDiscount(10, 150));
    }

    @Test
    void medianOfAnEvenCountIsTheMeanOfTheMiddle() {
        assertEquals(2.5, Pricing.median(new double[] {4, 1, 3, 2}));
    }

    @Test
    void medianOfNothingIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> Pricing.median(new double[0]));
    }
}
```
"""

CART_TESTS = """```java
package shop;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

class CartTest {
    @Test
    void codesAndRemoval() {
        Cart cart = new Cart();
        cart.add("book", 20.0, 2);
        assertTrue(cart.useCode("welcome10"));
        assertFalse(cart.useCode("FREE"));
        assertEquals(36.0, cart.total());
        assertTrue(cart.remove("book"));
        assertFalse(cart.remove("book"));
        assertThrows(IllegalArgumentException.class, () -> cart.add("pen", 1.0, 0));
    }
}
```
"""


def test_the_runtime_runs_junit_with_jacoco(tmp_path: Path) -> None:
    runtime = JavaRuntime()
    detection = runtime.detect(EXAMPLE)
    assert detection is not None
    assert detection.modules == ["src/main/java/shop/Cart.java", "src/main/java/shop/Pricing.java"]
    path = runtime.candidate_path("src/main/java/shop/Pricing.java", 0, "llm", detection)
    assert path == "src/test/java/shop/AssayPricingLlm0Test.java"
    assert runtime.import_hint("src/main/java/shop/Pricing.java", detection) == "shop.Pricing"
    code = PRICING_TESTS.split("```java\n")[1].split("```", maxsplit=1)[0]
    placed = runtime.place(code, path)
    assert "class AssayPricingLlm0Test {" in placed and "class PricingTest" not in placed
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, EXAMPLE, sandbox, tmp_path / "cache", [])
    workdir = tmp_path / "run"
    shutil.copytree(EXAMPLE, workdir)
    run = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=300))
    assert run.ok, run.output
    assert [t.test_id for t in run.tests] == [
        "src/test/java/shop/CartTest.java::anEmptyCartCostsNothing"]  # fmt: skip
    assert run.coverage is not None
    cart = run.coverage.files["src/main/java/shop/Cart.java"]
    assert cart.executed and cart.missing and cart.missing_branches
    (workdir / path).write_text(placed)
    mixed = runtime.run_tests(env, detection, workdir, [path], sandbox, limits=Limits(wall_s=300))
    assert not mixed.ok
    (bad,) = mixed.failed
    assert bad.test_id == f"{path}::medianOfAnEvenCountIsTheMeanOfTheMiddle"
    assert runtime.is_assertion_failure(bad.error_type, bad.message)
    assert "expected: <2.5> but was: <3.0>" in (bad.message or "")
    assert len(mixed.passed) == 3  # only the selected class ran
    pruned = runtime.prune(placed, {"medianOfAnEvenCountIsTheMeanOfTheMiddle"})
    assert pruned is not None and "EvenCount" not in pruned and "bulkPricesStepDown" in pruned


def test_an_llm_analysis_of_the_java_example(tmp_path: Path) -> None:
    report, _ = analyze_with_script(
        EXAMPLE,
        [("Module `src/main/java/shop/Pricing.java`", PRICING_TESTS),
         ("Module `src/main/java/shop/Cart.java`", CART_TESTS)],
        tmp_path / "home", tmp_path / "out", test_timeout_s=300,
    )  # fmt: skip
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    assert report["language"] == "java"
    # Both generated classes were called CartTest/PricingTest by the model; Assay renamed them
    # after their files, so they compile beside the project's own CartTest.
    assert report["funnel"]["kept"] == 2
    kept = sorted(t["path"] for t in report["tests"] if t["status"] == "kept")
    # Under --out/tests/, at their project path below it (cp -r OUT/tests/. PROJECT/).
    assert all(p.startswith("tests/src/test/java/shop/Assay") for p in kept)
    assert not (tmp_path / "out" / "src").exists()
    for path in kept:
        assert f"class {Path(path).stem} " in (tmp_path / "out" / path).read_text()
    (finding,) = report["findings"]
    assert finding["test_id"].endswith("::medianOfAnEvenCountIsTheMeanOfTheMiddle")
    assert report["coverage"]["after"]["line_pct"] > report["coverage"]["before"]["line_pct"]
    assert report["coverage"]["after"]["branch_pct"] > report["coverage"]["before"]["branch_pct"]
    assert verify_dir(tmp_path / "out").ok


def test_without_a_maven_build_javac_runs_a_junit_only_project(tmp_path: Path) -> None:
    """A Gradle build with no wrapper and no Gradle here: javac and the machine's JUnit 5."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "pom.xml").unlink()
    (project / "build.gradle").write_text("plugins { id 'java' }\n")
    runtime = JavaRuntime()
    detection = runtime.detect(project)
    assert detection is not None and detection.package_manager == "javac"
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, project, sandbox, tmp_path / "cache", [])
    run = runtime.run_tests(env, detection, project, [], sandbox, limits=Limits(wall_s=300))
    assert run.ok, run.output
    assert [t.test_id for t in run.tests] == [
        "src/test/java/shop/CartTest.java::anEmptyCartCostsNothing()"]  # fmt: skip
    assert run.coverage is not None
    assert run.coverage.files["src/main/java/shop/Cart.java"].missing_branches
