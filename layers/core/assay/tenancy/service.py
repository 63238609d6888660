"""Tenant and key administration on top of the records port.

Pure logic over `RecordStore`; the CLI and the HTTP API are both thin shells around it. Every
change writes an `AuditEntry` in the affected tenant.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel

from assay.clock import utcnow
from assay.errors import AlreadyExists, NotFound
from assay.records import ApiKey, AuditEntry, Scope, Tenant
from assay.records.api_keys import hash_key, is_well_formed
from assay.store import SYSTEM_TENANT, RecordStore


class IssuedKey(BaseModel):
    record: ApiKey
    key: str  # shown once


def slugify(name: str) -> str:
    """ASCII slug of a name; names with no ASCII letters or digits get a stable hashed one."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    if not slug:
        slug = "tenant-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    return slug


def audit(
    store: RecordStore, tenant_id: str, actor: str, action: str, target: str, **details: object
) -> None:
    """One entry in the tenant's audit log (`GET /v1/audit`); details never hold secrets."""
    store.create(
        AuditEntry(tenant_id=tenant_id, actor=actor, action=action, target=target, details=details)
    )


def create_tenant(
    store: RecordStore, name: str, *, slug: str | None = None, actor: str = "system"
) -> Tenant:
    tenant = Tenant(name=name, slug=slug or slugify(name))
    if store.lookup(Tenant, tenant.slug) is not None:
        raise AlreadyExists(f"a tenant with slug {tenant.slug!r} already exists")
    created = store.create(tenant)
    audit(store, created.id, actor, "tenant.create", created.id, slug=created.slug)
    return created


def every_tenant(store: RecordStore) -> list[Tenant]:
    """All tenants, every page (the workers look for work across them)."""
    tenants: list[Tenant] = []
    cursor = None
    while True:
        page = store.list(Tenant, SYSTEM_TENANT, cursor=cursor, limit=200)
        tenants += page.items
        if (cursor := page.next_cursor) is None:
            return tenants


def resolve_tenant(store: RecordStore, ref: str) -> Tenant:
    """Find a tenant by id or slug."""
    tenant = store.get(Tenant, SYSTEM_TENANT, ref) or store.lookup(Tenant, ref)
    if tenant is None:
        raise NotFound(f"no tenant {ref!r}", fix="list tenants with `assay tenants list`")
    return tenant


def issue_key(
    store: RecordStore, tenant: Tenant, name: str, scopes: list[Scope], *, actor: str = "system"
) -> IssuedKey:
    record, key = ApiKey.issue(tenant.id, name, scopes, created_by=actor)
    stored = store.create(record)
    audit(store, tenant.id, actor, "apikey.create", stored.id, scopes=[s.value for s in scopes])
    return IssuedKey(record=stored, key=key)


def list_keys(store: RecordStore, tenant: Tenant) -> list[ApiKey]:
    keys: list[ApiKey] = []
    cursor = None
    while True:
        page = store.list(ApiKey, tenant.id, cursor=cursor, limit=200)
        keys += page.items
        if page.next_cursor is None:
            return keys
        cursor = page.next_cursor


def revoke_key(store: RecordStore, tenant: Tenant, key_id: str, *, actor: str = "system") -> ApiKey:
    record = store.get(ApiKey, tenant.id, key_id)
    if record is None:
        raise NotFound(f"no key {key_id!r} in tenant {tenant.slug}")
    if record.revoked_at is not None:
        return record
    revoked = store.update(record.evolve(revoked_at=utcnow()))
    audit(store, tenant.id, actor, "apikey.revoke", key_id)
    return revoked


def authenticate(store: RecordStore, key: str) -> ApiKey | None:
    """The active key record for a presented key, or None. Malformed keys never reach the store."""
    if not is_well_formed(key):
        return None
    record = store.lookup(ApiKey, hash_key(key))
    if record is None or not record.is_active():
        return None
    tenant = store.get(Tenant, SYSTEM_TENANT, record.tenant_id)
    if tenant is None or tenant.status != "active":
        return None
    return record
