"""An analysis's progress as Server-Sent Events, resumable with Last-Event-ID.

Each event's id is its sequence number. The stream sends what is stored after the given id,
then follows new events until the analysis has finished and everything is sent, with comment
lines as keep-alives in between so proxies do not cut an idle stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from assay.api.auth import Principal, ports, require
from assay.errors import NotFound
from assay.records import Analysis, AnalysisEvent, Scope
from assay.records.analyses import event_id
from assay.wiring import Ports

router = APIRouter(prefix="/v1/analyses", tags=["analyses"])
POLL_S = 0.5
KEEPALIVE_S = 15.0


def format_event(event: AnalysisEvent) -> str:
    data = json.dumps({"type": event.type, "at": event.at.isoformat(), **event.data})
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


def _page(store: Ports, analysis: Analysis, after: int) -> tuple[list[AnalysisEvent], bool]:
    """Events after `after` (a key range: each poll reads only what is new), and whether the
    analysis has finished."""
    events: list[AnalysisEvent] = []
    cursor = None
    newer = (event_id(after + 1), event_id(10**12 - 1))
    while True:
        page = store.records.list(
            AnalysisEvent, analysis.tenant_id, parent=analysis.id, limit=500, cursor=cursor,
            id_range=newer,
        )  # fmt: skip
        events += page.items
        if (cursor := page.next_cursor) is None:
            break
    current = store.records.get(Analysis, analysis.tenant_id, analysis.id)
    return events, current is None or current.status.finished


async def _stream(store: Ports, analysis: Analysis, after: int) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        events, finished = await run_in_threadpool(_page, store, analysis, after)
        for event in events:
            after = event.seq
            last_sent = time.monotonic()
            yield format_event(event)
        if finished:
            # One more read: events written between the list and the status check.
            events, _ = await run_in_threadpool(_page, store, analysis, after)
            for event in events:
                yield format_event(event)
            yield "event: end\ndata: {}\n\n"
            return
        if time.monotonic() - last_sent >= KEEPALIVE_S:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)


@router.get(
    "/{analysis_id}/events",
    name="stream_events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_events(
    analysis_id: str,
    caller: Annotated[Principal, Depends(require(Scope.ANALYSES_READ))],
    store: Annotated[Ports, Depends(ports)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:
    """Follow an analysis: stored events after Last-Event-ID (or ?after=), then live ones."""
    analysis = store.records.get(Analysis, caller.tenant_id, analysis_id)
    if analysis is None:
        raise NotFound(f"no analysis {analysis_id}")
    start = after if after is not None else _int(last_event_id)
    return StreamingResponse(
        _stream(store, analysis, start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0
