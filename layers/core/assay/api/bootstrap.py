"""First start of a server: the default tenant and an admin key to reach it."""

from __future__ import annotations

from pydantic import BaseModel

from assay import tenancy
from assay.errors import ValidationFailed
from assay.records import ApiKey, Scope, Tenant
from assay.records.api_keys import PREFIX, hash_key, key_problem
from assay.store import RecordStore

DEFAULT_TENANT = "default"


class Bootstrap(BaseModel):
    tenant: Tenant
    new_key: str | None = None  # set only when a key was created now: print it once


def ensure_default_tenant(records: RecordStore) -> Tenant:
    found = records.lookup(Tenant, DEFAULT_TENANT)
    return found or tenancy.create_tenant(records, "Default", slug=DEFAULT_TENANT, actor="serve")


def bootstrap(records: RecordStore, configured_key: str | None) -> Bootstrap:
    tenant = ensure_default_tenant(records)
    if configured_key is not None:
        problem = key_problem(configured_key)
        if problem is not None:
            raise ValidationFailed(
                f"ASSAY_BOOTSTRAP_API_KEY is not an Assay key: {problem}",
                fix="mint one with `assay keys mint`",
            )
        if records.lookup(ApiKey, hash_key(configured_key)) is None:
            records.create(
                ApiKey(
                    tenant_id=tenant.id, name="bootstrap", key_hash=hash_key(configured_key),
                    hint=configured_key[: len(PREFIX) + 4], scopes=[Scope.ADMIN],
                    created_by="serve",
                )
            )  # fmt: skip
        return Bootstrap(tenant=tenant)
    existing = [k for k in tenancy.list_keys(records, tenant) if k.name == "bootstrap"]
    if any(k.is_active() for k in existing):
        return Bootstrap(tenant=tenant)
    issued = tenancy.issue_key(records, tenant, "bootstrap", [Scope.ADMIN], actor="serve")
    return Bootstrap(tenant=tenant, new_key=issued.key)
