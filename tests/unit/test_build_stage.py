"""The build stage. A JavaScript-family test file is checked and not run: TypeScript is
compiled (syntax only, never types), and only a file that does not compile is refused, with
the compiler's message. The check's script runs here on the machine's Node.js with the
repository's TypeScript (what it falls back to without esbuild); the sandboxed run, with
esbuild from Vitest, is in tests/integration/test_javascript.py. And the funnel counts what the
build refused, repair turns included."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from assay.analysis.funnel import Evaluation, Stage
from assay.analysis.items import ItemFiles
from assay.analysis.selection import Verdict, funnel_counts
from assay.engines import Candidate
from assay.runtimes import port
from assay.runtimes.javascript import NO_COMPILER, SYNTAX_CHECK, JavaScriptRuntime
from assay.runtimes.port import Ran
from assay.sandbox import Outcome
from assay.sandbox.port import Ending

NODE = shutil.which("node")
TYPESCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "typescript"

COMPILES = """import { expect, it } from "vitest";
const count: string = 3; // a type error: Vitest does not check types, nor does the build
it("fails", () => { expect(count).toBe(4); });
"""
BROKEN = 'import { it } from "vitest";\nit("x", () => {\n  const n = ;\n'


def _exited(code: int) -> Outcome:
    return Outcome(ending=Ending.EXITED, exit_code=code, reason=f"exited with {code}",
                   stdout="", stderr="", duration_s=0.1)  # fmt: skip


def _checked(code: int, outcome: Outcome, output: str, *, compiled: bool) -> port.TestRun:
    """The runtime's verdict on a check of one TypeScript (`compiled`) or JavaScript file."""
    test = "tests/x.test.ts" if compiled else "tests/x.test.js"
    ran = Ran(workdir=Path("."), tests=[test], code=code, outcome=outcome, output=output)
    return JavaScriptRuntime().read_check(ran)


def _check(workdir: Path, name: str, code: str) -> tuple[int, str]:
    """The check's exit code and what it said, run on `tests/<name>` holding `code` in
    `workdir` (whose node_modules, if any, holds the compiler)."""
    (workdir / "tests").mkdir(parents=True, exist_ok=True)
    (workdir / "tests" / name).write_text(code)
    (workdir / "syntax.cjs").write_text(SYNTAX_CHECK)
    assert NODE is not None
    done = subprocess.run([NODE, "syntax.cjs", f"tests/{name}"], cwd=workdir,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    return done.returncode, done.stderr


@pytest.mark.skipif(NODE is None or not TYPESCRIPT.is_dir(),
                    reason="needs Node.js and the repository's TypeScript (npm ci)")  # fmt: skip
def test_typescript_that_compiles_passes_and_a_syntax_error_is_refused(tmp_path: Path) -> None:
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "typescript").symlink_to(TYPESCRIPT)
    assert _check(tmp_path, "a.test.ts", COMPILES) == (0, "")
    tsx = "const view = () => <b>{1}</b>;\nconst same = <T,>(x: T) => x;\n"
    assert _check(tmp_path, "b.test.tsx", tsx) == (0, "")
    assert _check(tmp_path, "c.test.jsx", "const v = () => <b>{1}</b>;\n") == (0, "")
    # JSX is no TypeScript: in a .ts file it does not parse.
    assert _check(tmp_path, "d.test.ts", "const v = () => <b>{1}</b>;\n")[0] == 1
    code, said = _check(tmp_path, "e.test.ts", BROKEN)
    assert code == 1
    assert said.splitlines()[0] == "tests/e.test.ts:3:13: Expression expected."
    refused = _checked(code, _exited(1), said, compiled=True)
    assert not refused.ok
    assert refused.reason == "the file does not parse: tests/e.test.ts:3:13: Expression expected."


@pytest.mark.skipif(NODE is None, reason="needs Node.js")
def test_without_a_compiler_the_run_decides(tmp_path: Path) -> None:
    code, said = _check(tmp_path, "a.test.ts", COMPILES)
    assert code == NO_COMPILER
    unchecked = _checked(code, _exited(code), said, compiled=True)
    assert unchecked.ok
    assert unchecked.reason.startswith("not checked (neither esbuild nor TypeScript")


def test_node_check_names_the_syntax_error() -> None:
    output = "/w/tests/x.test.js:3\n\n\n\nSyntaxError: Unexpected end of input\n\nNode.js v20\n"
    run = _checked(1, _exited(1), output, compiled=False)
    assert run.reason == "the file does not parse: SyntaxError: Unexpected end of input"
    # Exit code 2 means "no compiler" only for the compile check, never for `node --check`.
    assert not _checked(2, _exited(2), "", compiled=False).ok


def _evaluation(turn: int, reached: Stage, discarded_at: Stage | None) -> Evaluation:
    candidate = Candidate(candidate_id="cart-llm-0", module="cart.js", turn=turn,
                          path="tests/cart.test.js", code="", engine="llm")  # fmt: skip
    return Evaluation(candidate=candidate, reached=reached, discarded_at=discarded_at, reason="")


def test_the_funnel_counts_a_refused_turn_that_a_repair_replaced(tmp_path: Path) -> None:
    item = ItemFiles(tmp_path / "item")
    item.save_evaluation(_evaluation(0, Stage.GENERATED, Stage.BUILT))  # refused at build
    item.save_evaluation(_evaluation(1, Stage.RELIABLE, None))  # its repair passes
    item.save_evaluation(_evaluation(1, Stage.RELIABLE, None))  # evaluated again on a resume
    repaired = item.evaluation()
    assert repaired is not None and repaired.earlier == [Stage.GENERATED]
    refused = _evaluation(0, Stage.GENERATED, Stage.BUILT)
    verdicts = [
        Verdict(evaluation=repaired, status="kept", stage=Stage.KEPT, reason=""),
        Verdict(evaluation=refused, status="discarded", stage=Stage.BUILT, reason=""),
    ]
    assert funnel_counts(2, verdicts) == {"generated": 3, "built": 1, "passed": 1,
                                          "reliable": 1, "gained": 1, "kept": 1}  # fmt: skip
