"""Stryker mutation testing for JavaScript (Jest; also through a whole --mutation analysis)
and TypeScript (Vitest, through a path alias), installed from the npm registry at prepare and
run in the process sandbox against the kept tests: the boundary mutants of `v < lo` survive,
`a + b` -> `a - b` is killed, and a function no kept test calls is uncovered."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assay.runtimes.javascript import JavaScriptRuntime
from assay.sandbox.process import ProcessSandbox
from tests.support.analysis import analyze_with_script

pytestmark = [
    pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", "registry.npmjs.org"]),
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
]

CALC = """function clamp(v, lo) {
  if (v < lo) {
    return lo;
  }
  return v;
}

function add(a, b) {
  return a + b;
}

function big(v) {
  return v > 100;
}

module.exports = { clamp, add, big };
"""
KEPT = """const { clamp, add } = require("../src/calc.js");

test("clamps below", () => {
  expect(clamp(-5, 0)).toBe(0);
});

test("adds", () => {
  expect(add(2, 3)).toBe(5);
});
"""
TEST = "tests/assay_src_calc_llm_0.test.js"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Assay home: the analysis reuses the environment the first test prepared."""
    return tmp_path_factory.mktemp("assay-stryker-home")


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_stryker_kills_one_mutant_and_lets_the_boundary_survive(home: Path, tmp_path: Path) -> None:
    project = _write(tmp_path / "calc", {
        "package.json": json.dumps({"name": "calc", "version": "1.0.0", "private": True}),
        "src/calc.js": CALC, TEST: KEPT,
    })  # fmt: skip
    runtime = JavaScriptRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    tool = runtime.mutation_tool()
    assert tool is not None
    sandbox = ProcessSandbox(hidden=(home,))
    env = runtime.prepare(detection, project, sandbox, home / "cache", tool.tools)
    assert "@stryker-mutator/jest-runner@9.6.1" in env.tools
    result = tool.run(env, detection, project, modules=["src/calc.js"], tests=[TEST],
                      sandbox=sandbox, budget_s=180)  # fmt: skip
    assert result.complete, result.reason
    score = result.modules["src/calc.js"]
    # Killed: `a - b`, `if (false)`, `v >= lo`, the emptied blocks; survived: `if (true)` and
    # `v <= lo` (clamp is only tested far below the bound); uncovered: all of big().
    assert (score.killed, score.survived, score.uncovered, score.total) == (7, 2, 5, 14)
    assert [s.mutant for s in score.survivors] == [
        "src/calc.js:2:ConditionalExpression",
        "src/calc.js:2:EqualityOperator",
    ]
    assert "-  if (v < lo) {\n+  if (v <= lo) {" in score.survivors[1].diff
    assert (project / "src" / "calc.js").read_text() == CALC  # mutated in place, restored
    # No budget left: nothing is started, and the result says so.
    late = tool.run(env, detection, project, modules=["src/calc.js"], tests=[TEST],
                    sandbox=sandbox, budget_s=1)  # fmt: skip
    assert not late.complete
    assert late.reason == "the budget of 1 s ran out before src/calc.js"


def test_stryker_on_typescript_with_vitest_and_a_path_alias(tmp_path: Path) -> None:
    project = _write(tmp_path / "calc-ts", {
        "package.json": json.dumps({"name": "calc-ts", "version": "1.0.0", "private": True,
                                    "type": "module", "devDependencies": {
                                        "vitest": "3.2.4", "@vitest/coverage-v8": "3.2.4"}}),
        "tsconfig.json": '{"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["src/*"]}}}',
        "src/calc.ts": "export function add(a: number, b: number): number {\n"
                       "  return a + b;\n}\n\n"
                       "export function atLeast(v: number, lo: number): boolean {\n"
                       "  return v >= lo;\n}\n",
        "tests/assay_src_calc_llm_0.test.ts": 'import { expect, it } from "vitest";\n'
                                              'import { add, atLeast } from "@/calc";\n\n'
                                              'it("adds", () => expect(add(2, 3)).toBe(5));\n'
                                              'it("far above", () => expect(atLeast(9, 1))'
                                              ".toBe(true));\n",
    })  # fmt: skip
    runtime = JavaScriptRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    assert detection.test_runner == "vitest"
    tool = runtime.mutation_tool()
    assert tool is not None
    sandbox = ProcessSandbox(hidden=(tmp_path / "home",))
    env = runtime.prepare(detection, project, sandbox, tmp_path / "cache", tool.tools)
    result = tool.run(env, detection, project, modules=["src/calc.ts"],
                      tests=["tests/assay_src_calc_llm_0.test.ts"], sandbox=sandbox,
                      budget_s=180)  # fmt: skip
    assert result.complete, result.reason
    score = result.modules["src/calc.ts"]
    assert score.killed >= 1  # a - b
    survived = {s.mutant for s in score.survivors}
    assert "src/calc.ts:6:EqualityOperator" in survived  # v > lo: the bound is never tested
    assert score.total == score.killed + score.survived + score.uncovered


def test_an_analysis_with_mutation_scores_its_kept_javascript_tests(
    home: Path, tmp_path: Path
) -> None:
    """`--mutation` through the whole pipeline: the install step brings Stryker, the kept
    test is the one mutated against, and the report carries the score and the survivors."""
    project = _write(tmp_path / "calc", {
        "package.json": json.dumps({"name": "calc", "version": "1.0.0", "private": True}),
        "src/calc.js": CALC,
    })  # fmt: skip
    report, _ = analyze_with_script(
        project, [("Module `src/calc.js`", f"```javascript\n{KEPT}```\n")], home,
        tmp_path / "out", mutation=True, mutation_budget_s=120,
    )  # fmt: skip
    assert report["status"] == "succeeded", report["reason"]
    assert report["funnel"]["kept"] == 1
    mutation = report["mutation"]
    assert (mutation["tool"], mutation["complete"]) == ("stryker", True)
    assert (mutation["killed"], mutation["total"], mutation["score"]) == (7, 14, 50.0)
    survivors = mutation["modules"]["src/calc.js"]["survivors"]
    assert "src/calc.js:2:EqualityOperator" in [s["mutant"] for s in survivors]
