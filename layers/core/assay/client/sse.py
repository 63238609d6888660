"""Parse a Server-Sent Events stream into events, one line at a time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from pydantic import BaseModel


class Event(BaseModel):
    id: int | None
    type: str
    data: dict[str, Any]


class Parser:
    """Feed lines as they arrive; an event comes out at each blank line."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> Event | None:
        if line.startswith(":"):
            return None  # keep-alive comment
        if line != "":
            name, _, value = line.partition(":")
            self._fields[name] = value.removeprefix(" ")
            return None
        fields, self._fields = self._fields, {}
        if "event" not in fields and "data" not in fields:
            return None
        raw = fields.get("data", "{}")
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"raw": raw}
        ident = fields.get("id")
        return Event(
            id=int(ident) if ident and ident.isdigit() else None,
            type=fields.get("event", "message"),
            data=data if isinstance(data, dict) else {"value": data},
        )


def parse(lines: Iterable[str]) -> Iterator[Event]:
    parser = Parser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event


async def aparse(lines: AsyncIterable[str]) -> AsyncIterator[Event]:
    """`parse` for an async stream of lines, ending at the server's `end` event."""
    parser = Parser()
    async for line in lines:
        event = parser.feed(line)
        if event is None:
            continue
        if event.type == "end":
            return
        yield event
