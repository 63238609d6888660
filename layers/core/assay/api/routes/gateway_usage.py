"""Gateway usage and audit for tenant admins: totals by time bucket and by resource, key or
model, and the requests themselves (who, which resource, the model finally used, the path
through fallbacks, tokens, cost, latency, outcome), filtered and paged."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from assay.api.auth import Principal, ports, require
from assay.api.models import Moment, PageOut
from assay.clock import id_bounds
from assay.records import Scope, UsageEntry
from assay.wiring import Ports

router = APIRouter(prefix="/v1/gateway", tags=["gateway"])
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
Store = Annotated[Ports, Depends(ports)]
MAX_SCAN = 100_000


class UsageBucket(BaseModel):
    start: datetime
    group: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: Decimal = Decimal(0)
    cached: int = 0  # answered from the cache
    latency_ms_avg: float = 0.0
    latency_ms_p50: float = 0.0
    latency_ms_p99: float = 0.0


class UsageOut(BaseModel):
    bucket: str
    group_by: str
    buckets: list[UsageBucket]
    truncated: bool = False


def _nearest_rank(ordered: list[int], share: float) -> int:
    """The nearest-rank percentile of an ordered, non-empty list."""
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _start(at: datetime, bucket: str) -> datetime:
    at = at.astimezone(UTC)
    if bucket == "day":
        return at.replace(hour=0, minute=0, second=0, microsecond=0)
    return at.replace(minute=0, second=0, microsecond=0)


@router.get("/usage", name="gateway_usage", response_model=UsageOut)
def gateway_usage(
    caller: Admin, store: Store,
    since: Moment | None = None, until: Moment | None = None,
    bucket: Literal["hour", "day"] = "hour",
    group_by: Literal["resource", "key", "model"] = "resource",
) -> UsageOut:  # fmt: skip
    """Totals per time bucket and group, over [since, until)."""
    totals: dict[tuple[datetime, str], UsageBucket] = {}
    latency: dict[tuple[datetime, str], list[int]] = defaultdict(list)
    cursor, scanned, truncated = None, 0, False
    while True:
        page = store.records.list(UsageEntry, caller.tenant_id, cursor=cursor, limit=1000,
                                  id_range=id_bounds(since, until))  # fmt: skip
        for entry in page.items:
            group = {"resource": entry.resource, "key": entry.api_key_id,
                     "model": entry.model}[group_by] or "-"  # fmt: skip
            slot = (_start(entry.at, bucket), group)
            total = totals.setdefault(slot, UsageBucket(start=slot[0], group=group))
            total.requests += 1
            total.errors += entry.status != "ok"
            total.prompt_tokens += entry.prompt_tokens
            total.completion_tokens += entry.completion_tokens
            total.usd += entry.usd
            total.cached += entry.cached
            latency[slot].append(entry.latency_ms)
        scanned += len(page.items)
        if (cursor := page.next_cursor) is None:
            break
        if scanned >= MAX_SCAN:
            truncated = True
            break
    for slot, total in totals.items():
        times = sorted(latency[slot])
        total.latency_ms_avg = round(sum(times) / len(times), 1)
        total.latency_ms_p50 = float(_nearest_rank(times, 0.50))
        total.latency_ms_p99 = float(_nearest_rank(times, 0.99))
    ordered = sorted(totals.values(), key=lambda b: (b.start, b.group))
    return UsageOut(bucket=bucket, group_by=group_by, buckets=ordered, truncated=truncated)


@router.get("/requests", name="gateway_requests", response_model=PageOut[UsageEntry])
def gateway_requests(
    caller: Admin, store: Store,
    resource: str | None = None, api_key_id: str | None = None, status: str | None = None,
    since: Moment | None = None, until: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None,
) -> PageOut[UsageEntry]:  # fmt: skip
    """The audit trail of gateway requests, newest first. Never holds prompts or secrets."""
    where = {k: v for k, v in {"resource": resource, "api_key_id": api_key_id,
                               "status": status}.items() if v}  # fmt: skip
    page = store.records.list(UsageEntry, caller.tenant_id, where=where or None, limit=limit,
                              cursor=cursor or None, newest_first=True,
                              id_range=id_bounds(since, until))  # fmt: skip
    return PageOut[UsageEntry](items=page.items, next_cursor=page.next_cursor)
