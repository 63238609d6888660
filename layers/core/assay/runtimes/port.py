"""The runtime interface every language implements."""

from __future__ import annotations

import shutil
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assay.errors import AssayError
from assay.runtimes import sandboxed
from assay.runtimes.coverage import CoverageMap
from assay.runtimes.mutation import MutationResult
from assay.sandbox import Limits, Outcome, Sandbox


class EnvironmentFailed(AssayError):
    """A project's toolchain is missing, or its dependencies could not be installed."""

    status = 422
    code = "environment_failed"


def toolchain(command: str, configured: Path | None, *, missing: str, fix: str) -> Path:
    """`configured`, else `command` found on PATH (as found: a rustup proxy must stay one);
    a clear EnvironmentFailed when neither exists."""
    found = configured or (Path(p) if (p := shutil.which(command)) else None)
    if found is None:
        raise EnvironmentFailed(missing, fix=fix)
    return found


def unavailable(exc: Exception) -> str:
    """Why a toolchain probe failed, in one line: a tool that exists but fails is named with
    its own first error line (a rustup with no default toolchain), not just its exit status."""
    if isinstance(exc, subprocess.CalledProcessError):
        command = exc.cmd if isinstance(exc.cmd, str) else " ".join(map(str, exc.cmd))
        said = next(
            (line for line in str(exc.stderr or exc.stdout or "").splitlines() if line.strip()), ""
        )
        return f"`{command}` fails (exit {exc.returncode})" + (f": {said.strip()}" if said else "")
    return str(exc)


class Detection(BaseModel):
    language: str
    test_runner: str
    package_manager: str
    source_roots: list[str]  # directories (relative) that hold the code under test
    modules: list[str]  # source files (relative), tests excluded
    test_files: list[str]  # existing test files (relative)
    dependency_files: list[str] = Field(default_factory=list)
    module_system: str | None = None  # JavaScript: "esm" or "commonjs"
    package: str | None = None  # the project's own name where tests import it (a Rust crate)


class Environment(BaseModel):
    """Where the project's dependencies and the test tools are installed."""

    interpreter: Path
    readonly: list[Path]  # paths the sandbox must expose read-only to run it
    key: str  # cache key (what it was built from)
    tools: list[str]
    # The test generators' own interpreter, apart from the project's packages (Python), and
    # what the install did and what it had to leave out.
    generator: Path | None = None
    installed: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def directories(self) -> list[Path]:
        """The environments' root directories (`<env>/bin/python`), for shipping them."""
        found = [self.interpreter.parent.parent]
        if self.generator is not None:
            found.append(self.generator.parent.parent)
        return found


SUCCESSES = frozenset({"passed", "xfailed"})
# How much of a run's output a TestRun keeps: its tail, where the errors are.
OUTPUT_CAP = 4000


class TestCaseResult(BaseModel):
    test_id: str  # e.g. tests/test_calc.py::test_add
    file: str
    outcome: str  # passed | xfailed | failed | error | skipped
    error_type: str | None = None
    message: str | None = None
    detail: str | None = None


class TestRun(BaseModel):
    ok: bool  # the run completed and every test passed
    reason: str
    tests: list[TestCaseResult] = Field(default_factory=list)
    coverage: CoverageMap | None = None
    output: str = ""
    duration_s: float = 0.0

    @property
    def passed(self) -> list[TestCaseResult]:
        """The tests the framework counts as successes (an expected failure that happened
        is one: `xfailed`)."""
        return [t for t in self.tests if t.outcome in SUCCESSES]

    @property
    def skipped(self) -> list[TestCaseResult]:
        return [t for t in self.tests if t.outcome == "skipped"]

    def counts(self) -> str:
        """What the run found, in words: `3 passed, 1 failed, 2 skipped`."""
        order = ("passed", "xfailed", "failed", "error", "skipped")
        found = {name: sum(t.outcome == name for t in self.tests) for name in order}
        said = ", ".join(f"{n} {name}" for name, n in found.items() if n)
        return said or "no test ran"

    @property
    def failed(self) -> list[TestCaseResult]:
        return [t for t in self.tests if t.outcome in {"failed", "error"}]


class Commands(BaseModel):
    """What a test run executes in the sandbox: the runner's steps, with their environment and
    limits; or, `decided`, a run settled without executing anything."""

    steps: list[dict[str, Any]] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    limits: Limits
    decided: TestRun | None = None


class Ran(BaseModel):
    """What a test run's commands did, for the runtime to read: the exit code of its first
    step (untrusted, as the runner recorded it), the sandbox's outcome, and the run's output."""

    workdir: Path
    tests: list[str]  # the test files run (all when empty)
    code: Any
    outcome: Outcome
    output: str

    def run(self, ok: bool, reason: str, *, results: list[TestCaseResult] | None = None,
            coverage: CoverageMap | None = None, output: str | None = None) -> TestRun:  # fmt: skip
        """The TestRun, with the tail of `output` (else the run's output) and its duration."""
        kept = self.output if output is None else output
        return TestRun(ok=ok, reason=reason, tests=results or [], coverage=coverage,
                       output=kept[-OUTPUT_CAP:], duration_s=self.outcome.duration_s)  # fmt: skip

    def checked(self, *, yes: str, no: str) -> TestRun:
        """A collect-only run (a build or syntax check): it passed when its command exited 0."""
        return self.run(self.code == 0, yes if self.code == 0 else no)

    def finished(self, results: list[TestCaseResult], coverage: CoverageMap | None, *,
                 reason: str, output: str | None = None) -> TestRun:  # fmt: skip
        """A full run: it passed when the sandbox job ended well and the runner exited 0."""
        ok = self.outcome.ok and self.code == 0
        return self.run(ok, reason, results=results, coverage=coverage, output=output)

    def verdict(self, results: list[TestCaseResult], otherwise: str) -> str:
        """Why a test run ended as it did; `otherwise` when no test result explains a failure."""
        if self.code == 0:
            return "all tests passed"
        if any(t.outcome in {"failed", "error"} for t in results):
            return "some tests failed"
        return otherwise


class Idioms(BaseModel):
    """What a model must know to write tests for this language (the LLM engine's prompts)."""

    language: str  # as prompts name it: Python, JavaScript, TypeScript...
    fence: str  # the code block's tag: python, javascript, typescript...
    framework: str  # e.g. "pytest", "Jest", "Vitest"
    rules: str  # the framework's idioms, in a sentence or two
    starts: tuple[str, ...]  # how a bare test file may begin (when a model forgets the fence)


class Runtime(ABC):
    """One language: detection, environments, test runs with coverage, and what the pipeline
    needs to know about its source (functions, test files, how to prune a failing test)."""

    language: str
    # Whether its generated tests live under the project's tests/ (Python, JavaScript, Rust);
    # those that do not (Go's beside their package, Java's under src/test/java) are placed
    # below the output's tests/ at their project path.
    tests_in_tests_dir: bool = True

    @abstractmethod
    def detect(self, root: Path) -> Detection | None:
        """What this project is, or None if this runtime does not apply."""

    def unsupported(self, root: Path) -> str | None:
        """Why a project this runtime's language would otherwise claim cannot be analyzed
        (a shape it does not handle yet), for the refusal; None when there is no such reason."""
        return None

    @abstractmethod
    def prepare(
        self,
        detection: Detection,
        root: Path,
        sandbox: Sandbox,
        cache: Path,
        extra_tools: list[str],
    ) -> Environment:
        """Install the project's dependencies and the test tools (network allowed, sandboxed)."""

    def prepare_generator(self, tools: list[str], sandbox: Sandbox, cache: Path) -> Path | None:
        """An interpreter with the test generators' `tools`, apart from the project's packages;
        None when this language keeps them with the project (or needs none)."""
        return None

    # ---------------------------------------------------------- test runs
    # What a collect-only check says when its command exits 0, and when it does not.
    check_reasons = ("the tests build", "the tests do not build")

    def run_tests(
        self,
        env: Environment,
        detection: Detection,
        workdir: Path,
        tests: list[str],
        sandbox: Sandbox,
        *,
        limits: Limits,
        collect_only: bool = False,
    ) -> TestRun:
        """Run `tests` (relative paths; all tests when empty) in `workdir` with coverage, or
        only check that they build (`collect_only`): this runtime's commands in the sandbox
        under a fresh `.assay` folder, then its reading of what they left."""
        sandboxed.stage(workdir)
        commands = self.commands(env, detection, workdir, tests, limits=limits,
                                 collect_only=collect_only)  # fmt: skip
        if commands.decided is not None:
            return commands.decided
        records, outcome = sandboxed.run_steps(workdir, commands.steps, sandbox,
                                               readonly=env.readonly, env=commands.env,
                                               limits=commands.limits)  # fmt: skip
        output = self.read_output(workdir, records, outcome)
        code = records[0].get("exit_code") if records else None
        ran = Ran(workdir=workdir, tests=tests, code=code, outcome=outcome, output=output)
        if not records:  # the runner recorded nothing: the sandbox's outcome says why
            return ran.run(False, f"the test run {outcome.reason}")
        return self.read_check(ran) if collect_only else self.read_results(ran)

    @abstractmethod
    def commands(
        self,
        env: Environment,
        detection: Detection,
        workdir: Path,
        tests: list[str],
        *,
        limits: Limits,
        collect_only: bool,
    ) -> Commands:
        """What `run_tests` executes in `workdir` (its `.assay` folder freshly staged)."""

    def read_output(self, workdir: Path, records: list[dict[str, Any]], outcome: Outcome) -> str:
        """The run's output: what its steps printed."""
        return "\n".join(str(r.get("output", "")) for r in records)

    def read_check(self, ran: Ran) -> TestRun:
        """A collect-only run's verdict: its build or syntax check passed when it exited 0."""
        yes, no = self.check_reasons
        return ran.checked(yes=yes, no=no)

    @abstractmethod
    def read_results(self, ran: Ran) -> TestRun:
        """A full run's tests and coverage, from what its commands wrote in `ran.workdir`."""

    @abstractmethod
    def availability(self) -> tuple[bool, str]:
        """Whether this machine can analyze the language, and what with (or what is missing)."""

    # ---------------------------------------------------------- language knowledge
    @abstractmethod
    def idioms(self, detection: Detection) -> Idioms:
        """How tests are written for this project (its language and test framework)."""

    @abstractmethod
    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        """Where a generated test file for `module` goes, relative to the project root."""

    @abstractmethod
    def import_hint(self, module: str, detection: Detection) -> str:
        """How a test file at `candidate_path` reaches the module (an import name or path)."""

    def place(self, code: str, path: str) -> str:
        """A generated file as it must be to live at `path` (Java names classes after files)."""
        return code

    def functions(self, source: str) -> list[tuple[str, int, int]]:
        """(qualified name, first line, last line) of each function; none when unknown."""
        return []

    def statement_lines(self, source: str) -> list[int]:
        """The lines that count for coverage in a file no test has loaded."""
        return [
            n
            for n, line in enumerate(source.splitlines(), start=1)
            if line.strip() and not line.strip().startswith(("//", "#", "/*", "*"))
        ]

    def syntax_error(self, code: str) -> str | None:
        """Why `code` cannot be a test file at all, or None (the test run finds the rest)."""
        return None

    def prune(self, code: str, failing: set[str]) -> str | None:
        """`code` without the named failing tests, or None when they cannot be cut out."""
        return None

    def mutation_tool(self) -> MutationTool | None:
        """The tool that measures a mutation score for this language, if there is one."""
        return None

    def is_assertion_failure(self, error_type: str | None, message: str | None) -> bool:
        """Whether a failure is a test's assertion (a possible bug), not a crash."""
        text = f"{error_type or ''} {message or ''}"
        return "AssertionError" in text


class MutationTool(ABC):
    """Measures a mutation score for a runtime's language (see `assay.runtimes.mutation`)."""

    name: str
    tools: list[str]  # what the environment must hold (installed with the project's deps)

    @abstractmethod
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
        """Mutate `modules` in `workdir` (a copy of the project holding `tests`) and run only
        `tests` against each mutant, within `budget_s`."""
