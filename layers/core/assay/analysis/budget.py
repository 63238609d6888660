"""How the analysis's time for generation and checking is shared among its targets.

The window runs from the plan to the budget's end, less what the final whole-suite run needs.
Each target, when its turn comes, gets a share of the worker-seconds still free in proportion
to its gap (uncovered lines and branches) among the targets still waiting; whatever a target
reserved and did not use goes back to the pot when it finishes, so modules done early give
their time to the rest. Pure arithmetic over a clock the caller passes in.
"""

from __future__ import annotations

import threading

from pydantic import BaseModel


class Allotment(BaseModel):
    generate_s: float  # the generator's wall time, all included
    check_s: float  # kept back for running what it produced
    reason: str | None = None  # set when there is no time left for this target


class TimeBank:
    def __init__(
        self,
        *,
        ends_at: float,
        workers: int,
        gaps: dict[str, int],
        later: dict[str, int] | None = None,
        check_s: float,
        floor_s: float,
        cap_s: float,
        floors: dict[str, float] | None = None,
    ) -> None:
        self._ends_at = ends_at
        self._workers = max(1, workers)
        self._gaps = {k: max(1, v) for k, v in gaps.items()}
        # Items of a later pass share only what the first pass leaves: they start after it.
        self._later = {k: max(1, v) for k, v in (later or {}).items()}
        self._check_s = check_s
        self._floor_s = floor_s
        # A generator run shorter than its target's floor yields nothing (a large module takes
        # longer to analyse and to write out): below it the target is not started at all.
        self._floors = floors or {}
        self._cap_s = cap_s
        self._running: dict[str, float] = {}  # target -> when its reservation ends
        self._started: set[str] = set()
        self._lock = threading.Lock()

    def allot(self, target: str, now: float) -> Allotment:
        with self._lock:
            floor = self._floors.get(target, self._floor_s)
            left = self._ends_at - now
            busy = sum(max(0.0, end - now) for end in self._running.values())
            free = self._workers * left - busy
            pool = self._later if target in self._later else self._gaps
            weight = pool.get(target, 1)
            waiting = sum(g for t, g in pool.items() if t not in self._started)
            share = free * weight / max(waiting, weight)
            total = min(share, left, self._cap_s + self._check_s)
            generate = total - self._check_s
            if generate < floor:
                if left - self._check_s < floor:
                    self._started.add(target)  # it will not run: its share goes to the rest
                    return Allotment(
                        generate_s=0, check_s=0,
                        reason=f"the time budget was used up before this module's turn "
                        f"({max(0.0, left):.0f} s left)",
                    )  # fmt: skip
                generate = floor  # a run too short to yield anything is wasted
            self._started.add(target)
            self._running[target] = now + generate + self._check_s
            return Allotment(generate_s=round(generate, 1), check_s=self._check_s)

    def release(self, target: str, now: float) -> None:
        """`target` is done: its unused reservation goes back to the others."""
        with self._lock:
            if target in self._running:
                self._running[target] = min(self._running[target], now)
