"""Per-language knowledge: detect a project, prepare its environment, run its tests, measure
coverage, and know its source well enough to plan, prompt and prune. Each language implements
the same `Runtime` interface; `registry.py` lists them."""

from assay.runtimes.coverage import CoverageMap, CoverageSummary, FileCoverage
from assay.runtimes.port import (
    Detection,
    Environment,
    EnvironmentFailed,
    Idioms,
    Runtime,
    TestCaseResult,
    TestRun,
)

__all__ = [
    "CoverageMap",
    "CoverageSummary",
    "Detection",
    "Environment",
    "EnvironmentFailed",
    "FileCoverage",
    "Idioms",
    "Runtime",
    "TestCaseResult",
    "TestRun",
]
