"""Capacity: requests and tokens per minute (and tokens per day) per tenant, API key, resource
and connection, enforced through the limits port, so with a shared Redis any number of
processes together stay within every limit.

Tokens are estimated before the call (prompt size plus the completion it may ask for) and
reserved; after the call the reservation is settled with the real usage, refunding the
difference. A request over a limit may wait a short, bounded time for capacity before it is
refused with 429 and `Retry-After`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from assay.gateway.errors import GatewayError
from assay.gateway.provided import getter
from assay.limits import Algorithm, Limiter, Reservation

MINUTE, DAY = 60, 86_400
DEFAULT_COMPLETION_TOKENS = 256


class Budget(BaseModel):
    key: str
    limit: int
    window_s: int
    tokens: bool  # tokens, or requests

    @property
    def label(self) -> str:
        unit = "tokens" if self.tokens else "requests"
        span = "day" if self.window_s == DAY else "minute"
        return f"{self.key.split(':')[1]} {unit} per {span}"


def estimate_tokens(payload: dict[str, Any], body_size: int) -> int:
    """A cheap upper-leaning estimate: ~4 bytes a token, plus the completion asked for."""
    asked = payload.get("max_completion_tokens") or payload.get("max_tokens")
    completion = int(asked) if isinstance(asked, int) and asked > 0 else DEFAULT_COMPLETION_TOKENS
    return body_size // 4 + 1 + (completion if "messages" in payload else 0)


def budgets(
    owner: str, *, rpm: int | None, tpm: int | None, tpd: int | None = None
) -> list[Budget]:
    found = []
    if rpm:
        found.append(Budget(key=f"gw:{owner}:rpm", limit=rpm, window_s=MINUTE, tokens=False))
    if tpm:
        found.append(Budget(key=f"gw:{owner}:tpm", limit=tpm, window_s=MINUTE, tokens=True))
    if tpd:
        found.append(Budget(key=f"gw:{owner}:tpd", limit=tpd, window_s=DAY, tokens=True))
    return found


class Admission(BaseModel):
    reservations: list[Reservation] = []
    estimate: int = 0


class Quotas:
    def __init__(
        self, limiter: Limiter | Callable[[], Limiter], *, max_wait_s: float = 2.0
    ) -> None:
        self._limiter_of = getter(limiter)
        self.max_wait_s = max_wait_s

    @property
    def _limiter(self) -> Limiter:
        return self._limiter_of()

    def _take(self, found: list[Budget], estimate: int, admission: Admission) -> float:
        """Reserve every budget or none; 0 when admitted, else seconds until it could be."""
        taken: list[Reservation] = []
        for budget in found:
            amount = min(estimate, budget.limit) if budget.tokens else 1
            decision, reservation = self._limiter.reserve(
                budget.key, amount=amount, limit=budget.limit, window_s=budget.window_s,
                algorithm=Algorithm.SLIDING,
            )  # fmt: skip
            if reservation is None:
                for done in taken:  # all or nothing
                    self._limiter.settle(done, 0)
                return max(decision.retry_after_s, 0.001)
            taken.append(reservation)
        admission.reservations += taken
        return 0.0

    async def admit(
        self, found: list[Budget], estimate: int, admission: Admission, *, wait: bool = True
    ) -> None:
        """Reserve `found`, waiting up to `max_wait_s` for capacity, else raise 429."""
        admission.estimate = estimate
        deadline = time.monotonic() + (self.max_wait_s if wait else 0.0)
        while True:
            retry_after = self._take(found, estimate, admission)
            if retry_after == 0.0:
                return
            if time.monotonic() + retry_after > deadline:
                names = ", ".join(b.label for b in found)
                raise GatewayError(
                    f"Rate limit reached ({names}); retry after {retry_after:.1f} s.",
                    status=429, code="rate_limit_exceeded", retry_after_s=retry_after,
                )  # fmt: skip
            await asyncio.sleep(retry_after)

    def settle(self, admission: Admission, actual_tokens: int) -> None:
        """Replace estimated tokens by the real usage (requests stay counted)."""
        for reservation in admission.reservations:
            if reservation.key.endswith(("tpm", "tpd")):
                self._limiter.settle(reservation, actual_tokens)
        admission.reservations = []


class Breaker:
    """A circuit breaker per upstream model, its state in the limits port so every instance
    sees it: `THRESHOLD` failures within a minute open it for `COOLDOWN_S`."""

    THRESHOLD = 5
    COOLDOWN_S = 30

    def __init__(self, limiter: Limiter | Callable[[], Limiter]) -> None:
        self._limiter_of = getter(limiter)

    @property
    def _limiter(self) -> Limiter:
        return self._limiter_of()

    def is_open(self, label: str) -> bool:
        return self._limiter.get(f"gw:cb-open:{label}") > 0

    def attempted(self, label: str) -> None:
        self._limiter.incr(f"gw:req:{label}:{int(time.time() // 60)}", ttl_s=120)

    def error_rate(self, label: str) -> float:
        """Failures over attempts in the current minute (0 until 5 attempts were made)."""
        minute = int(time.time() // 60)
        attempts = self._limiter.get(f"gw:req:{label}:{minute}")
        if attempts < 5:
            return 0.0
        return min(1.0, self._limiter.get(f"gw:cb:{label}:{minute}") / attempts)

    def failed(self, label: str) -> None:
        minute = int(time.time() // 60)
        count = self._limiter.incr(f"gw:cb:{label}:{minute}", ttl_s=120)
        if count >= self.THRESHOLD:
            self._limiter.incr(f"gw:cb-open:{label}", ttl_s=self.COOLDOWN_S)
