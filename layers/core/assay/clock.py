"""Time and identifiers, in one place so tests can reason about them."""

from __future__ import annotations

from datetime import UTC, datetime

from ulid import ULID


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A lowercase ULID: unique, and sorts by creation time, so listings come out in order."""
    return str(ULID()).lower()
