"""The records port: what every capability needs from persistent storage, and nothing more."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel

from assay.errors import ValidationFailed
from assay.store import cursor as cursors
from assay.store.record import Record, partition_key

R = TypeVar("R", bound=Record)

MAX_PAGE = 1000
IDEMPOTENCY_TTL_S = 24 * 3600


class Page(BaseModel, Generic[R]):
    items: list[R]
    next_cursor: str | None = None


class RecordStore(ABC):
    """Persistent records with optimistic concurrency, idempotent creates and cursor pagination.

    Contract (tests/contract/test_records_contract.py runs it against every adapter):
    - `create` stores a new record at version 1; an existing id raises `AlreadyExists`.
      With an `idempotency_key`, a repeat of the same request returns the first record; a
      different request under the same key raises `IdempotencyConflict`.
    - `update` succeeds only if the stored version equals `record.version`; it returns the record
      at the next version. A stale version raises `StaleWrite`; append-only kinds raise
      `ImmutableRecord`; a missing record raises `NotFound`.
    - `list` returns records of one partition in id order (or reversed), at most `limit`,
      with an opaque `next_cursor` while more remain.
    - `lookup` finds a record by its kind's globally unique lookup field.
    """

    @abstractmethod
    def create(self, record: R, *, idempotency_key: str | None = None) -> R: ...

    def create_many(self, records: Sequence[Record]) -> None:
        """Store new records (fresh ids) in bulk, for append-only trails such as usage: one
        transaction or batch call where the adapter has one. Adapters without a bulk path
        create them one by one."""
        for record in records:
            self.create(record)

    @abstractmethod
    def get(
        self, cls: type[R], tenant_id: str, record_id: str, *, parent: str | None = None
    ) -> R | None: ...

    @abstractmethod
    def update(self, record: R) -> R: ...

    @abstractmethod
    def list(
        self,
        cls: type[R],
        tenant_id: str,
        *,
        parent: str | None = None,
        where: dict[str, str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = False,
        id_range: tuple[str, str] | None = None,
    ) -> Page[R]:
        """A page of `cls` in `tenant_id` (under `parent`), in id order, optionally only those
        whose id lies in `id_range` (inclusive; ULID ids sort by creation time)."""

    @abstractmethod
    def lookup(self, cls: type[R], value: str) -> R | None: ...

    @abstractmethod
    def ping(self) -> None:
        """Raise `StoreUnavailable` when the backing store cannot be used."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""


def check_listing(cls: type[Record], where: dict[str, str] | None, limit: int) -> dict[str, str]:
    """Validate listing arguments the same way in every adapter."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    where = dict(where or {})
    unknown = sorted(set(where) - set(cls.filter_fields))
    if unknown:
        allowed = ", ".join(cls.filter_fields) or "nothing"
        raise ValidationFailed(
            f"cannot filter {cls.kind} by {', '.join(unknown)}; filterable: {allowed}"
        )
    return where


def check_parent(cls: type[Record], parent: str | None) -> None:
    if (cls.parent_field is None) != (parent is None):
        need = f"a parent ({cls.parent_field})" if cls.parent_field else "no parent"
        raise ValidationFailed(f"{cls.kind} records take {need}")


def plan_listing(
    cls: type[Record],
    tenant_id: str,
    *,
    parent: str | None,
    where: dict[str, str] | None,
    limit: int,
    newest_first: bool,
    id_range: tuple[str, str] | None = None,
) -> tuple[str, dict[str, str], cursors.Listing]:
    """Validate a listing and name its partition: (pk, filters, what its cursors bind to)."""
    check_parent(cls, parent)
    filters = check_listing(cls, where, limit)
    pk = partition_key(tenant_id, cls.kind, parent)
    listing = cursors.Listing(
        partition=pk, where=filters, newest_first=newest_first, id_range=id_range
    )
    return pk, filters, listing


# Ids and sort keys are printable ASCII strictly between these two.
KEY_MIN, KEY_MAX = "!", "~"


def key_bounds(
    after: str | None, newest_first: bool, id_range: tuple[str, str] | None
) -> tuple[str, str] | None:
    """One inclusive [low, high] sort-key range from a listing's id range and its cursor (the
    last key already returned, exclusive), for stores whose queries take a single key
    condition (DynamoDB). None: no condition. Sort keys are short alphanumeric strings."""
    if after is None and id_range is None:
        return None
    low, high = id_range or (KEY_MIN, KEY_MAX)
    if after is not None and newest_first:
        # The greatest key below `after`: its last character one lower, then padding.
        high = min(high, after[:-1] + chr(ord(after[-1]) - 1) + KEY_MAX * 8)
    elif after is not None:
        low = max(low, after + KEY_MIN)  # the least key above `after`
    return low, high


def to_page(found: list[tuple[str, R]], limit: int, listing: cursors.Listing) -> Page[R]:
    """A page from up to `limit + 1` (sort key, record) pairs; the extra one means "more"."""
    more = len(found) > limit
    return Page[R](
        items=[record for _, record in found[:limit]],
        next_cursor=cursors.encode(listing, found[limit - 1][0]) if more else None,
    )
