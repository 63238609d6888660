"""The runtime port's contract, run over every runtime this machine can run, each on its example
project (a runtime whose toolchain is missing is skipped, with its `availability()` reason).

Each runtime comes from the registry (as an analysis gets it), prepares its example's environment
once per module in the process sandbox, and must:

1. detect its example: its language and runner, modules and test files, apart;
2. run the project's own tests: all pass, each named `file::name`, with coverage of a module;
3. run a generated file (at `candidate_path`, as `place` makes it) with one passing test and one
   wrong assertion: the run fails, exactly the wrong test fails, as an assertion;
4. prune that test, by the name it gave it, into a file whose run passes;
5. check a file without running it (`collect_only`): refused when it does not parse, accepted
   when it does, a wrong assertion notwithstanding.

The generated files are in CASES: small, idiomatic tests of each example's real code, the wrong
assertion a plainly false claim (a quarter off 100 is not 80), not the example's planted bug.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from assay.config import load_settings
from assay.runtimes.port import Detection, Environment, Runtime
from assay.runtimes.port import TestRun as Run
from assay.runtimes.registry import runtimes
from assay.sandbox import Limits, Sandbox
from assay.wiring import make_sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Installs (Python's, npm's, Maven's) reach their registries through the egress proxy, a thread
# of this process; nothing else leaves loopback.
pytestmark = pytest.mark.allow_hosts(
    ["127.0.0.1", "::1", "localhost", "pypi.org", "files.pythonhosted.org", "registry.npmjs.org",
     "repo.maven.apache.org"]
)  # fmt: skip
LIMITS = Limits(wall_s=300, cpu_s=300)


@dataclass(frozen=True)
class Case:
    """A runtime on its example, and a generated test file for one of its modules."""

    id: str
    example: str
    language: str  # the runtime's (and detection's) language
    runner: str  # detection's test_runner
    module: str  # the module the generated file tests
    code: str  # one passing test, then one wrong assertion
    passing: str  # the passing test's name, as the runtime's test ids end
    failing: str  # the wrong one's
    broken: str  # a test file that does not parse


CASES = [
    Case(
        "python", "shop", "python", "pytest", "shop/pricing.py",
        code="""from shop.pricing import apply_discount


def test_a_quarter_off_100_is_75():
    assert apply_discount(100.0, 25) == 75.0


def test_a_quarter_off_100_is_80():
    assert apply_discount(100.0, 25) == 80.0
""",
        passing="test_a_quarter_off_100_is_75",
        failing="test_a_quarter_off_100_is_80",
        broken="from shop.pricing import apply_discount\n\n\ndef test_total(:\n    pass\n",
    ),
    Case(
        "jest", "js-shop", "javascript", "jest", "src/pricing.js",
        code="""const { applyDiscount } = require("../src/pricing.js");

describe("applyDiscount", () => {
  test("takes a quarter off 100 to 75", () => {
    expect(applyDiscount(100, 25)).toBe(75);
  });

  test("takes a quarter off 100 to 80", () => {
    expect(applyDiscount(100, 25)).toBe(80);
  });
});
""",
        passing="applyDiscount takes a quarter off 100 to 75",
        failing="applyDiscount takes a quarter off 100 to 80",
        broken='const { applyDiscount } = require("../src/pricing.js");\n'
        'test("x", () => {\n  const n = ;\n});\n',
    ),
    Case(
        "vitest", "ts-inventory", "javascript", "vitest", "src/inventory.ts",
        code="""import { describe, expect, it } from "vitest";
import { Inventory } from "../src/inventory";

describe("Inventory", () => {
  it("ships the last unit and leaves none", () => {
    const stock = new Inventory();
    stock.receive("pen", 1);
    expect(stock.ship("pen", 1)).toBe(0);
  });

  it("ships the last unit and leaves one", () => {
    const stock = new Inventory();
    stock.receive("pen", 1);
    expect(stock.ship("pen", 1)).toBe(1);
  });
});
""",
        passing="Inventory ships the last unit and leaves none",
        failing="Inventory ships the last unit and leaves one",
        broken='import { it } from "vitest";\n\nit("x", () => {\n  const n: number = ;\n});\n',
    ),
    Case(
        "go", "go-shop", "go", "go test", "pricing/pricing.go",
        code="""package pricing

import "testing"

func TestAQuarterOff100Is75(t *testing.T) {
	got, err := ApplyDiscount(100, 25)
	if err != nil || got != 75 {
		t.Errorf("ApplyDiscount(100, 25) = %v, %v; want 75", got, err)
	}
}

func TestAQuarterOff100Is80(t *testing.T) {
	got, err := ApplyDiscount(100, 25)
	if err != nil || got != 80 {
		t.Errorf("ApplyDiscount(100, 25) = %v, %v; want 80", got, err)
	}
}
""",
        passing="TestAQuarterOff100Is75",
        failing="TestAQuarterOff100Is80",
        broken='package pricing\n\nimport "testing"\n\nfunc TestBroken(t *testing.T) {\n'
        "\tif BulkPrice(1, 5 != 5 {\n\t}\n}\n",
    ),
    Case(
        "rust", "rust-shop", "rust", "cargo test", "src/pricing.rs",
        code="""use shop::pricing::apply_discount;

#[test]
fn a_quarter_off_100_is_75() {
    assert_eq!(apply_discount(100.0, 25.0), Ok(75.0));
}

#[test]
fn a_quarter_off_100_is_80() {
    assert_eq!(apply_discount(100.0, 25.0), Ok(80.0));
}
""",
        passing="a_quarter_off_100_is_75",
        failing="a_quarter_off_100_is_80",
        broken="use shop::pricing::apply_discount;\n\n#[test]\nfn broken() {\n"
        "    let n = ;\n}\n",
    ),
    Case(
        "java", "java-shop", "java", "junit5", "src/main/java/shop/Pricing.java",
        code="""package shop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PricingTest {
    @Test
    void aQuarterOff100Is75() {
        assertEquals(75.0, Pricing.applyDiscount(100, 25));
    }

    @Test
    void aQuarterOff100Is80() {
        assertEquals(80.0, Pricing.applyDiscount(100, 25));
    }
}
""",
        passing="aQuarterOff100Is75",
        failing="aQuarterOff100Is80",
        broken="package shop;\n\nclass PricingTest {\n    void broken() {\n"
        "        int n = ;\n    }\n}\n",
    ),
]  # fmt: skip


@dataclass
class Prepared:
    """A runtime with its example detected and its environment prepared."""

    case: Case
    runtime: Runtime
    detection: Detection
    environment: Environment
    sandbox: Sandbox

    @property
    def candidate(self) -> str:
        return self.runtime.candidate_path(self.case.module, 0, "llm", self.detection)

    def project(self, where: Path, files: dict[str, str] | None = None) -> Path:
        """A fresh copy of the example, with `files` written into it."""
        workdir = where / "project"
        shutil.copytree(EXAMPLES / self.case.example, workdir)
        for rel, text in (files or {}).items():
            (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
            (workdir / rel).write_text(text)
        return workdir

    def run(self, workdir: Path, tests: list[str], *, collect_only: bool = False) -> Run:
        return self.runtime.run_tests(self.environment, self.detection, workdir, tests,
                                      self.sandbox, limits=LIMITS,
                                      collect_only=collect_only)  # fmt: skip


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runtime-contract-home")


@pytest.fixture(scope="session")
def registered(home: Path) -> dict[str, Runtime]:
    return {r.language: r for r in runtimes(load_settings(home=home))}


@pytest.fixture(scope="module", params=CASES, ids=[c.id for c in CASES])
def prepared(
    request: pytest.FixtureRequest, home: Path, registered: dict[str, Runtime]
) -> Prepared:
    case: Case = request.param
    runtime = registered[case.language]
    usable, why = runtime.availability()
    if not usable:
        pytest.skip(f"{case.id}: {why}")
    detection = runtime.detect(EXAMPLES / case.example)
    assert detection is not None, f"{case.language} does not detect examples/{case.example}"
    sandbox = make_sandbox(load_settings(home=home))
    environment = runtime.prepare(detection, EXAMPLES / case.example, sandbox, home / "cache", [])
    return Prepared(case, runtime, detection, environment, sandbox)


@pytest.fixture(scope="module")
def own_run(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The project's own tests, all of them."""
    return prepared.run(prepared.project(tmp_path_factory.mktemp("own")), [])


@pytest.fixture(scope="module")
def generated(prepared: Prepared) -> str:
    """The generated file as it lives at the candidate path."""
    return prepared.runtime.place(prepared.case.code, prepared.candidate)


@pytest.fixture(scope="module")
def mixed_run(prepared: Prepared, generated: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The generated file alone: one passing test, one wrong assertion."""
    where = tmp_path_factory.mktemp("mixed")
    workdir = prepared.project(where, {prepared.candidate: generated})
    return prepared.run(workdir, [prepared.candidate])


# Kotlin is Java's runtime (the same builds, reports and coverage) with another language's
# knowledge; tests/integration/test_kotlin.py checks those same behaviours on a Kotlin build,
# whose compiler download would double this suite's Maven time.
SHARES_A_CASE = {"kotlin": "java"}


def test_every_registered_runtime_has_a_case(registered: dict[str, Runtime]) -> None:
    assert set(registered) == {c.language for c in CASES} | set(SHARES_A_CASE)
    for language, runtime in SHARES_A_CASE.items():
        assert isinstance(registered[language], type(registered[runtime]))


# ------------------------------------------------------------------ 1. detection
def test_detection_names_the_language_and_runner(prepared: Prepared) -> None:
    assert prepared.detection.language == prepared.runtime.language == prepared.case.language
    assert prepared.detection.test_runner == prepared.case.runner


def test_modules_and_test_files_are_found_and_apart(prepared: Prepared) -> None:
    detection = prepared.detection
    assert detection.modules and detection.test_files
    assert not set(detection.modules) & set(detection.test_files)
    root = EXAMPLES / prepared.case.example
    assert all((root / f).is_file() for f in [*detection.modules, *detection.test_files])
    assert prepared.case.module in detection.modules


def test_a_generated_file_is_detected_as_a_test_not_a_module(
    prepared: Prepared, generated: str, tmp_path: Path
) -> None:
    workdir = prepared.project(tmp_path, {prepared.candidate: generated})
    again = prepared.runtime.detect(workdir)
    assert again is not None
    assert prepared.candidate in again.test_files
    assert prepared.candidate not in again.modules


# ------------------------------------------------------------------ 2. the project's own tests
def test_the_projects_own_tests_pass(own_run: Run) -> None:
    assert own_run.ok, own_run.output
    assert own_run.tests
    assert [t.test_id for t in own_run.tests if t.outcome != "passed"] == []


def test_each_test_id_names_its_file(prepared: Prepared, own_run: Run) -> None:
    for test in own_run.tests:
        assert test.test_id.startswith(f"{test.file}::"), test.test_id
        assert test.test_id.removeprefix(f"{test.file}::"), test.test_id
    assert {t.file for t in own_run.tests} == set(prepared.detection.test_files)


def test_the_run_measures_a_module(prepared: Prepared, own_run: Run) -> None:
    assert own_run.coverage is not None, own_run.output
    measured = [
        m for m in prepared.detection.modules
        if m in own_run.coverage.files and own_run.coverage.files[m].executed
    ]  # fmt: skip
    assert measured, sorted(own_run.coverage.files)


# ------------------------------------------------------------------ 3. a wrong assertion
def test_a_wrong_assertion_fails_the_run(mixed_run: Run) -> None:
    assert not mixed_run.ok
    assert mixed_run.reason


def test_exactly_the_wrong_test_fails_in_the_candidate_file(
    prepared: Prepared, mixed_run: Run
) -> None:
    path = prepared.candidate
    assert [t.test_id for t in mixed_run.failed] == [f"{path}::{prepared.case.failing}"], (
        mixed_run.output
    )
    (failed,) = mixed_run.failed
    assert failed.file == path
    assert failed.outcome == "failed"


def test_the_failure_is_an_assertion(prepared: Prepared, mixed_run: Run) -> None:
    (failed,) = mixed_run.failed
    assert prepared.runtime.is_assertion_failure(failed.error_type, failed.message), failed


def test_the_test_beside_it_passes_and_nothing_else_runs(
    prepared: Prepared, mixed_run: Run
) -> None:
    path = prepared.candidate
    assert [t.test_id for t in mixed_run.passed] == [f"{path}::{prepared.case.passing}"]
    assert len(mixed_run.tests) == 2, [t.test_id for t in mixed_run.tests]


# ------------------------------------------------------------------ 4. pruning
def test_pruning_the_failing_test_leaves_a_passing_file(
    prepared: Prepared, generated: str, mixed_run: Run, tmp_path: Path
) -> None:
    # By the name the pipeline prunes with: the test id's last part.
    names = {t.test_id.rsplit("::", 1)[-1] for t in mixed_run.failed}
    assert names == {prepared.case.failing}
    pruned = prepared.runtime.prune(generated, names)
    assert pruned is not None and pruned != generated
    workdir = prepared.project(tmp_path, {prepared.candidate: pruned})
    run = prepared.run(workdir, [prepared.candidate])
    assert run.ok, run.output
    assert [t.test_id for t in run.tests] == [f"{prepared.candidate}::{prepared.case.passing}"]
    assert [t.outcome for t in run.tests] == ["passed"]


# ------------------------------------------------------------------ 5. collect only
def test_collect_only_refuses_a_file_that_does_not_parse(
    prepared: Prepared, tmp_path: Path
) -> None:
    broken = prepared.runtime.place(prepared.case.broken, prepared.candidate)
    workdir = prepared.project(tmp_path, {prepared.candidate: broken})
    checked = prepared.run(workdir, [prepared.candidate], collect_only=True)
    assert not checked.ok, checked.output
    assert checked.reason


def test_collect_only_accepts_a_file_that_parses_and_runs_nothing(
    prepared: Prepared, generated: str, tmp_path: Path
) -> None:
    workdir = prepared.project(tmp_path, {prepared.candidate: generated})
    checked = prepared.run(workdir, [prepared.candidate], collect_only=True)
    assert checked.ok, checked.output
    assert not checked.failed  # the wrong assertion did not run
