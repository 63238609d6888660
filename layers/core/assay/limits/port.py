"""The limits port: windowed limits with reserve-then-settle, and plain shared counters.

Two window algorithms, with the same arithmetic in every adapter (see `windows.py`):
- fixed: a counter per window of `window_s` seconds; simple and exact, bursty at edges;
- sliding: the previous window's count, weighted by how much of it still overlaps the last
  `window_s` seconds, plus the current one (the approximation Cloudflare and Redis Labs use);
  O(1) memory and smooth at window edges.

`reserve` takes an estimated amount up front (say, the tokens a prompt may use) and `settle`
corrects it with the actual amount once known, so concurrent callers cannot all pass a limit
that only one of them fits under. A denied request consumes nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum

from pydantic import BaseModel, Field


class Algorithm(StrEnum):
    FIXED = "fixed"
    SLIDING = "sliding"


class Decision(BaseModel):
    allowed: bool
    limit: int
    remaining: int = Field(ge=0)
    # Seconds until the current window ends (for RateLimit-Reset headers).
    reset_after_s: float = Field(ge=0)
    # Seconds to wait before this request could pass, 0 when allowed.
    retry_after_s: float = Field(ge=0)


class Reservation(BaseModel):
    key: str
    amount: int
    algorithm: Algorithm
    window_s: int
    bucket: int


class Limiter(ABC):
    """Contract (tests/contract/test_limits_contract.py runs it against every adapter)."""

    @abstractmethod
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

    @abstractmethod
    def incr(self, key: str, amount: int = 1, *, ttl_s: int | None = None) -> int:
        """Add to a shared counter and return its new value."""

    @abstractmethod
    def get(self, key: str) -> int: ...

    @abstractmethod
    def ping(self) -> None: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""
