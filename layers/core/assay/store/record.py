"""The base of every stored record and its persistence mapping.

A record lives in a *partition* named by its tenant, its kind and, for child records such as an
analysis's events, its parent: ``{tenant}#{kind}[#{parent}]``. The tenant id leads every partition
key so that DynamoDB's ``dynamodb:LeadingKeys`` condition can fence one tenant from another; the
SQLite adapter uses the very same keys. Within a partition records sort by ``id`` (ULIDs, so
creation order), which is what cursors page over.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from assay.clock import new_id, utcnow

# Records that belong to no tenant (the tenant registry itself) live under this reserved name.
# Tenant ids are ULIDs, which can never collide with it.
SYSTEM_TENANT = "_system"

# Fields the store sets; an idempotent replay compares everything else.
_SERVER_FIELDS = frozenset({"id", "version", "created_at", "updated_at"})


class Record(BaseModel):
    """A stored record. Subclasses declare how the store indexes them with class variables."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: ClassVar[str]
    # Name of the field holding the parent id for child records (e.g. "analysis_id").
    parent_field: ClassVar[str | None] = None
    # Append-only records can be created but never updated.
    append_only: ClassVar[bool] = False
    # Fields a listing can filter on with equality (`where={"status": "running"}`).
    filter_fields: ClassVar[tuple[str, ...]] = ()
    # A field whose value is unique across all tenants and can be looked up directly.
    lookup_field: ClassVar[str | None] = None

    id: str = Field(default_factory=new_id, min_length=1, max_length=200, pattern=r"^[^#\s]+$")
    version: int = Field(default=0, ge=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def evolve(self, **changes: Any) -> Self:
        """A validated copy with `changes` applied (`model_copy` skips validation)."""
        return type(self).model_validate({**self.model_dump(), **changes})

    # ------------------------------------------------------------------ mapping
    def partition_tenant(self) -> str:
        return SYSTEM_TENANT

    def parent_id(self) -> str | None:
        if self.parent_field is None:
            return None
        value = getattr(self, self.parent_field)
        return str(value)

    def filter_values(self) -> dict[str, str]:
        return {name: _as_text(getattr(self, name)) for name in self.filter_fields}

    def lookup_value(self) -> str | None:
        if self.lookup_field is None:
            return None
        value = getattr(self, self.lookup_field)
        return None if value is None else str(value)

    def to_json(self) -> str:
        return self.model_dump_json()

    def fingerprint(self) -> str:
        """Hash of the client-supplied content, to tell a replay from a different request."""
        data = self.model_dump(mode="json", exclude=set(_SERVER_FIELDS))
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class TenantRecord(Record):
    """A record owned by one tenant."""

    tenant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")

    def partition_tenant(self) -> str:
        return self.tenant_id


def partition_key(tenant_id: str, kind: str, parent: str | None) -> str:
    return f"{tenant_id}#{kind}" if parent is None else f"{tenant_id}#{kind}#{parent}"


def _as_text(value: Any) -> str:
    if hasattr(value, "value"):  # enums
        return str(value.value)
    return str(value)
