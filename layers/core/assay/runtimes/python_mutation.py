"""Mutation testing for Python with mutmut, in the sandbox, against the kept tests only.

mutmut reads its settings from `[tool.mutmut]` in pyproject.toml, else `[mutmut]` in
setup.cfg: the copy it runs in gets Assay's own section (a project's is removed from the copy)
naming the modules to mutate and the kept tests as the only tests to run. Its per-mutant
results are read from `mutmut results --all true`; the surviving mutants' diffs from
`mutmut show`.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from assay.runtimes import sandboxed
from assay.runtimes.mutation import ModuleScore, MutationResult, Survivor
from assay.runtimes.port import Detection, Environment, MutationTool
from assay.runtimes.results import read_inside
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Sandbox

SURVIVORS_SHOWN = 20  # per analysis: the diffs a reader can take in
_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>[a-z ]+)\s*$")
_TOOL_TABLE = re.compile(r"^\[tool\.mutmut\][^\[]*", re.MULTILINE)


def _dotted(module: str, detection: Detection) -> str:
    path = PurePosixPath(module)
    for root in detection.source_roots:
        if root != "." and path.is_relative_to(root):
            path = path.relative_to(root)
            break
    return ".".join(path.with_suffix("").parts)


def _source_paths(modules: list[str]) -> list[str]:
    """What mutmut copies and mutates under: each module's top directory (or the file)."""
    return sorted({PurePosixPath(m).parts[0] for m in modules})


def _configure(workdir: Path, modules: list[str], tests: list[str]) -> None:
    pyproject = workdir / "pyproject.toml"
    if pyproject.is_file():  # a project's own [tool.mutmut] would win over setup.cfg
        pyproject.write_text(_TOOL_TABLE.sub("", pyproject.read_text(errors="replace")))
    lines = ["[mutmut]", "source_paths =", *(f"    {p}" for p in _source_paths(modules)),
             "only_mutate =", *(f"    {m}" for m in modules),
             "pytest_add_cli_args_test_selection =", *(f"    {t}" for t in tests),
             "also_copy =", *(f"    {d}" for d in sorted({str(PurePosixPath(t).parent)
                                                          for t in tests})), ""]  # fmt: skip
    setup = workdir / "setup.cfg"
    kept = setup.read_text(errors="replace") if setup.is_file() else ""
    kept = re.sub(r"^\[mutmut\][^\[]*", "", kept, flags=re.MULTILINE)
    setup.write_text(kept + "\n" + "\n".join(lines))


class Mutmut(MutationTool):
    name = "mutmut"
    tools = ["mutmut==3.8.1"]

    def _job(
        self, env: Environment, workdir: Path, steps: list[dict[str, Any]], sandbox: Sandbox,
        wall_s: float,
    ) -> list[dict[str, Any]]:  # fmt: skip
        sandboxed.stage(workdir)
        records, _ = sandboxed.run_steps(
            workdir, steps, sandbox, readonly=env.readonly,
            env={"PYTHONPATH": str(workdir.resolve())},
            limits=Limits(wall_s=wall_s + 60, cpu_s=int(wall_s * 2 + 60), memory_mb=4096,
                          processes=128, output_bytes=4_000_000),
        )  # fmt: skip
        return records

    def run(
        self,
        env: Environment,
        detection: Detection,
        workdir: Path,
        *,
        modules: list[str],
        tests: list[str],
        sandbox: Sandbox,
        budget_s: float,
    ) -> MutationResult:
        _configure(workdir, modules, tests)
        mutmut = str(Path(env.interpreter).parent / "mutmut")
        listing = f"{STATE_DIR}/mutants.txt"
        steps: list[dict[str, Any]] = [
            {"name": "run", "argv": [mutmut, "run", "--max-children", "2"],
             "timeout_s": budget_s},
            {"name": "results", "argv": ["/bin/sh", "-c",
                                         f"'{mutmut}' results --all true > {listing} 2>&1"]},
        ]  # fmt: skip
        records = self._job(env, workdir, steps, sandbox, budget_s + 60)
        run = records[0] if records else {}
        listed = (read_inside(workdir, listing) or b"").decode("utf-8", "replace")
        dotted = sorted(((_dotted(m, detection), m) for m in modules), key=lambda p: -len(p[0]))
        scores = {m: ModuleScore() for m in modules}
        survivors: list[tuple[str, str]] = []
        unchecked = 0
        for line in listed.splitlines():
            match = _LINE.match(line)
            if match is None:
                continue
            name, status = match.group("name"), match.group("status").strip()
            module = next((m for d, m in dotted if name.startswith(d + ".")), None)
            if module is None:
                continue
            if status in {"not checked", "skipped"}:
                unchecked += status == "not checked"
                continue
            score = scores[module]
            score.total += 1
            if status in {"killed", "timeout", "segfault"}:
                score.killed += 1
            elif status == "survived":
                score.survived += 1
                survivors.append((module, name))
            elif status == "no tests":
                score.uncovered += 1
        shown = survivors[:SURVIVORS_SHOWN]
        if shown:
            diffs = [{"name": n, "argv": [mutmut, "show", n], "timeout_s": 60} for _, n in shown]
            for (module, name), record in zip(
                shown, self._job(env, workdir, diffs, sandbox, 60.0 * len(diffs)), strict=False
            ):
                text = str(record.get("output", ""))
                diff = text[text.find("---") :] if "---" in text else text
                scores[module].survivors.append(Survivor(mutant=name, diff=diff[:4000]))
        complete = bool(run) and not run.get("timed_out") and unchecked == 0
        reason = ("every mutant was checked" if complete else
                  f"the budget of {budget_s:.0f} s ran out ({unchecked} mutants not checked)"
                  if run.get("timed_out") or unchecked else
                  f"mutmut did not finish: {str(run.get('output', ''))[-300:]}")  # fmt: skip
        return MutationResult(tool=self.name, modules=scores, complete=complete, reason=reason,
                              duration_s=float(str(run.get("duration_s") or 0.0)))  # fmt: skip
