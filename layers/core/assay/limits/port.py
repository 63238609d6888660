"""The limits port: windowed limits with reserve-then-settle, and plain shared counters.

Two window algorithms, with the same arithmetic in every adapter (see `windows.py`):
- fixed: a counter per window of `window_s` seconds; simple and exact, bursty at edges;
- sliding: the previous window's count, weighted by how much of it still overlaps the last
  `window_s` seconds, plus the current one (the approximation Cloudflare and Redis Labs use);
  O(1) memory and smooth at window edges.

`reserve` takes an estimated amount up front (say, the tokens a prompt may use) and `settle`
corrects it with the actual amount once known, so concurrent callers cannot all pass a limit
that only one of them fits under. A denied request consumes nothing.

Adapters implement only the atomic step (`_take`) and the counters; the window arithmetic and
the decision live here once, so every adapter decides identically.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from assay.limits import windows
from assay.limits.models import Algorithm, Decision, Reservation
from assay.limits.windows import Window


class Limiter(ABC):
    """Contract (tests/contract/test_limits_contract.py runs it against every adapter)."""

    # Whether a call may wait on the network (async callers then move it off the event loop).
    blocking: ClassVar[bool] = True

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def reserve(
        self,
        key: str,
        *,
        amount: int,
        limit: int,
        window_s: int,
        algorithm: Algorithm = Algorithm.FIXED,
    ) -> tuple[Decision, Reservation | None]:
        """Take `amount` if it fits; the reservation is None when denied."""
        windows.check_args(amount, limit, window_s)
        window = windows.locate(self._clock(), window_s, algorithm)
        allowed, current, previous = self._take(
            key, window, window_s=window_s, amount=amount, limit=limit
        )
        decision = windows.decide(
            window=window,
            window_s=window_s,
            limit=limit,
            amount=amount,
            current=current,
            previous=previous,
            allowed=allowed,
        )
        if not allowed:
            return decision, None
        return decision, Reservation(
            key=key, amount=amount, algorithm=algorithm, window_s=window_s, bucket=window.bucket
        )

    @abstractmethod
    def _take(
        self, key: str, window: Window, *, window_s: int, amount: int, limit: int
    ) -> tuple[bool, int, int]:
        """Atomically read the current window's count (and the previous one's when
        `window.weight > 0`) and, if `amount` fits, add it to the current window, which must
        then live until the end of the next window. Returns (allowed, current, previous),
        the counts as they were before."""

    @abstractmethod
    def settle(self, reservation: Reservation, actual: int) -> None:
        """Replace the reserved amount by the actual one (refunds when smaller)."""

    def hit(
        self,
        key: str,
        *,
        limit: int,
        window_s: int,
        cost: int = 1,
        algorithm: Algorithm = Algorithm.FIXED,
    ) -> Decision:
        """Count one request (or `cost` units) against a limit."""
        decision, _ = self.reserve(
            key, amount=cost, limit=limit, window_s=window_s, algorithm=algorithm
        )
        return decision

    def usage(self, key: str, *, window_s: int, algorithm: Algorithm = Algorithm.FIXED) -> int:
        """What is counted against `key` now (a reservation of nothing, which cannot fail)."""
        unbounded = 2**40
        decision, _ = self.reserve(
            key, amount=0, limit=unbounded, window_s=window_s, algorithm=algorithm
        )
        return unbounded - decision.remaining

    @abstractmethod
    def incr(self, key: str, amount: int = 1, *, ttl_s: int | None = None) -> int:
        """Add to a shared counter and return its new value."""

    @abstractmethod
    def get(self, key: str) -> int: ...

    @abstractmethod
    def ping(self) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""
