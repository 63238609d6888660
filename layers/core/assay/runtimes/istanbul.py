"""Istanbul's `coverage-final.json` (what Jest and Vitest's v8 and istanbul providers write) as
a CoverageMap.

Lines: a line is executed when a statement starting on it ran, missing when statements start
on it and none ran. Branches: Istanbul numbers branch points and their paths rather than
recording line-to-line arcs, so each path is an arc `(line of the branch point, -n)` with `n`
the path's ordinal in the file (1, 2, ...): unique per file, stable between runs of the same
source, and recognisable as "not a line arc" wherever arcs are shown.
"""

from __future__ import annotations

from typing import Any

from assay.runtimes.coverage import CoverageMap, FileCoverage


def _file(data: dict[str, Any]) -> FileCoverage:
    executed: set[int] = set()
    seen: set[int] = set()
    for key, location in data.get("statementMap", {}).items():
        line = int(location["start"]["line"])
        seen.add(line)
        if int(data.get("s", {}).get(key, 0)) > 0:
            executed.add(line)
    taken: set[tuple[int, int]] = set()
    not_taken: set[tuple[int, int]] = set()
    ordinal = 0
    for key in sorted(data.get("branchMap", {}), key=int):
        branch = data["branchMap"][key]
        line = int(branch.get("line") or branch["loc"]["start"]["line"])
        counts = data.get("b", {}).get(key, [])
        for index in range(len(branch.get("locations", []))):
            ordinal += 1
            arc = (line, -ordinal)
            hit = index < len(counts) and int(counts[index]) > 0
            (taken if hit else not_taken).add(arc)
    return FileCoverage(
        executed=executed,
        missing=seen - executed,
        executed_branches=taken,
        missing_branches=not_taken,
    )


def coverage_map(report: dict[str, Any], root: str) -> CoverageMap:
    """Files keyed by their path relative to `root` ('/'-separated); others are dropped."""
    prefix = root.rstrip("/") + "/"
    files = {}
    for name, data in report.items():
        path = str(data.get("path") or name)
        if not path.startswith(prefix):
            continue
        files[path[len(prefix) :]] = _file(data)
    return CoverageMap(files=files)
