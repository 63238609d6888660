"""Administration: tenants (platform admins, i.e. admin keys of the default tenant) and API keys
(each tenant's admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from assay import tenancy
from assay.api.auth import Forbidden, Principal, ports, require
from assay.api.bootstrap import DEFAULT_TENANT
from assay.api.models import PageOut
from assay.records import ApiKey, Scope, Tenant
from assay.store import SYSTEM_TENANT
from assay.wiring import Ports

router = APIRouter(prefix="/v1", tags=["admin"])
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
Store = Annotated[Ports, Depends(ports)]


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=63)


class TenantOut(BaseModel):
    id: str
    name: str
    slug: str
    status: str
    created_at: datetime


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    scopes: list[Scope] = Field(min_length=1)


class KeyOut(BaseModel):
    id: str
    name: str
    hint: str
    scopes: list[Scope]
    active: bool
    created_at: datetime
    revoked_at: datetime | None


class NewKeyOut(KeyOut):
    key: str = Field(description="The API key itself: shown only in this response.")


def _key_out(record: ApiKey) -> KeyOut:
    return KeyOut(id=record.id, name=record.name, hint=record.hint, scopes=record.scopes,
                  active=record.is_active(), created_at=record.created_at,
                  revoked_at=record.revoked_at)  # fmt: skip


def _platform_admin(caller: Principal, store: Ports) -> None:
    home = store.records.get(Tenant, SYSTEM_TENANT, caller.tenant_id)
    if home is None or home.slug != DEFAULT_TENANT:
        raise Forbidden("only admin keys of the default tenant manage tenants")


@router.post("/tenants", name="create_tenant", response_model=TenantOut, status_code=201)
def create_tenant(body: TenantIn, caller: Admin, store: Store) -> TenantOut:
    _platform_admin(caller, store)
    tenant = tenancy.create_tenant(store.records, body.name, slug=body.slug, actor=caller.actor)
    return TenantOut.model_validate(tenant.model_dump())


@router.get("/tenants", name="list_tenants", response_model=PageOut[TenantOut])
def list_tenants(
    caller: Admin, store: Store, limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> PageOut[TenantOut]:  # fmt: skip
    _platform_admin(caller, store)
    page = store.records.list(Tenant, SYSTEM_TENANT, limit=limit, cursor=cursor or None)
    return PageOut[TenantOut](
        items=[TenantOut.model_validate(t.model_dump()) for t in page.items],
        next_cursor=page.next_cursor,
    )


@router.post("/keys", name="create_key", response_model=NewKeyOut, status_code=201)
def create_key(body: KeyIn, caller: Admin, store: Store, response: Response) -> NewKeyOut:
    """Issue a key in the caller's tenant. The key is in this response only."""
    tenant = tenancy.resolve_tenant(store.records, caller.tenant_id)
    issued = tenancy.issue_key(store.records, tenant, body.name, body.scopes, actor=caller.actor)
    response.headers["Cache-Control"] = "no-store"
    return NewKeyOut(**_key_out(issued.record).model_dump(), key=issued.key)


@router.get("/keys", name="list_keys", response_model=list[KeyOut])
def list_keys(caller: Admin, store: Store) -> list[KeyOut]:
    tenant = tenancy.resolve_tenant(store.records, caller.tenant_id)
    return [_key_out(k) for k in tenancy.list_keys(store.records, tenant)]


@router.delete("/keys/{key_id}", name="revoke_key", response_model=KeyOut)
def revoke_key(key_id: str, caller: Admin, store: Store) -> KeyOut:
    """Revoke at once (servers honour it within the key cache's 30 seconds)."""
    tenant = tenancy.resolve_tenant(store.records, caller.tenant_id)
    return _key_out(tenancy.revoke_key(store.records, tenant, key_id, actor=caller.actor))
