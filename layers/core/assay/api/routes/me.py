"""Who the caller is (what the console shows and which views it offers), and the tenant's
audit log of administrative changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from assay.api.auth import Principal, ports, principal, require
from assay.api.bootstrap import DEFAULT_TENANT
from assay.api.models import Moment, PageOut
from assay.clock import id_bounds
from assay.records import AuditEntry, Scope, Tenant
from assay.store import SYSTEM_TENANT
from assay.wiring import Ports

router = APIRouter(prefix="/v1", tags=["identity"])
Store = Annotated[Ports, Depends(ports)]


class MeOut(BaseModel):
    tenant_id: str
    tenant_name: str
    tenant_slug: str
    actor: str
    scopes: list[Scope]
    platform_admin: bool


@router.get("/me", name="get_me", response_model=MeOut)
def get_me(caller: Annotated[Principal, Depends(principal)], store: Store) -> MeOut:
    """The caller: tenant, the key id (or `oidc:<subject>`) and scopes."""
    tenant = store.records.get(Tenant, SYSTEM_TENANT, caller.tenant_id)
    name = tenant.name if tenant else caller.tenant_id
    slug = tenant.slug if tenant else caller.tenant_id
    return MeOut(
        tenant_id=caller.tenant_id, tenant_name=name, tenant_slug=slug, actor=caller.actor,
        scopes=caller.scopes,
        platform_admin=Scope.ADMIN in caller.scopes and slug == DEFAULT_TENANT,
    )  # fmt: skip


@router.get("/audit", name="list_audit", response_model=PageOut[AuditEntry])
def list_audit(
    caller: Annotated[Principal, Depends(require(Scope.ADMIN))], store: Store,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=120)] = None,
    since: Moment | None = None, until: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None,
) -> PageOut[AuditEntry]:  # fmt: skip
    """Administrative changes in the caller's tenant (keys, tenants, gateway), newest first."""
    where = {k: v for k, v in {"actor": actor, "action": action}.items() if v}
    page = store.records.list(AuditEntry, caller.tenant_id, where=where or None, limit=limit,
                              cursor=cursor or None, newest_first=True,
                              id_range=id_bounds(since, until))  # fmt: skip
    return PageOut[AuditEntry](items=page.items, next_cursor=page.next_cursor)
