"""Mutation testing for Rust with cargo-mutants, in the sandbox, against the kept tests only.

cargo-mutants is a machine tool (`cargo install --locked cargo-mutants`; `make setup` installs
it when cargo is there and it is not). It runs in place in the mutation's copy of the crate,
offline: crates.io replaced by the vendored crates (in the run's own CARGO_HOME config, which
every cargo it starts reads), on a copy of the dependencies compiled once at prepare, with the
test runs' RUSTFLAGS so that they stay fresh. Only the modules with kept tests are mutated
(`--file`) and only the kept tests run (`cargo test --test ...`). Assay's own baseline run
first checks that the kept tests pass and gives their coverage: a missed mutant on a line
they never execute is uncovered, not a survivor. Per-mutant outcomes come from cargo-mutants'
`mutants.out/outcomes.json`; a run stopped by the budget keeps the outcomes written so far.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from pathlib import Path, PurePosixPath
from typing import Any

from assay.runtimes import sandboxed
from assay.runtimes.mutation import ModuleScore, MutationResult, Survivor
from assay.runtimes.port import (
    Detection,
    Environment,
    EnvironmentFailed,
    MutationTool,
    toolchain,
    unavailable,
)
from assay.runtimes.results import json_or_none, read_inside
from assay.runtimes.rust import (
    RUST_ADDRESS_SPACE_MB,
    RUST_PROCESSES,
    VENDORED,
    RustRuntime,
    run_env,
    stage_vendored,
)
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Sandbox

SURVIVORS_SHOWN = 20
INSTALL = "cargo install --locked cargo-mutants"
KILLED = {"CaughtMutant", "Timeout"}  # a timeout is a kept test that never finished: caught


def probe(configured: Path | None = None) -> tuple[Path | None, str]:
    """The cargo-mutants binary (it runs as `cargo-mutants mutants ...`, as cargo would) and
    its version; or None and why there is none, with how to install it."""
    try:
        binary = toolchain("cargo-mutants", configured, missing="cargo-mutants is not installed",
                           fix=INSTALL).resolve()  # fmt: skip
        done = subprocess.run(  # noqa: S603 - the machine's cargo-mutants
            [str(binary), "mutants", "--version"], capture_output=True, text=True, check=True
        )
    except (EnvironmentFailed, OSError, subprocess.CalledProcessError) as exc:
        return None, f"{unavailable(exc)} ({INSTALL})"
    return binary, done.stdout.strip()


def availability(configured: Path | None = None) -> str:
    """What Rust mutation testing runs with, or why there is none, in words."""
    binary, said = probe(configured)
    return f"mutation testing with {said}" if binary else f"no mutation testing: {said}"


_DIFF_PATH = re.compile(r"diff/[\w.-]+\.diff")


class CargoMutants(MutationTool):
    name = "cargo-mutants"
    tools: list[str] = []  # a machine tool, not installed with the crate's dependencies

    def __init__(self, runtime: RustRuntime, binary: Path | None = None) -> None:
        self._runtime = runtime
        self._binary = binary

    def run(self, env: Environment, detection: Detection, workdir: Path, *, modules: list[str],
            tests: list[str], sandbox: Sandbox, budget_s: float) -> MutationResult:  # fmt: skip
        started = time.monotonic()

        def ended(reason: str, scores: dict[str, ModuleScore] | None = None,
                  complete: bool = False) -> MutationResult:  # fmt: skip
            return MutationResult(tool=self.name, modules=scores or {}, complete=complete,
                                  reason=reason,
                                  duration_s=round(time.monotonic() - started, 3))  # fmt: skip

        binary, said = probe(self._binary)
        if binary is None:
            return ended(f"no mutation testing: {said}")
        limits = Limits(wall_s=min(300.0, max(30.0, budget_s)))
        baseline = self._runtime.run_tests(env, detection, workdir, tests, sandbox, limits=limits)
        if not baseline.ok:
            return ended(f"the kept tests do not pass unmutated: {baseline.reason}")
        covered = baseline.coverage.files if baseline.coverage else {}
        left = budget_s - (time.monotonic() - started)
        if left < 10:
            return ended("the mutation budget ran out")
        record = self._mutate(env, workdir, binary=binary, modules=modules, tests=tests,
                              sandbox=sandbox, budget_s=left,
                              timeout=max(20.0, 5 * baseline.duration_s))  # fmt: skip
        if record is None:
            said = sandboxed.text(workdir, "mutants.txt").strip()[-500:]
            return ended(f"cargo-mutants wrote no outcomes: {said}")
        scores, checked = _scores(record, workdir, modules,
                                  {m: covered[m].executed for m in covered})  # fmt: skip
        # outcomes.json counts only the mutants checked; mutants.json lists every one found.
        found = json_or_none(read_inside(workdir, f"{STATE_DIR}/mutants.out/mutants.json"))
        complete = isinstance(found, list) and checked >= len(found)
        return ended("" if complete else "the mutation budget ran out", scores, complete)

    def _mutate(self, env: Environment, workdir: Path, *, binary: Path, modules: list[str],
                tests: list[str], sandbox: Sandbox, budget_s: float,
                timeout: float) -> dict[str, Any] | None:  # fmt: skip
        """cargo-mutants in place in `workdir`, stopped (SIGINT: it writes what it has) when
        the budget is spent; its outcomes.json."""
        state = sandboxed.stage(workdir)
        vendored = stage_vendored(env, workdir)
        cargo = Path(env.interpreter)
        home = state / "cargo-home"
        home.mkdir()
        if vendored is not None:
            (home / "config.toml").write_text(
                f'[source.crates-io]\nreplace-with = "{VENDORED}"\n\n'
                f"[source.{VENDORED}]\ndirectory = {json.dumps(str(vendored / 'vendor'))}\n"
            )
        selection = [a for t in tests if t.startswith("tests/")
                     for a in ("--test", PurePosixPath(t).stem)]  # fmt: skip
        argv = [str(binary), "mutants", "--in-place", "--no-config", "--baseline=skip",
                f"--timeout={round(timeout)}", "--colors=never",
                f"--output={STATE_DIR}",
                *(f"--file={m}" for m in modules), "--", *selection]  # fmt: skip
        stop = max(5, round(budget_s - 5))
        script = (f"timeout -s INT -k 20 {stop} {shlex.join(argv)}"
                  f" > {STATE_DIR}/mutants.txt 2>&1")  # fmt: skip
        run = {**run_env(cargo, state), "CARGO": str(cargo),
               # one profile, overwritten by each test run: mutants need no coverage
               "LLVM_PROFILE_FILE": str(state / "prof" / "mutant.profraw")}  # fmt: skip
        sandboxed.run_steps(
            workdir, [sandboxed.shell(script, name="mutants")], sandbox,
            readonly=[*env.readonly, binary.parent], env=run,
            limits=Limits(wall_s=budget_s + 30, cpu_s=int(budget_s * 2 + 60),
                          memory_mb=RUST_ADDRESS_SPACE_MB, processes=RUST_PROCESSES,
                          open_files=4096, output_bytes=4_000_000),
        )  # fmt: skip
        record = json_or_none(read_inside(workdir, f"{STATE_DIR}/mutants.out/outcomes.json"))
        return record if isinstance(record, dict) else None


def _scores(record: dict[str, Any], workdir: Path, modules: list[str],
            executed: dict[str, set[int]]) -> tuple[dict[str, ModuleScore], int]:  # fmt: skip
    """Per module, cargo-mutants' outcomes (a missed mutant on a line the kept tests never ran
    is uncovered; one that does not build is not counted); and how many mutants were checked."""
    scores = {m: ModuleScore() for m in modules}
    shown = checked = 0
    for outcome in record.get("outcomes") or []:
        scenario = outcome.get("scenario") if isinstance(outcome, dict) else None
        mutant = scenario.get("Mutant") if isinstance(scenario, dict) else None
        if not isinstance(mutant, dict):
            continue  # the baseline
        checked += 1
        summary = outcome.get("summary")
        score = scores.get(str(mutant.get("file")))
        if score is None or summary not in {*KILLED, "MissedMutant"}:
            continue  # unviable: the mutant did not build
        score.total += 1
        span = mutant.get("span")
        start = span.get("start") if isinstance(span, dict) else None
        line = start.get("line") if isinstance(start, dict) else None
        if summary in KILLED:
            score.killed += 1
        elif line not in executed.get(str(mutant.get("file")), set()):
            score.uncovered += 1
        else:
            score.survived += 1
            if shown < SURVIVORS_SHOWN:
                shown += 1
                named = str(outcome.get("diff_path"))  # the sandbox's word: a diff file or nothing
                diff = (read_inside(workdir, f"{STATE_DIR}/mutants.out/{named}")
                        if _DIFF_PATH.fullmatch(named) else None)  # fmt: skip
                score.survivors.append(Survivor(
                    mutant=str(mutant.get("name")),
                    diff=(diff or b"").decode("utf-8", "replace")[:4000]))  # fmt: skip
    return scores, checked
