"""The runtime interface every language implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from pydantic import BaseModel, Field

from assay.runtimes.coverage import CoverageMap
from assay.sandbox import Limits, Sandbox


class Detection(BaseModel):
    language: str
    test_runner: str
    package_manager: str
    source_roots: list[str]  # directories (relative) that hold the code under test
    modules: list[str]  # source files (relative), tests excluded
    test_files: list[str]  # existing test files (relative)
    dependency_files: list[str] = Field(default_factory=list)


class Environment(BaseModel):
    """Where the project's dependencies and the test tools are installed."""

    interpreter: Path
    readonly: list[Path]  # paths the sandbox must expose read-only to run it
    key: str  # cache key (what it was built from)
    tools: list[str]


class TestCaseResult(BaseModel):
    test_id: str  # e.g. tests/test_calc.py::test_add
    file: str
    outcome: str  # passed | failed | error | skipped
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
        return [t for t in self.tests if t.outcome == "passed"]

    @property
    def failed(self) -> list[TestCaseResult]:
        return [t for t in self.tests if t.outcome in {"failed", "error"}]


class Runtime(ABC):
    language: str

    @abstractmethod
    def detect(self, root: Path) -> Detection | None:
        """What this project is, or None if this runtime does not apply."""

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

    @abstractmethod
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
        """Run `tests` (relative paths; all tests when empty) in `workdir` with coverage."""
