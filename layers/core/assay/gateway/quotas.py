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
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from assay.gateway import pools as pooling
from assay.gateway.errors import GatewayError
from assay.gateway.provided import getter
from assay.limits import Algorithm, Limiter, Reservation
from assay.records import GatewayConnection

MINUTE, DAY = 60, 86_400
YIELD_S = 0.05  # how long a worse-ranked request holds off before looking again
POLL_S = 0.1  # waiting requests look again at least this often (capacity frees on settle)
WAITING_TTL_S = 30  # a crashed waiter's mark expires
DEFAULT_COMPLETION_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Budget:  # made per request: a dataclass costs no validation
    key: str
    limit: int
    window_s: int
    tokens: bool  # tokens, or requests

    @property
    def label(self) -> str:
        unit = "tokens" if self.tokens else "requests"
        span = "day" if self.window_s == DAY else "minute"
        parts = self.key.split(":")  # gw:<owner kind>:<id>[:pool:<name>]:<unit>
        owner = f"pool {parts[4]}" if len(parts) > 5 and parts[3] == "pool" else parts[1]
        return f"{owner} {unit} per {span}"


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


@dataclass(slots=True)
class Admission:
    reservations: list[Reservation] = field(default_factory=list)
    estimate: int = 0


class Priority(BaseModel):
    """Who goes first when requests wait for one connection's capacity."""

    queue: str  # the connection's waiting-room prefix
    rank: int
    better: list[int]  # ranks that go first

    def key(self, rank: int) -> str:
        return f"{self.queue}:waiting:{rank}"


class Quotas:
    def __init__(
        self, limiter: Limiter | Callable[[], Limiter], *, max_wait_s: float = 2.0
    ) -> None:
        self._limiter_of = getter(limiter)
        self.max_wait_s = max_wait_s

    @property
    def _limiter(self) -> Limiter:
        return self._limiter_of()

    def _take(self, found: list[Budget], estimate: int, admission: Admission) -> tuple[float, bool]:
        """Reserve every budget or none: (0, _) when admitted, else (seconds until it could
        be if nothing else changed, whether a refund could make room sooner: settling token
        reservations gives back what estimates overshot)."""
        taken: list[Reservation] = []
        for budget in found:
            amount = min(estimate, budget.limit) if budget.tokens and budget.limit else 1
            decision, reservation = self._limiter.reserve(
                budget.key, amount=amount, limit=budget.limit, window_s=budget.window_s,
                algorithm=Algorithm.SLIDING,
            )  # fmt: skip
            if reservation is None:
                for done in taken:  # all or nothing
                    self._limiter.settle(done, 0)
                return max(decision.retry_after_s, 0.001), budget.tokens
            taken.append(reservation)
        admission.reservations += taken
        return 0.0, False

    def _yield_to_better(self, priority: Priority | None) -> bool:
        if priority is None:
            return False
        return any(self._limiter.get(priority.key(rank)) > 0 for rank in priority.better)

    async def admit(
        self, found: list[Budget], estimate: int, admission: Admission, *, wait: bool = True,
        priority: Priority | None = None,
    ) -> None:  # fmt: skip
        """Reserve `found`, waiting up to `max_wait_s` for capacity, else raise 429. With a
        `priority`, a request gives way while a better-ranked one is waiting."""
        admission.estimate = estimate
        deadline = time.monotonic() + (self.max_wait_s if wait else 0.0)
        waiting = False
        try:
            while True:
                if self._yield_to_better(priority):
                    retry_after, refundable = YIELD_S, True
                else:
                    retry_after, refundable = self._take(found, estimate, admission)
                    if retry_after == 0.0:
                        return
                now = time.monotonic()
                if now >= deadline or (not refundable and now + retry_after > deadline):
                    names = ", ".join(b.label for b in found)
                    raise GatewayError(
                        f"Rate limit reached ({names}); retry after {retry_after:.1f} s.",
                        status=429, code="rate_limit_exceeded", retry_after_s=retry_after,
                    )  # fmt: skip
                if priority is not None and not waiting:
                    self._limiter.incr(priority.key(priority.rank), ttl_s=WAITING_TTL_S)
                    waiting = True
                await asyncio.sleep(min(retry_after, POLL_S, deadline - now))
        finally:
            if waiting and priority is not None:
                self._limiter.incr(priority.key(priority.rank), -1, ttl_s=WAITING_TTL_S)

    def connection_budgets(
        self, connection: GatewayConnection, resource: str, *, traffic: str = "interactive"
    ) -> tuple[list[Budget], Priority | None]:
        """The connection's own limits and, when it has pools (or the request is eval
        traffic), its pool's (see pools.py)."""
        owner = f"connection:{connection.id}"
        found = budgets(owner, rpm=connection.requests_per_minute, tpm=None)
        capacity = connection.tokens_per_minute
        if not capacity:
            return found, None
        evaluating = traffic == pooling.EVAL
        if not connection.pools and not evaluating:
            return found + budgets(owner, rpm=None, tpm=capacity), None
        pool = (pooling.eval_pool(connection.pools) if evaluating
                else pooling.pool_for(connection.pools, resource))  # fmt: skip
        everyone = pooling.with_implicit(connection.pools, pool, resource)
        used = {
            p.name: self._limiter.usage(
                f"gw:{owner}:pool:{p.name}:tpm", window_s=MINUTE, algorithm=Algorithm.SLIDING
            )
            for p in everyone
        }
        caps = pooling.caps(everyone, pool, used, capacity)
        found += [
            Budget(key=f"gw:{owner}:pool:{pool.name}:tpm", limit=caps.pool, window_s=MINUTE,
                   tokens=True),
            Budget(key=f"gw:{owner}:tpm", limit=caps.connection, window_s=MINUTE, tokens=True),
        ]  # fmt: skip
        priority = Priority(queue=f"gw:{owner}", rank=pool.rank,
                            better=pooling.better_ranks(everyone, pool))  # fmt: skip
        return found, priority

    def release(self, admission: Admission, *, since: int) -> None:
        """Give back the token reservations taken from index `since` on (a target that
        failed served nothing); its requests stay counted."""
        for reservation in admission.reservations[since:]:
            if reservation.key.endswith(("tpm", "tpd")):
                self._limiter.settle(reservation, 0)
        del admission.reservations[since:]

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
