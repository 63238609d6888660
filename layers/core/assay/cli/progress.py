"""A terminal progress display: one line per stage as it completes, with elapsed time."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from assay.analysis.report import percent

STAGES = {"intake", "detect", "install", "baseline", "plan", "select", "findings", "report"}


class Progress:
    def __init__(self, stream: TextIO = sys.stderr, *, quiet: bool = False) -> None:
        self._stream = stream
        self._quiet = quiet
        self._started = time.monotonic()
        self._candidates = {"generated": 0, "executed": 0, "repaired": 0}

    def _line(self, text: str) -> None:
        if not self._quiet:
            elapsed = time.monotonic() - self._started
            self._stream.write(f"[{elapsed:6.1f}s] {text}\n")
            self._stream.flush()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "generate" and data.get("produced", True):
            self._candidates["generated"] += 1
            self._line(f"generate  {data.get('module')}: candidate {data.get('candidate')}")
        elif kind == "execute":
            self._candidates["executed"] += 1
            where = data.get("discarded_at")
            verdict = f"discarded at {where}" if where else f"reached {data.get('reached')}"
            self._line(f"execute   {data.get('candidate')} (turn {data.get('turn')}): {verdict}")
        elif kind == "repair":
            self._candidates["repaired"] += 1
            self._line(f"repair    {data.get('candidate')} -> turn {data.get('turn')}")
        elif kind in STAGES:
            self._line(f"{kind:<9} {self._describe(kind, data)}")

    @staticmethod
    def _describe(kind: str, data: dict[str, Any]) -> str:
        describe = {
            "intake": lambda d: f"{d['kind']} snapshot, {d['files']} files",
            "detect": lambda d: (
                f"{d['language']} ({d['test_runner']}, {d['package_manager']}): "
                f"{d['modules']} modules, {d['test_files']} test files"
            ),
            "install": lambda d: f"environment {d['environment']} ready",
            "baseline": lambda d: (
                f"{d['tests']} tests ({d['failed']} failing): "
                f"{percent(d['line_pct'])} lines, {percent(d['branch_pct'])} branches"
            ),
            "plan": lambda d: (
                f"{len(d.get('gaps') or {})} module(s) with gaps, {d['count']} item(s) to generate"
            ),
            "select": lambda d: " -> ".join(f"{k} {v}" for k, v in d["funnel"].items()),
            "findings": lambda d: f"{d['count']} possible bug(s)",
        }
        render = describe.get(kind)
        return render(data) if render else str(data.get("status", ""))
