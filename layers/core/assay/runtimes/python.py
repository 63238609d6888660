"""Python: pytest and coverage.py (with branches), run inside the sandbox.

Dependencies come from `requirements*.txt` and `pyproject.toml`'s `[project] dependencies`, read
as data: Assay never runs a project's `setup.py` or build backend to learn them. The project's
own code is put on PYTHONPATH (its source roots) instead of being installed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.intake.local import SKIP_DIRS
from assay.runtimes import sandboxed
from assay.runtimes.coverage import CoverageMap
from assay.runtimes.mutation import MutationTool
from assay.runtimes.port import (
    Detection,
    Environment,
    EnvironmentFailed,
    Idioms,
    Runtime,
    TestCaseResult,
    TestRun,
)
from assay.runtimes.python_mutation import Mutmut
from assay.runtimes.results import json_or_none as _json
from assay.runtimes.results import junit_cases, read_inside
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Sandbox
from assay.sandbox.egress import DEFAULT_PACKAGE_HOSTS

# Test tools installed next to the project's dependencies. pytest stays below 9 because
# Pynguin (the offline engine) pins it so.
BASE_TOOLS = ["pytest>=8,<9", "coverage>=7.4"]
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
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
            )
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if is_test_file(rel):
                    if name != "conftest.py":
                        tests.append(rel)
                elif name != "setup.py" and not rel.startswith(("docs/", "examples/")):
                    modules.append(rel)
        if not modules:
            return None
        roots = ["src"] if any(m.startswith("src/") for m in modules) else ["."]
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
            return False, f"{self._python} cannot run: {exc}"

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
    @staticmethod
    def declared_dependencies(root: Path, detection: Detection) -> list[str]:
        """Requirements as data, never by running project code."""
        requirements: list[str] = []
        for name in detection.dependency_files:
            path = root / name
            if name.startswith("requirements") and name.endswith(".txt"):
                for raw in path.read_text(errors="replace").splitlines():
                    line = raw.split("#", 1)[0].strip()
                    # Options (-e, -r, --index-url...) could point pip anywhere: skip them.
                    if line and not line.startswith("-"):
                        requirements.append(line)
            elif name == "pyproject.toml":
                try:
                    data = tomllib.loads(path.read_text(errors="replace"))
                except tomllib.TOMLDecodeError:
                    continue
                requirements += [str(d) for d in data.get("project", {}).get("dependencies", [])]
        return sorted(dict.fromkeys(requirements))

    def _version(self) -> str:
        done = subprocess.run(  # noqa: S603
            [str(self._python), "-c", "import sys; print(sys.version.split()[0])"],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def prepare(
        self,
        detection: Detection,
        root: Path,
        sandbox: Sandbox,
        cache: Path,
        extra_tools: list[str],
    ) -> Environment:
        requirements = self.declared_dependencies(root, detection)
        tools = [*BASE_TOOLS, *extra_tools]
        version = self._version()
        key = hashlib.sha256(json.dumps([version, requirements, tools]).encode()).hexdigest()[:16]
        envdir = cache / "envs" / f"py{version}-{key}"
        base = Path(sys.base_prefix)
        environment = Environment(
            interpreter=envdir / "bin" / "python",
            readonly=sorted({envdir, base}),
            key=key,
            tools=tools,
        )
        if (envdir / ".ready").exists():
            return environment
        shutil.rmtree(envdir, ignore_errors=True)
        envdir.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - Assay's own interpreter, no project code
            [str(self._python), "-m", "venv", str(envdir)], check=True, capture_output=True
        )
        (cache / "pip").mkdir(exist_ok=True)
        install = [str(environment.interpreter), "-m", "pip", "install", "--quiet",
                   "--disable-pip-version-check", "--no-input", *tools, *requirements]  # fmt: skip
        direct = None if self._package_index is None else {
            "PIP_INDEX_URL": self._package_index()}  # fmt: skip
        step, outcome = sandboxed.install(
            cache, install, sandbox, env={"PIP_CACHE_DIR": str(cache / "pip")},
            hosts=self._package_hosts, direct=direct, readonly=[base],
            python=environment.interpreter,
            limits=Limits(wall_s=900, cpu_s=900, memory_mb=4096, processes=256,
                          output_bytes=2_000_000),
        )  # fmt: skip
        if step:
            outcome = outcome.model_copy(update={"stdout": str(step.get("output", ""))})
        if not outcome.ok:
            shutil.rmtree(envdir, ignore_errors=True)
            tail = (outcome.stderr or outcome.stdout).strip().splitlines()[-3:]
            raise EnvironmentFailed(
                f"installing the project's dependencies failed ({outcome.reason}): "
                + " | ".join(tail),
                fix="check the project's requirements; the install runs with network access "
                "to package registries only through the sandbox",
            )
        (envdir / ".ready").write_text(json.dumps({"requirements": requirements, "tools": tools}))
        return environment

    # ------------------------------------------------------------------ run tests
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
        sandboxed.stage(workdir)
        python = str(env.interpreter)
        pytest_args = [
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--rootdir=.",
            f"--junitxml={STATE_DIR}/junit.xml",
            *tests,
        ]
        if collect_only:
            steps = [
                {
                    "name": "collect",
                    "argv": [python, "-m", "pytest", "--collect-only", *pytest_args],
                }
            ]
        else:
            data = f"--data-file={STATE_DIR}/coverage.data"
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
                        data,
                        f"--source={sources}",
                        f"--omit={','.join(OMIT)}",
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
                        data,
                        "-q",
                        "-o",
                        f"{STATE_DIR}/coverage.json",
                    ],
                },
            ]
        pythonpath = ":".join(str((workdir / r).resolve()) for r in detection.source_roots)
        records, outcome = sandboxed.run_steps(
            workdir,
            steps,
            sandbox,
            readonly=env.readonly,
            env={"PYTHONPATH": pythonpath},
            limits=limits,
        )
        output = "\n".join(str(r.get("output", "")) for r in records) or outcome.stdout
        if not records:
            return sandboxed.unrun(outcome, output)
        test_code = records[0].get("exit_code")
        tests_found = _junit(read_inside(workdir, f"{STATE_DIR}/junit.xml"), workdir)
        coverage_map = None
        report = _json(read_inside(workdir, f"{STATE_DIR}/coverage.json"))
        if report is not None:
            coverage_map = CoverageMap.from_coverage_json(report, str(workdir.resolve()))
        return TestRun(
            ok=outcome.ok and test_code == 0,
            reason=_reason(test_code, outcome.reason),
            tests=tests_found,
            coverage=coverage_map,
            output=output[-4000:],
            duration_s=outcome.duration_s,
        )


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
        failed = case.outcome != "passed"
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
