"""Capacity pools on a connection: guarantees held for pools in use, lent while they idle,
maximum shares never exceeded, and better-ranked requests served first when they wait."""

from __future__ import annotations

import asyncio
import time

import pytest

from assay.gateway.errors import GatewayError
from assay.gateway.pools import DEFAULT, CapacityPool, caps, guarantees, pool_for
from assay.gateway.quotas import Admission, Quotas
from assay.limits.memory import MemoryLimiter
from assay.records import GatewayConnection

INTERACTIVE = CapacityPool(name="interactive", resources=["chat"], rank=0, min_share=0.5)
BATCH = CapacityPool(name="batch", resources=["nightly"], rank=1, min_share=0.1, max_share=0.6)
POOLS = [INTERACTIVE, BATCH]


def test_resources_find_their_pool_or_the_default_ranked_last() -> None:
    assert pool_for(POOLS, "chat") == INTERACTIVE
    default = pool_for(POOLS, "elsewhere")
    assert (default.name, default.rank, default.min_share, default.max_share) == (DEFAULT, 2, 0, 1)


def test_guarantees_fit_the_capacity_and_never_exceed_the_maximum() -> None:
    greedy = [CapacityPool(name="a", min_share=0.9), CapacityPool(name="b", min_share=0.6),
              CapacityPool(name="c", min_share=0.8, max_share=0.3)]  # fmt: skip
    shares = guarantees(greedy)
    assert shares["c"] == pytest.approx(0.3 / 1.8)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_an_active_pools_unfilled_guarantee_is_held_back_from_the_others() -> None:
    idle = caps(POOLS, BATCH, {"interactive": 0, "batch": 300}, capacity=1000)
    assert (idle.pool, idle.connection) == (600, 1000)  # interactive idles: its half is lent
    busy = caps(POOLS, BATCH, {"interactive": 100, "batch": 300}, capacity=1000)
    assert busy.connection == 1000 - (500 - 100)
    full = caps(POOLS, BATCH, {"interactive": 700, "batch": 300}, capacity=1000)
    assert full.connection == 1000  # a guarantee already used holds nothing back
    mine = caps(POOLS, INTERACTIVE, {"interactive": 10, "batch": 20}, capacity=1000)
    assert (mine.pool, mine.connection) == (1000, 1000 - (100 - 20))


def _connection() -> GatewayConnection:
    return GatewayConnection(tenant_id="t", name="c", provider="openai", tokens_per_minute=1000,
                             pools=POOLS)  # fmt: skip


def test_a_pool_never_exceeds_its_maximum_share() -> None:
    quotas = Quotas(MemoryLimiter(), max_wait_s=0)
    connection = _connection()

    async def take(resource: str, tokens: int) -> None:
        found, priority = quotas.connection_budgets(connection, resource)
        await quotas.admit(found, tokens, Admission(), priority=priority)

    asyncio.run(take("nightly", 600))
    with pytest.raises(GatewayError) as refused:
        asyncio.run(take("nightly", 1))
    assert refused.value.status == 429 and "Retry-After" in refused.value.headers
    asyncio.run(take("chat", 400))  # the rest of the connection is still there


def test_when_capacity_frees_a_waiting_better_rank_goes_first() -> None:
    """Batch waits first, interactive later; when capacity frees, interactive gets it and
    batch, still yielding, runs out of patience."""
    quotas = Quotas(MemoryLimiter(), max_wait_s=0.6)
    connection = _connection().evolve(pools=[INTERACTIVE, BATCH.model_copy(
        update={"max_share": 1.0})])  # fmt: skip

    async def scenario() -> dict[str, float | str]:
        hog = Admission()
        found, _ = quotas.connection_budgets(connection, "chat")
        await quotas.admit(found, 1000, hog)  # the whole minute is taken
        done: dict[str, float | str] = {}
        started = time.monotonic()

        async def ask(resource: str) -> None:
            wanted, priority = quotas.connection_budgets(connection, resource)
            try:
                await quotas.admit(wanted, 600, Admission(), priority=priority)
                done[resource] = time.monotonic() - started
            except GatewayError:
                done[resource] = "refused"

        batch = asyncio.create_task(ask("nightly"))
        await asyncio.sleep(0.05)
        interactive = asyncio.create_task(ask("chat"))
        await asyncio.sleep(0.1)
        quotas.settle(hog, 0)  # capacity comes back
        await asyncio.gather(batch, interactive)
        return done

    done = asyncio.run(scenario())
    assert done["nightly"] == "refused"
    assert isinstance(done["chat"], float) and done["chat"] < 0.5


def test_eval_traffic_waits_behind_interactive_traffic_on_a_connection_without_pools() -> None:
    """An eval run and a user wait for the same freed capacity: the user gets it, though the
    eval request asked first; eval traffic has a pool of its own, ranked last."""
    quotas = Quotas(MemoryLimiter(), max_wait_s=0.6)
    connection = _connection().evolve(pools=[])

    async def scenario() -> dict[str, float | str]:
        hog = Admission()
        found, _ = quotas.connection_budgets(connection, "chat")
        await quotas.admit(found, 1000, hog)
        done: dict[str, float | str] = {}
        started = time.monotonic()

        async def ask(name: str, traffic: str) -> None:
            wanted, priority = quotas.connection_budgets(connection, "chat", traffic=traffic)
            try:
                await quotas.admit(wanted, 600, Admission(), priority=priority)
                done[name] = time.monotonic() - started
            except GatewayError:
                done[name] = "refused"

        evaluating = asyncio.create_task(ask("eval", "eval"))
        await asyncio.sleep(0.05)
        user = asyncio.create_task(ask("user", "interactive"))
        await asyncio.sleep(0.1)
        quotas.settle(hog, 0)
        await asyncio.gather(evaluating, user)
        return done

    done = asyncio.run(scenario())
    assert done["eval"] == "refused"
    assert isinstance(done["user"], float) and done["user"] < 0.5


def test_a_connections_own_eval_pool_is_used_for_eval_traffic() -> None:
    from assay.gateway.pools import EVAL, eval_pool

    own = CapacityPool(name=EVAL, rank=5, max_share=0.3)
    assert eval_pool([INTERACTIVE, own]) is own
    implicit = eval_pool(POOLS)
    assert implicit.name == EVAL and implicit.rank > max(p.rank for p in POOLS) + 1
    quotas = Quotas(MemoryLimiter(), max_wait_s=0)
    found, priority = quotas.connection_budgets(
        _connection().evolve(pools=[INTERACTIVE, own]), "chat", traffic="eval")  # fmt: skip
    assert priority is not None and priority.rank == 5
    assert any(b.key.endswith(f"pool:{EVAL}:tpm") and b.limit == 300 for b in found)
