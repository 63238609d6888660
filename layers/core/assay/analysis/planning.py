"""Plan: what the existing tests leave uncovered, as targets an engine can aim at."""

from __future__ import annotations

import ast
from pathlib import Path

from pydantic import BaseModel, Field

from assay.runtimes import CoverageMap, Detection
from assay.runtimes.coverage import Arc


class Segment(BaseModel):
    """A function or method with lines or branches no test reaches."""

    name: str  # qualified, e.g. Account.withdraw
    start: int
    end: int
    missing_lines: list[int]
    missing_branches: list[Arc]


class Target(BaseModel):
    module: str  # path relative to the project root
    import_name: str  # e.g. calculator.core
    missing_lines: list[int]
    missing_branches: list[Arc]
    segments: list[Segment] = Field(default_factory=list)

    @property
    def gap(self) -> int:
        return len(self.missing_lines) + len(self.missing_branches)


def import_name(module: str, source_roots: list[str]) -> str:
    path = Path(module)
    for root in source_roots:
        if root != "." and path.is_relative_to(root):
            path = path.relative_to(root)
            break
    parts = list(path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _functions(tree: ast.AST) -> list[tuple[str, int, int]]:
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


def plan(root: Path, detection: Detection, baseline: CoverageMap) -> list[Target]:
    """Targets for every module with gaps, largest gap first."""
    targets = []
    for module in detection.modules:
        coverage = baseline.files.get(module)
        source = (root / module).read_text(errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        if coverage is None:
            # Never imported by any test: every statement line is a gap.
            lines = sorted({n.lineno for n in ast.walk(tree) if isinstance(n, ast.stmt)})
            missing_lines, missing_branches = lines, []
        else:
            missing_lines = sorted(coverage.missing)
            missing_branches = sorted(coverage.missing_branches)
        if not missing_lines and not missing_branches:
            continue
        segments = []
        for name, start, end in _functions(tree):
            lines_in = [n for n in missing_lines if start <= n <= end]
            branches_in = [b for b in missing_branches if start <= b[0] <= end]
            if lines_in or branches_in:
                segments.append(
                    Segment(
                        name=name,
                        start=start,
                        end=end,
                        missing_lines=lines_in,
                        missing_branches=branches_in,
                    )
                )
        # Innermost functions describe a gap best; drop enclosing duplicates.
        segments = [
            s
            for s in segments
            if not any(
                o is not s
                and s.start <= o.start
                and o.end <= s.end
                and o.missing_lines == s.missing_lines
                for o in segments
            )
        ]
        targets.append(
            Target(
                module=module,
                import_name=import_name(module, detection.source_roots),
                missing_lines=missing_lines,
                missing_branches=missing_branches,
                segments=segments,
            )
        )
    return sorted(targets, key=lambda t: (-t.gap, t.module))
