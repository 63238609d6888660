"""Time and identifiers, in one place so tests can reason about them."""

from __future__ import annotations

from datetime import UTC, datetime

from ulid import ULID


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A lowercase ULID: unique, and sorts by creation time, so listings come out in order."""
    return str(ULID()).lower()


def id_bounds(after: datetime | None, before: datetime | None) -> tuple[str, str] | None:
    """The inclusive range of ids (`new_id`) created in [after, before)."""
    if after is None and before is None:
        return None

    def at(moment: datetime, fill: int, shift_ms: int = 0) -> str:
        ms = max(0, min(int(moment.timestamp() * 1000) + shift_ms, 2**48 - 1))
        return str(ULID.from_bytes(ms.to_bytes(6, "big") + bytes([fill]) * 10)).lower()

    low = at(after, 0x00) if after is not None else "0" * 26
    high = at(before, 0xFF, -1) if before is not None else "7" + "z" * 25
    return low, high
