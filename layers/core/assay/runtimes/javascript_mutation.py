"""Mutation testing for JavaScript and TypeScript with Stryker, in the sandbox, against the
kept tests only.

Stryker's core and the plugin for the project's runner (Jest or Vitest) are installed with
the project's dependencies at prepare, from the npm registry through the egress proxy. Each
module is mutated by a Stryker run of its own (one sandbox job, the budget's remainder as its
wall time), so a budget that runs out still leaves the modules already measured. Stryker
mutates in place (the work directory is a throwaway copy) and runs Assay's own Jest or Vitest
configuration restricted to the kept tests; its JSON report (the mutation-testing-report
schema) is read into scores: Killed and Timeout kill, Survived survives, NoCoverage is
uncovered, and mutants that do not compile or crash the runner are not counted.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.runtimes import sandboxed
from assay.runtimes.mutation import ModuleScore, MutationResult, Survivor
from assay.runtimes.port import Detection, Environment, EnvironmentFailed, MutationTool
from assay.runtimes.results import json_or_none, read_inside
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Sandbox

if TYPE_CHECKING:  # the runtime builds its tool and hands itself over
    from assay.runtimes.javascript import JavaScriptRuntime

# Stryker 10 needs Node.js 22; 9.6 runs on 20 and newer.
STRYKER = "9.6.1"
SURVIVORS_SHOWN = 20
REPORT = f"{STATE_DIR}/stryker.json"
CONFIG = f"{STATE_DIR}/stryker.config.json"
KILLED = {"Killed", "Timeout"}
NOT_COUNTED = {"CompileError", "RuntimeError", "Ignored", "Pending"}
MIN_RUN_S = 15.0  # less than this left in the budget: the next module is not started


class Stryker(MutationTool):
    name = "stryker"
    tools = [f"@stryker-mutator/core@{STRYKER}"]

    def __init__(self, runtime: JavaScriptRuntime) -> None:
        self._runtime = runtime

    def run(self, env: Environment, detection: Detection, workdir: Path, *, modules: list[str],
            tests: list[str], sandbox: Sandbox, budget_s: float) -> MutationResult:  # fmt: skip
        from assay.runtimes.javascript import envdir_modules, link_modules

        started = time.monotonic()
        try:
            stryker = envdir_modules(env) / "@stryker-mutator" / "core" / "bin" / "stryker.js"
        except EnvironmentFailed as exc:
            return _result({}, False, exc.message, started)
        if not stryker.is_file():
            said = (
                "Stryker is not in the project's environment (prepare installs it for --mutation)"
            )
            return _result({}, False, said, started)
        scores: dict[str, ModuleScore] = {}
        reasons: list[str] = []
        shown = 0
        for module in modules:
            left = budget_s - (time.monotonic() - started)
            if left < MIN_RUN_S:
                reasons.append(f"the budget of {budget_s:.0f} s ran out before {module}")
                break
            sandboxed.stage(workdir)
            link_modules(workdir, env)
            self._configure(workdir, detection, module, tests, left)
            records, outcome = sandboxed.run_steps(
                workdir, [{"name": "stryker", "argv": [str(env.interpreter), str(stryker), "run",
                                                      CONFIG], "timeout_s": left}],
                sandbox, readonly=env.readonly,
                env={"NO_COLOR": "1", "FORCE_COLOR": "0", "CI": "1"},
                limits=Limits(wall_s=left + 30, cpu_s=int(left * 2 + 60),
                              memory_mb=_node_memory(), processes=256, open_files=4096,
                              output_bytes=4_000_000),
            )  # fmt: skip
            report = json_or_none(read_inside(workdir, REPORT))
            if not isinstance(report, dict):
                record = records[0] if records else {}
                said = str(record.get("output") or outcome.stderr or outcome.reason)
                timed_out = record.get("timed_out") or not outcome.ok
                reasons.append(f"Stryker {'ran out of time' if timed_out else 'failed'} on "
                               f"{module}: {_last_error(said)}")  # fmt: skip
                continue
            score, survivors = read_report(report, workdir, module)
            for survivor in survivors:
                if shown < SURVIVORS_SHOWN:
                    score.survivors.append(survivor)
                    shown += 1
            scores[module] = score
        complete = not reasons and len(scores) == len(modules)
        reason = "every mutant was checked" if complete else "; ".join(reasons)
        return _result(scores, complete, reason, started)

    def _configure(self, workdir: Path, detection: Detection, module: str, tests: list[str],
                   left: float) -> None:  # fmt: skip
        from assay.runtimes.javascript import configure

        runner = detection.test_runner
        config: dict[str, Any] = {
            "testRunner": runner,
            "plugins": [f"@stryker-mutator/{runner}-runner"],
            "mutate": [_glob_literal(module)],
            "reporters": ["json"],
            "jsonReporter": {"fileName": REPORT},
            "coverageAnalysis": "perTest",
            "concurrency": 1,
            "inPlace": True,  # the work directory is a copy; and node_modules is read-only
            "tempDirName": f"{STATE_DIR}/stryker-tmp",
            "cleanTempDir": "always",
            "checkers": [],
            "disableTypeChecks": True,
            "timeoutMS": 5000,
            "dryRunTimeoutMinutes": max(1, int(left // 60)),
            "fileLogLevel": "off",
            "logLevel": "info",
            "allowConsoleColors": False,
            "packageManager": "npm",
        }
        wrapper = configure(workdir, runner, only=tests)
        if runner == "jest":
            config["jest"] = {"projectType": "custom", "configFile": wrapper,
                              "enableFindRelatedTests": False}  # fmt: skip
            if detection.module_system == "esm":
                config["testRunnerNodeArgs"] = ["--experimental-vm-modules"]
        else:
            config["vitest"] = {"configFile": wrapper}
        (workdir / CONFIG).write_text(json.dumps(config, indent=1))


Scored = tuple[ModuleScore, list[Survivor]]


def read_report(report: dict[str, Any], workdir: Path, module: str) -> Scored:
    """One module's score from a Stryker JSON report, and its survivors with their diffs."""
    score = ModuleScore()
    survivors = []
    files = report.get("files")
    entry = _entry(files if isinstance(files, dict) else {}, workdir, module)
    source = str(entry.get("source") or "")
    for mutant in entry.get("mutants") or []:
        if not isinstance(mutant, dict):
            continue
        status = str(mutant.get("status"))
        if status in NOT_COUNTED:
            continue
        score.total += 1
        if status in KILLED:
            score.killed += 1
        elif status == "NoCoverage":
            score.uncovered += 1
        elif status == "Survived":
            score.survived += 1
            survivors.append(_survivor(module, source, mutant))
    return score, survivors


def _entry(files: dict[str, Any], workdir: Path, module: str) -> dict[str, Any]:
    """The report's entry for `module` (Stryker names files relative to where it ran)."""
    prefix = str(workdir.resolve()).rstrip("/") + "/"
    for name, entry in files.items():
        rel = name[len(prefix) :] if name.startswith(prefix) else name
        if rel.removeprefix("./") == module and isinstance(entry, dict):
            return entry
    return {}


def _survivor(module: str, source: str, mutant: dict[str, Any]) -> Survivor:
    """A surviving mutant, named `module:line:mutator`, with its change as a unified diff
    (the report's locations count lines and columns from 1)."""
    location = _mapping(mutant.get("location"))
    start, end = _mapping(location.get("start")), _mapping(location.get("end"))
    found = start.get("line")
    line: int = found if isinstance(found, int) else 1
    mutated = source
    try:
        lines = source.splitlines(keepends=True)
        first = sum(len(x) for x in lines[: line - 1]) + int(start.get("column") or 1) - 1
        last = sum(len(x) for x in lines[: int(end.get("line") or line) - 1])
        last += int(end.get("column") or 1) - 1
        mutated = source[:first] + str(mutant.get("replacement") or "") + source[last:]
    except (TypeError, ValueError):
        pass
    diff = "".join(difflib.unified_diff(
        source.splitlines(keepends=True), mutated.splitlines(keepends=True),
        fromfile=f"a/{module}", tofile=f"b/{module}", n=1))  # fmt: skip
    name = f"{module}:{line}:{mutant.get('mutatorName') or 'mutant'}"
    return Survivor(mutant=name, diff=diff[:4000])


def _glob_literal(path: str) -> str:
    """`path` as a Stryker glob that matches only itself (Next.js names files `[id].tsx`)."""
    return re.sub(r"([\[\]{}()*?!+@])", r"\\\1", path)


def _mapping(value: Any) -> dict[str, Any]:
    """`value` when the report gave an object there, else an empty one."""
    return value if isinstance(value, dict) else {}


def _last_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Error" in line]
    return " | ".join((errors or lines)[-3:])[:600] or "no output"


def _node_memory() -> int:
    from assay.runtimes.javascript import NODE_ADDRESS_SPACE_MB

    return NODE_ADDRESS_SPACE_MB


def _result(scores: dict[str, ModuleScore], complete: bool, reason: str,
            started: float) -> MutationResult:  # fmt: skip
    return MutationResult(tool="stryker", modules=scores, complete=complete, reason=reason,
                          duration_s=round(time.monotonic() - started, 3))  # fmt: skip
