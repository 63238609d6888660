"""Prioritization: how resources share one connection's tokens per minute.

A connection may group the resources that call it into pools, each with a rank (0 first), a
minimum share of the connection's capacity it is guaranteed and a maximum share it may never
exceed. Resources in no pool share a `default` pool (no guarantee, no cap, ranked last).

- A pool's counter is capped at `max_share` of capacity.
- The connection's counter is capped at capacity minus the unfilled guarantees of the *other
  pools in recent use*: a guarantee is held back only while its pool is active, so an idle
  pool's share is lent to the busy ones and taken back as soon as it gets busy again (shares
  adapt to recent use, as in VM-X).
- When capacity runs short, requests wait a short, bounded time, and a waiting request of a
  better rank goes first: worse-ranked requests hold off while one is waiting.

Counters live in the limits port (Redis in AWS), so every instance sees the same pools. Pure
arithmetic here; `quotas.py` reads the counters and reserves.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

DEFAULT = "default"
EVAL = "eval"  # eval runs' and judges' traffic: its own pool, ranked after every other


def _no_booleans(value: object) -> object:
    """`true` is not a number in JSON Schema; Pydantic's lax mode would take it for 1."""
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


Number = BeforeValidator(_no_booleans)


class CapacityPool(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    resources: list[str] = Field(default_factory=list, max_length=100,
                                 description="Resource names drawing from this pool.")  # fmt: skip
    rank: Annotated[int, Number] = Field(default=0, ge=0, le=100, description="0 goes first.")
    min_share: Annotated[float, Number] = Field(
        default=0.0, ge=0, le=1,
        description="Guaranteed while in use; guarantees summing over 1 are scaled to fit.",
    )  # fmt: skip
    max_share: Annotated[float, Number] = Field(
        default=1.0, ge=0, le=1, description="Never exceeded."
    )


def pool_for(pools: list[CapacityPool], resource: str) -> CapacityPool:
    for pool in pools:
        if resource in pool.resources:
            return pool
    last = max((p.rank for p in pools), default=0) + 1
    return CapacityPool(name=DEFAULT, rank=min(last, 100))


def eval_pool(pools: list[CapacityPool]) -> CapacityPool:
    """The connection's `eval` pool when it defines one, else one ranked after all others
    (the default pool included), so interactive requests waiting for capacity go first."""
    for pool in pools:
        if pool.name == EVAL:
            return pool
    return CapacityPool(name=EVAL, rank=min(max((p.rank for p in pools), default=0) + 2, 100))


def with_implicit(
    pools: list[CapacityPool], pool: CapacityPool, resource: str
) -> list[CapacityPool]:
    """Every pool that competes for the connection: the configured ones, and those implicit
    for this request (the resource's default pool when it is in none, the eval pool when the
    connection defines no `eval`)."""
    implicit = [p for p in (pool_for(pools, resource), pool) if p not in pools]
    return [*pools, *{p.name: p for p in implicit}.values()]


def guarantees(pools: list[CapacityPool]) -> dict[str, float]:
    """Each pool's minimum share, never above its maximum, scaled down if they sum over 1."""
    wanted = {p.name: min(p.min_share, p.max_share) for p in pools}
    total = sum(wanted.values())
    scale = 1.0 if total <= 1.0 else 1.0 / total
    return {name: share * scale for name, share in wanted.items()}


class Caps(BaseModel):
    pool: int  # tokens per minute this pool may reach
    connection: int  # tokens per minute the connection may reach for this pool's request


def caps(
    pools: list[CapacityPool], pool: CapacityPool, used: dict[str, int], capacity: int
) -> Caps:
    """The limits for a request of `pool`, given each pool's recent use (tokens, sliding
    minute) and the connection's capacity."""
    minimum = guarantees(pools)
    held = sum(
        max(0, math.floor(minimum[other.name] * capacity) - used.get(other.name, 0))
        for other in pools
        if other.name != pool.name and used.get(other.name, 0) > 0
    )
    return Caps(pool=math.floor(pool.max_share * capacity), connection=max(0, capacity - held))


def better_ranks(pools: list[CapacityPool], pool: CapacityPool) -> list[int]:
    return sorted({p.rank for p in pools if p.rank < pool.rank})
