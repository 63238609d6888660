"""Line and branch coverage, merged across runs, so gains can be measured exactly."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

Arc = tuple[int, int]


class CoverageSummary(BaseModel):
    # None when there was nothing to measure: no lines (the analysis stopped before its
    # baseline) or no branches (the language's tool records none, or the code has none).
    line_pct: float | None
    branch_pct: float | None
    lines_covered: int
    lines_total: int
    branches_covered: int
    branches_total: int


class FileCoverage(BaseModel):
    executed: set[int] = Field(default_factory=set)
    missing: set[int] = Field(default_factory=set)
    executed_branches: set[Arc] = Field(default_factory=set)
    missing_branches: set[Arc] = Field(default_factory=set)

    def merged(self, other: FileCoverage) -> FileCoverage:
        executed = self.executed | other.executed
        executed_branches = self.executed_branches | other.executed_branches
        return FileCoverage(
            executed=executed,
            missing=(self.missing | other.missing) - executed,
            executed_branches=executed_branches,
            missing_branches=(self.missing_branches | other.missing_branches) - executed_branches,
        )


class CoverageMap(BaseModel):
    """Per source file (path relative to the project root, '/'-separated)."""

    files: dict[str, FileCoverage] = Field(default_factory=dict)

    @classmethod
    def from_coverage_json(cls, report: dict[str, Any], root_prefix: str = "") -> CoverageMap:
        files = {}
        for name, data in report.get("files", {}).items():
            rel = name[len(root_prefix) :].lstrip("/") if name.startswith(root_prefix) else name
            files[rel] = FileCoverage(
                executed=set(data.get("executed_lines", [])),
                missing=set(data.get("missing_lines", [])),
                executed_branches={tuple(a) for a in data.get("executed_branches", [])},
                missing_branches={tuple(a) for a in data.get("missing_branches", [])},
            )
        return cls(files=files)

    def merged(self, other: CoverageMap) -> CoverageMap:
        names = set(self.files) | set(other.files)
        empty = FileCoverage()
        return CoverageMap(
            files={
                n: self.files.get(n, empty).merged(other.files.get(n, empty)) for n in sorted(names)
            }
        )

    def summary(self) -> CoverageSummary:
        lines_covered = sum(len(f.executed) for f in self.files.values())
        lines_total = sum(len(f.executed | f.missing) for f in self.files.values())
        branches_covered = sum(len(f.executed_branches) for f in self.files.values())
        branches_total = sum(
            len(f.executed_branches | f.missing_branches) for f in self.files.values()
        )
        return CoverageSummary(
            line_pct=_pct(lines_covered, lines_total),
            branch_pct=_pct(branches_covered, branches_total),
            lines_covered=lines_covered,
            lines_total=lines_total,
            branches_covered=branches_covered,
            branches_total=branches_total,
        )

    def gain_over(self, base: CoverageMap) -> tuple[int, int]:
        """(new lines, new branches) this map executes that `base` does not."""
        lines = branches = 0
        for name, cov in self.files.items():
            before = base.files.get(name, FileCoverage())
            lines += len(cov.executed - before.executed)
            branches += len(cov.executed_branches - before.executed_branches)
        return lines, branches


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
