"""Opaque pagination cursors.

A cursor names the last record a page returned and the listing it came from. Clients treat it as
an opaque string; the store rejects a cursor used on a different listing (another tenant, kind,
parent, filter or order) instead of silently returning the wrong rows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from pydantic import BaseModel, ValidationError

from assay.errors import InvalidCursor


class Listing(BaseModel):
    """What a cursor is bound to."""

    partition: str
    where: dict[str, str] = {}
    newest_first: bool = False
    id_range: tuple[str, str] | None = None

    def digest(self) -> str:
        raw = json.dumps(self.model_dump(), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


class _Payload(BaseModel):
    v: int
    after: str
    listing: str


def encode(listing: Listing, after: str) -> str:
    raw = _Payload(v=1, after=after, listing=listing.digest()).model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(listing: Listing, cursor: str) -> str:
    """Return the sort key to continue after, or raise `InvalidCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = _Payload.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError):
        raise InvalidCursor(
            "the cursor is not one this server issued", fix="pass the `next_cursor` of a page"
        ) from None
    if payload.v != 1 or payload.listing != listing.digest():
        raise InvalidCursor(
            "the cursor belongs to a different listing",
            fix="reuse a cursor only with the same filters and order",
        )
    return payload.after
