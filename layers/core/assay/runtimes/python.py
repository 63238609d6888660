"""Python: pytest and coverage.py (with branches), run inside the sandbox.

What the project declares (python_requirements) is installed with the project itself, when it
has a build system, in the install sandbox (python_env); tests import the snapshot's code, put
first on PYTHONPATH (its source roots). The project's pytest configuration holds, but for the
options that would fight Assay's own coverage and reports.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.intake.local import SKIP_DIRS
from assay.runtimes import python_env, python_requirements
from assay.runtimes.coverage import CoverageMap
from assay.runtimes.port import (
    SUCCESSES,
    Commands,
    Detection,
    Environment,
    Idioms,
    MutationTool,
    Ran,
    Runtime,
    TestCaseResult,
    TestRun,
    unavailable,
)
from assay.runtimes.python_mutation import Mutmut
from assay.runtimes.python_requirements import normalize
from assay.runtimes.results import json_or_none as _json
from assay.runtimes.results import junit_cases, read_inside
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Outcome, Sandbox
from assay.sandbox.egress import DEFAULT_PACKAGE_HOSTS

OMIT = [
    "tests/*",
    "test/*",
    "*/tests/*",
    "*/test/*",
    "test_*.py",
    "*_test.py",
    "*/test_*.py",
    "conftest.py",
    "*/conftest.py",
    "setup.py",
    ".assay/*",
]


# Code in a project that is not the project's: copies of other libraries, and the tooling
# around it (documentation, CI, release and benchmark scripts). Not targets, not measured.
VENDORED = frozenset({"_vendor", "vendor", "vendored", "third_party", "thirdparty", "externals"})
TOOLING = frozenset({"docs", "doc", "documentation", "examples", "example", "scripts", "tools",
                     "ci_tools", "ci", "benchmarks", "benchmark", "bench", "tasks"})  # fmt: skip
OMIT += [f"*/{d}/*" for d in sorted(VENDORED)] + [f"{d}/*" for d in sorted(TOOLING)]


def project_modules(root: Path, found: list[str], *, src_layout: bool) -> list[str]:
    """The project's own modules: under src/ in a src layout; in its packages where it has
    some (a lone `benchmark.py` or `update_data.py` beside them is a script); else what
    there is (a single-module project such as six.py)."""
    if src_layout:
        return [m for m in found if m.startswith("src/")]
    packaged = [
        m for m in found if "/" in m and (root / m.split("/", 1)[0] / "__init__.py").is_file()
    ]
    return packaged or found


def is_test_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    parts = rel.split("/")
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or any(p in {"tests", "test"} for p in parts[:-1])
    )


class PythonRuntime(Runtime):
    language = "python"

    def __init__(
        self,
        interpreter: Path | None = None,
        *,
        package_hosts: tuple[str, ...] = DEFAULT_PACKAGE_HOSTS,
        package_index: Callable[[], str] | None = None,
    ) -> None:
        # The interpreter that creates project environments: Assay's own base Python.
        self._python = interpreter or Path(sys.base_prefix) / "bin" / "python3"
        self._package_hosts = package_hosts
        # Set (aws: a CodeArtifact repository), installs read that index, over the only
        # network an install sandbox has; unset, they go through the allow-list proxy.
        self._package_index = package_index

    # ------------------------------------------------------------------ detect
    def detect(self, root: Path) -> Detection | None:
        modules, tests = [], []
        for dirpath, dirnames, filenames in os.walk(root):
            top = Path(dirpath) == root
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                and d not in VENDORED and not (top and d in TOOLING)
            )  # fmt: skip
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if is_test_file(rel):
                    if name != "conftest.py":
                        tests.append(rel)
                elif name != "setup.py" and not rel.startswith(("docs/", "examples/")):
                    modules.append(rel)
        roots = ["src"] if any(m.startswith("src/") for m in modules) else ["."]
        modules = project_modules(root, modules, src_layout=roots == ["src"])
        if not modules:
            return None
        dependency_files = sorted(
            p.name
            for p in root.iterdir()
            if (p.is_file() and (p.name.startswith("requirements") and p.suffix == ".txt"))
            or p.name in {"pyproject.toml", "setup.cfg", "setup.py", "poetry.lock", "uv.lock"}
        )
        manager = (
            "poetry"
            if "poetry.lock" in dependency_files
            else ("uv" if "uv.lock" in dependency_files else "pip")
        )
        return Detection(
            language="python",
            test_runner="pytest",
            package_manager=manager,
            source_roots=roots,
            modules=modules,
            test_files=tests,
            dependency_files=dependency_files,
        )

    def availability(self) -> tuple[bool, str]:
        try:
            return True, f"pytest and coverage.py in a venv of Python {self._version()}"
        except (OSError, subprocess.CalledProcessError) as exc:
            return False, f"{self._python} cannot run: {unavailable(exc)}"

    # ------------------------------------------------------------------ language
    def idioms(self, detection: Detection) -> Idioms:
        return Idioms(
            language="Python", fence="python", framework="pytest",
            rules="Write plain pytest test functions named test_<what_they_check>; use "
            "pytest.raises for expected exceptions and tmp_path for files.",
            starts=("import ", "from ", "def test"),
        )  # fmt: skip

    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        stem = re.sub(r"[^A-Za-z0-9_]", "_", Path(module).with_suffix("").as_posix())
        return f"tests/test_assay_{stem}_{engine}_{index}.py"

    def import_hint(self, module: str, detection: Detection) -> str:
        path = Path(module)
        for root in detection.source_roots:
            if root != "." and path.is_relative_to(root):
                path = path.relative_to(root)
                break
        parts = list(path.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        return ".".join(parts)

    def functions(self, source: str) -> list[tuple[str, int, int]]:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return []
        found: list[tuple[str, int, int]] = []

        def visit(node: ast.AST, prefix: str) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    name = f"{prefix}{child.name}"
                    found.append((name, child.lineno, child.end_lineno or child.lineno))
                    visit(child, f"{name}.")
                elif isinstance(child, ast.ClassDef):
                    visit(child, f"{prefix}{child.name}.")

        visit(tree, "")
        return found

    def statement_lines(self, source: str) -> list[int]:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return []
        return sorted({n.lineno for n in ast.walk(tree) if isinstance(n, ast.stmt)})

    def syntax_error(self, code: str) -> str | None:
        try:
            ast.parse(code)
        except SyntaxError as exc:
            return f"the file is not valid Python: {exc.msg} (line {exc.lineno})"
        return None

    def prune(self, code: str, failing: set[str]) -> str | None:
        """Remove the named test functions (and test methods), decorators included."""
        tree = ast.parse(code)
        lines = code.splitlines(keepends=True)
        spans = []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in failing:
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                spans.append((start, node.end_lineno or node.lineno))
        for start, end in sorted(spans, reverse=True):
            del lines[start - 1 : end]
        return "".join(lines)

    def is_assertion_failure(self, error_type: str | None, message: str | None) -> bool:
        text = f"{error_type or ''} {message or ''}"
        return "AssertionError" in text or (message or "").startswith("assert ")

    def mutation_tool(self) -> MutationTool | None:
        return Mutmut()

    # ------------------------------------------------------------------ prepare
    def _version(self) -> str:
        done = subprocess.run(  # noqa: S603
            [str(self._python), "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def _installer(self, sandbox: Sandbox, cache: Path) -> python_env.Installer:
        return python_env.Installer(
            python=self._python, sandbox=sandbox, cache=cache, hosts=self._package_hosts,
            index_url=None if self._package_index is None else self._package_index(),
        )  # fmt: skip

    def prepare(
        self,
        detection: Detection,
        root: Path,
        sandbox: Sandbox,
        cache: Path,
        extra_tools: list[str],
    ) -> Environment:
        declared = python_requirements.declared(root)
        tools = python_env.tools_for(declared, extra_tools)
        version = self._version()
        key = python_env.project_key(version, root, declared, tools)
        envdir = cache / "envs" / f"py{version}-{key}"
        base = Path(sys.base_prefix)
        environment = Environment(
            interpreter=envdir / "bin" / "python", readonly=sorted({envdir, base}), key=key,
            tools=tools,
        )  # fmt: skip
        built = python_env.once(envdir, lambda: python_env.build_project_env(
            self._installer(sandbox, cache), envdir, root, declared, tools))  # fmt: skip
        sources = ", ".join(declared.sources) or "nothing declared"
        return environment.model_copy(update={
            "installed": built.installed,
            "notes": [f"dependencies from: {sources}", *built.notes],
        })  # fmt: skip

    def prepare_generator(self, tools: list[str], sandbox: Sandbox, cache: Path) -> Path | None:
        if not tools:
            return None
        version = self._version()
        key = hashlib.sha256(json.dumps([version, sorted(tools)]).encode()).hexdigest()[:16]
        envdir = cache / "envs" / f"tools-py{version}-{key}"
        python_env.once(
            envdir,
            lambda: python_env.build_tools_env(self._installer(sandbox, cache), envdir, tools),
        )
        return envdir / "bin" / "python"

    # ------------------------------------------------------------------ run tests
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
        python = str(env.interpreter)
        pytest_args = [
            "-q", "-p", "no:cacheprovider", "-o", f"addopts={project_addopts(workdir)}",
            "--rootdir=.", f"--junitxml={STATE_DIR}/junit.xml",
            # One test file that cannot be imported must not take the others' coverage with it.
            "--continue-on-collection-errors",
        ]  # fmt: skip
        if tests and _has(env, "pytest-timeout"):
            # Generated tests: each gets a short limit of its own, so one that blocks cannot
            # take the file's whole run with it.
            pytest_args.append(f"--timeout={TEST_TIMEOUT_S}")
        pytest_args += tests
        if collect_only:
            steps = [
                {
                    "name": "collect",
                    "argv": [python, "-m", "pytest", "--collect-only", *pytest_args],
                }
            ]
        else:
            data = f"--data-file={STATE_DIR}/coverage.data"
            rcfile = f"--rcfile={_coveragerc(workdir)}"
            sources = ",".join(detection.source_roots)
            steps = [
                {
                    "name": "tests",
                    "argv": [
                        python,
                        "-m",
                        "coverage",
                        "run",
                        "--branch",
                        rcfile,
                        data,
                        f"--source={sources}",
                        f"--omit={','.join([*OMIT, *_scripts(workdir, detection)])}",
                        "-m",
                        "pytest",
                        *pytest_args,
                    ],
                },
                {
                    "name": "coverage",
                    "argv": [
                        python,
                        "-m",
                        "coverage",
                        "json",
                        rcfile,
                        data,
                        "-q",
                        "-o",
                        f"{STATE_DIR}/coverage.json",
                    ],
                },
            ]
        pythonpath = ":".join(str((workdir / r).resolve()) for r in detection.source_roots)
        return Commands(steps=steps, env={"PYTHONPATH": pythonpath}, limits=limits)

    def read_output(self, workdir: Path, records: list[dict[str, Any]], outcome: Outcome) -> str:
        return super().read_output(workdir, records, outcome) or outcome.stdout

    def read_check(self, ran: Ran) -> TestRun:
        # pytest's collection is read as a run: its exit code and report say what failed.
        return self.read_results(ran)

    def read_results(self, ran: Ran) -> TestRun:
        tests_found = _junit(read_inside(ran.workdir, f"{STATE_DIR}/junit.xml"), ran.workdir)
        coverage_map = None
        report = _json(read_inside(ran.workdir, f"{STATE_DIR}/coverage.json"))
        if report is not None:
            coverage_map = CoverageMap.from_coverage_json(report, str(ran.workdir.resolve()))
        reason = _reason(ran.code, ran.outcome.reason)
        if ran.code == 0 and tests_found and not any(t.outcome in SUCCESSES for t in tests_found):
            reason = "every test was skipped"
        return ran.finished(tests_found, coverage_map, reason=reason)


# Options of a project's `addopts` that would fight Assay's own coverage run, reports or
# reruns (parallel workers escape `coverage run`); each with whether it takes a value.
DROPPED_OPTIONS = {
    "--cov": False, "--cov-report": True, "--cov-config": True, "--cov-fail-under": True,
    "--cov-append": False, "--cov-branch": False, "--no-cov": False, "--junitxml": True,
    "--junit-xml": True, "--junit-prefix": True, "-n": True, "--numprocesses": True,
    "--dist": True, "--maxprocesses": True, "--lf": False, "--last-failed": False,
    "--ff": False, "--failed-first": False, "--sw": False, "--stepwise": False, "--pdb": False,
    "--looponfail": False, "-f": False, "--result-log": True, "--html": True,
    "--self-contained-html": False, "--benchmark-autosave": False,
}  # fmt: skip
TEST_TIMEOUT_S = 20


def project_addopts(workdir: Path) -> str:
    """The project's own `addopts`, without what would fight Assay's run."""
    raw = python_requirements.pytest_options(workdir).get("addopts", "")
    try:
        tokens = shlex.split(raw)
    except ValueError:
        return ""
    kept, skip = [], False
    for token in tokens:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in DROPPED_OPTIONS or name.startswith("--cov"):
            skip = DROPPED_OPTIONS.get(name, False) and "=" not in token
            continue
        if name.startswith("-n") and name[2:].isdigit():  # -n4
            continue
        kept.append(token)
    return shlex.join(kept)


def _coveragerc(workdir: Path) -> str:
    """Assay's own coverage.py settings for this run (relative to `workdir`), keeping only
    the project's exclusion patterns."""
    lines = ["[run]", "branch = True", "parallel = False", "[report]"]
    for key, patterns in python_requirements.coverage_exclusions(workdir).items():
        lines += [f"{key} ="] + [f"    {p}" for p in patterns]
    (workdir / STATE_DIR / "coveragerc").write_text("\n".join(lines) + "\n")
    return f"{STATE_DIR}/coveragerc"


def _scripts(workdir: Path, detection: Detection) -> list[str]:
    """Top-level .py files that are not the project's modules (scripts beside packages)."""
    modules = set(detection.modules)
    return sorted(p.name for p in workdir.glob("*.py") if p.name not in modules)


def _has(env: Environment, distribution: str) -> bool:
    wanted = normalize(distribution)
    return any(normalize(i.split("==", 1)[0]) == wanted for i in env.installed)


def _reason(code: Any, sandbox_reason: str) -> str:
    return (
        {
            0: "all tests passed",
            1: "some tests failed",
            2: "pytest was interrupted (collection errors)",
            3: "pytest hit an internal error",
            4: "pytest was used wrongly",
            5: "no tests were collected",
        }.get(code, f"the test run {sandbox_reason}")
        if isinstance(code, int)
        else sandbox_reason
    )


def _test_path(classname: str, workdir: Path) -> str:
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (workdir / candidate).is_file():
            return candidate
    return "/".join(parts) + ".py"


def _junit(data: bytes | None, workdir: Path) -> list[TestCaseResult]:
    results = []
    for case in junit_cases(data):
        path = (_test_path(case.classname, workdir) if case.classname
                else case.name.replace(".", "/") + ".py")  # fmt: skip
        failed = case.outcome not in SUCCESSES
        results.append(
            TestCaseResult(
                test_id=f"{path}::{case.name}" if case.classname else path,
                file=path,
                outcome=case.outcome,
                error_type=(case.thrown or _error_type(case.message)) if failed else None,
                message=case.message,
                detail=case.detail,
            )
        )
    return results


_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failed))\b")


def _error_type(message: str | None) -> str | None:
    """pytest's JUnit XML leaves `type` empty for plain `assert` failures."""
    if not message:
        return None
    if message.startswith("assert "):
        return "AssertionError"
    match = _EXCEPTION.match(message.strip())
    return match.group(1).rsplit(".", 1)[-1] if match else None
