"""Tenants (the registry, system-scoped) and their workspaces."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from assay.store.record import Record, TenantRecord

Name = Field(min_length=1, max_length=120)


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(Record):
    """A customer organisation. Its `id` is the tenant id leading every key of its data."""

    kind: ClassVar[str] = "tenant"
    filter_fields: ClassVar[tuple[str, ...]] = ("status",)
    lookup_field: ClassVar[str | None] = "slug"

    name: str = Name
    slug: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*$")
    status: TenantStatus = TenantStatus.ACTIVE


class Workspace(TenantRecord):
    """A group of analyses inside a tenant (a team or a product)."""

    kind: ClassVar[str] = "workspace"

    name: str = Name
