"""Mutation testing for Go, by Assay itself: Go has no maintained mutation tool to install
(go-mutesting and its forks are unmaintained), and the operators that matter are few.

Each mutant changes one operator on one line of a module with kept tests: a comparison
(`==`/`!=`, `<`/`<=`, `>`/`>=`), a boolean connective (`&&`/`||`), arithmetic (`+`/`-`) or a
boolean literal; strings, runes and comments are left alone. The kept tests run against each
mutant in the sandbox (one `go test` each, on the warm build cache): a failing run kills it, a
passing one on a line the kept tests execute lets it survive, a line they never execute is
uncovered, and a mutant that does not compile is not counted.
"""

from __future__ import annotations

import difflib
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from assay.runtimes.mutation import ModuleScore, MutationResult, Survivor
from assay.runtimes.port import Detection, Environment, MutationTool
from assay.sandbox import Limits, Sandbox

if TYPE_CHECKING:  # the runtime builds its tool and hands itself over
    from assay.runtimes.golang import GoRuntime

SURVIVORS_SHOWN = 20
MAX_MUTANTS_PER_MODULE = 60
SWAPS = {"==": "!=", "!=": "==", "<": "<=", "<=": "<", ">": ">=", ">=": ">", "&&": "||",
         "||": "&&", "+": "-", "-": "+", "true": "false", "false": "true"}  # fmt: skip
# Longest first, so `<=` is one token; `<-`, `<<`, `++`, `+=` and the like are matched whole
# and then skipped (they are not in SWAPS).
_TOKEN = re.compile(
    r"<-|<<=?|>>=?|&\^|\+\+|--|[-+*/%&|^<>=!]=|==|&&|\|\||[<>+\-]|\btrue\b|\bfalse\b"
)
_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`|\'(?:\\.|[^\'\\])*\'|//.*$')


Mutant = tuple[int, int, str, str]  # (line number, column, original token, replacement)


def mutants(source: str) -> list[Mutant]:
    """Every single-operator mutant of `source`, in order."""
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("import", "package", "//", "/*", "*")):
            continue
        masked = _LITERAL.sub(lambda m: " " * len(m.group(0)), line)
        for match in _TOKEN.finditer(masked):
            token = match.group(0)
            if token in SWAPS:
                found.append((number, match.start(), token, SWAPS[token]))
    return found


def apply(source: str, mutant: Mutant) -> str:
    number, column, token, replacement = mutant
    lines = source.splitlines(keepends=True)
    line = lines[number - 1]
    lines[number - 1] = line[:column] + replacement + line[column + len(token) :]
    return "".join(lines)


class GoMutation(MutationTool):
    name = "assay-go-mutation"
    tools: list[str] = []

    def __init__(self, runtime: GoRuntime) -> None:
        self._runtime = runtime

    def run(self, env: Environment, detection: Detection, workdir: Path, *, modules: list[str],
            tests: list[str], sandbox: Sandbox, budget_s: float) -> MutationResult:  # fmt: skip
        started = time.monotonic()
        limits = Limits(wall_s=min(120.0, max(10.0, budget_s)))
        baseline = self._runtime.run_tests(env, detection, workdir, tests, sandbox, limits=limits)
        if not baseline.ok:
            return MutationResult(tool=self.name, modules={}, complete=False,
                                  reason=f"the kept tests do not pass unmutated: {baseline.reason}",
                                  duration_s=time.monotonic() - started)  # fmt: skip
        covered = baseline.coverage.files if baseline.coverage else {}
        scores: dict[str, ModuleScore] = {}
        shown = 0
        complete = True
        for module in modules:
            path = workdir / module
            original = path.read_text(errors="replace")
            score = scores.setdefault(module, ModuleScore())
            executed = covered[module].executed if module in covered else set()
            for mutant in mutants(original)[:MAX_MUTANTS_PER_MODULE]:
                if time.monotonic() - started > budget_s:
                    complete = False
                    break
                if mutant[0] not in executed:
                    score.uncovered += 1
                    score.total += 1
                    continue
                mutated = apply(original, mutant)
                path.write_text(mutated)
                try:
                    run = self._runtime.run_tests(env, detection, workdir, tests, sandbox,
                                                  limits=limits)  # fmt: skip
                finally:
                    path.write_text(original)
                if not run.tests:  # it did not compile (or nothing ran): not a mutant
                    continue
                score.total += 1
                if run.ok:
                    score.survived += 1
                    if shown < SURVIVORS_SHOWN:
                        shown += 1
                        diff = "".join(difflib.unified_diff(
                            original.splitlines(keepends=True), mutated.splitlines(keepends=True),
                            fromfile=f"a/{module}", tofile=f"b/{module}", n=1))  # fmt: skip
                        score.survivors.append(Survivor(
                            mutant=f"{module}:{mutant[0]}:{mutant[2]}->{mutant[3]}",
                            diff=diff[:4000]))  # fmt: skip
                else:
                    score.killed += 1
        return MutationResult(tool=self.name, modules=scores, complete=complete,
                              reason="" if complete else "the mutation budget ran out",
                              duration_s=round(time.monotonic() - started, 3))  # fmt: skip
