"""Go mutation testing (Assay's own operators) on a tiny module whose kept tests kill one
mutant and let known boundary mutants survive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.runtimes.go_mutation import apply, mutants
from assay.runtimes.golang import GoRuntime
from assay.sandbox.process import ProcessSandbox

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="Go is not installed")

CODE = """package calc

// Clamp limits v to [lo, hi].
func Clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	return v
}

// Add says "a plus b" // not an operator in a string or a comment: a - b
func Add(a, b int) int {
	return a + b
}

// Big is never called by the kept tests.
func Big(v int) bool {
	return v > 100
}
"""
TESTS = """package calc

import "testing"

func TestClampBelow(t *testing.T) {
	if Clamp(-5, 0, 10) != 0 {
		t.Fatal("below")
	}
}

func TestAdd(t *testing.T) {
	if Add(2, 3) != 5 {
		t.Fatal("add")
	}
}
"""


def test_operators_are_mutated_outside_strings_and_comments() -> None:
    found = mutants(CODE)
    assert [(line, token) for line, _, token, _ in found] == [(5, "<"), (13, "+"), (18, ">")]
    assert "a - b" in apply(CODE, found[1]).splitlines()[12]


def test_kept_tests_kill_one_mutant_and_let_the_boundary_survive(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "calc").mkdir(parents=True)
    (project / "go.mod").write_text("module example.com/calc\n\ngo 1.21\n")
    (project / "calc" / "calc.go").write_text(CODE)
    (project / "calc" / "calc_test.go").write_text(TESTS)
    runtime = GoRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path / "home",))
    env = runtime.prepare(detection, project, sandbox, tmp_path / "cache", [])
    tool = runtime.mutation_tool()
    assert tool is not None
    result = tool.run(env, detection, project, modules=["calc/calc.go"],
                      tests=["calc/calc_test.go"], sandbox=sandbox, budget_s=120)  # fmt: skip
    assert result.complete, result.reason
    score = result.modules["calc/calc.go"]
    # `+` -> `-` fails TestAdd; `<` -> `<=` at the boundary is not tested; Big is never run.
    assert (score.killed, score.survived, score.uncovered, score.total) == (1, 1, 1, 3)
    (survivor,) = score.survivors
    assert survivor.mutant == "calc/calc.go:5:<-><="
    assert "+\tif v <= lo {" in survivor.diff
    assert (project / "calc" / "calc.go").read_text() == CODE  # restored
