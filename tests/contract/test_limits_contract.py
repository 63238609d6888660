"""The limits port's contract, run against every adapter: in-memory and a real Redis server.

Both adapters take the clock as a parameter, so the tests move time instead of sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from assay.limits import Algorithm, Limiter


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Limiter]:
    if request.param == "memory":
        from assay.limits.memory import MemoryLimiter

        yield MemoryLimiter(clock=clock)
        return
    from assay.limits.redis import RedisLimiter

    url = request.getfixturevalue("redis_url")
    # A fresh prefix per test keeps tests independent on the shared server.
    redis_limiter = RedisLimiter(url, prefix=f"test-{uuid.uuid4().hex[:8]}", clock=clock)
    yield redis_limiter
    redis_limiter.close()


def test_fixed_window_allows_up_to_the_limit_then_denies(limiter: Limiter, clock: Clock) -> None:
    results = [limiter.hit("k", limit=3, window_s=60).allowed for _ in range(5)]
    assert results == [True, True, True, False, False]
    denied = limiter.hit("k", limit=3, window_s=60)
    assert denied.remaining == 0
    assert 0 < denied.retry_after_s <= 60
    clock.now += denied.retry_after_s
    assert limiter.hit("k", limit=3, window_s=60).allowed


def test_remaining_counts_down(limiter: Limiter) -> None:
    assert [limiter.hit("r", limit=3, window_s=10).remaining for _ in range(3)] == [2, 1, 0]


def test_keys_are_independent(limiter: Limiter) -> None:
    assert limiter.hit("a", limit=1, window_s=60).allowed
    assert not limiter.hit("a", limit=1, window_s=60).allowed
    assert limiter.hit("b", limit=1, window_s=60).allowed


def test_denied_requests_consume_nothing(limiter: Limiter) -> None:
    assert limiter.hit("c", limit=10, window_s=60, cost=8).allowed
    assert not limiter.hit("c", limit=10, window_s=60, cost=5).allowed
    assert limiter.hit("c", limit=10, window_s=60, cost=2).allowed


def test_sliding_window_weights_the_previous_window(limiter: Limiter, clock: Clock) -> None:
    clock.now = 6000.0  # the start of a window
    for _ in range(10):
        assert limiter.hit("s", limit=10, window_s=60, algorithm=Algorithm.SLIDING).allowed
    # A quarter into the next window, 75% of the previous 10 still counts: 7.5 used.
    clock.now = 6060.0 + 15
    got = [
        limiter.hit("s", limit=10, window_s=60, algorithm=Algorithm.SLIDING).allowed
        for _ in range(4)
    ]
    assert got == [True, True, False, False]
    denied = limiter.hit("s", limit=10, window_s=60, algorithm=Algorithm.SLIDING)
    # Waiting the advertised time lets the same request through.
    clock.now += denied.retry_after_s + 0.001
    assert limiter.hit("s", limit=10, window_s=60, algorithm=Algorithm.SLIDING).allowed


def test_fixed_window_forgets_the_previous_window(limiter: Limiter, clock: Clock) -> None:
    clock.now = 6000.0
    for _ in range(10):
        limiter.hit("f", limit=10, window_s=60)
    clock.now = 6061.0
    assert all(limiter.hit("f", limit=10, window_s=60).allowed for _ in range(10))


def test_reserve_then_settle_refunds_and_charges(limiter: Limiter) -> None:
    decision, reservation = limiter.reserve("tok", amount=800, limit=1000, window_s=60)
    assert decision.allowed and reservation is not None
    # Another caller cannot take what is reserved.
    _, blocked = limiter.reserve("tok", amount=300, limit=1000, window_s=60)
    assert blocked is None
    # The call used only 100 tokens: the rest comes back.
    limiter.settle(reservation, 100)
    decision, second = limiter.reserve("tok", amount=900, limit=1000, window_s=60)
    assert decision.allowed and second is not None and decision.remaining == 0
    # Settling above the estimate charges the difference (and never goes negative below).
    limiter.settle(second, 950)
    assert not limiter.hit("tok", limit=1000, window_s=60, cost=1).allowed


def test_settle_after_the_window_expired_is_harmless(limiter: Limiter, clock: Clock) -> None:
    _, reservation = limiter.reserve("late", amount=5, limit=5, window_s=10)
    assert reservation is not None
    clock.now += 30
    limiter.settle(reservation, 0)
    assert limiter.hit("late", limit=5, window_s=10, cost=5).allowed


def test_a_request_bigger_than_the_limit_never_passes(limiter: Limiter) -> None:
    decision = limiter.hit("big", limit=5, window_s=60, cost=6)
    assert not decision.allowed and decision.retry_after_s == 60


def test_counters(limiter: Limiter) -> None:
    assert limiter.get("errors") == 0
    assert limiter.incr("errors") == 1
    assert limiter.incr("errors", 4) == 5
    assert limiter.get("errors") == 5


def test_concurrent_callers_never_exceed_the_limit(limiter: Limiter) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_: int) -> bool:
        return limiter.hit("race", limit=10, window_s=60, cost=1).allowed

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(40)))
    assert outcomes.count(True) == 10


def test_ping(limiter: Limiter) -> None:
    limiter.ping()
