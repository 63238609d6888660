"""Per-language knowledge: detect a project, prepare its environment, run its tests, measure
coverage. Python today; other languages implement the same `Runtime` interface."""

from assay.runtimes.coverage import CoverageMap, CoverageSummary, FileCoverage
from assay.runtimes.port import Detection, Environment, Runtime, TestCaseResult, TestRun

__all__ = [
    "CoverageMap",
    "CoverageSummary",
    "Detection",
    "Environment",
    "FileCoverage",
    "Runtime",
    "TestCaseResult",
    "TestRun",
]
