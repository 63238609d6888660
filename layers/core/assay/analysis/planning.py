"""Plan: what the existing tests leave uncovered, as targets an engine can aim at."""

from __future__ import annotations

from pathlib import Path

from assay.engines.port import Segment, Target
from assay.runtimes import CoverageMap, Detection, Runtime

__all__ = ["Segment", "Target", "plan"]


def plan(root: Path, detection: Detection, baseline: CoverageMap, runtime: Runtime) -> list[Target]:
    """Targets for every module with gaps, largest gap first."""
    targets = []
    for module in detection.modules:
        coverage = baseline.files.get(module)
        source = (root / module).read_text(errors="replace")
        if runtime.syntax_error(source) is not None:
            continue
        if coverage is None:
            # Never loaded by any test: every statement line is a gap.
            missing_lines, missing_branches = runtime.statement_lines(source), []
        else:
            missing_lines = sorted(coverage.missing)
            missing_branches = sorted(coverage.missing_branches)
        if not missing_lines and not missing_branches:
            continue
        segments = []
        for name, start, end in runtime.functions(source):
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
                import_name=runtime.import_hint(module, detection),
                missing_lines=missing_lines,
                missing_branches=missing_branches,
                segments=segments,
            )
        )
    return sorted(targets, key=lambda t: (-t.gap, t.module))
