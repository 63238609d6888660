"""Workspaces: groups of analyses inside a tenant (a team, a product). Tenant admins create
them; readers list them. `default` always exists and holds analyses submitted without one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from assay import tenancy
from assay.api.auth import Principal, ports, require
from assay.api.models import PageOut
from assay.errors import NotFound, ValidationFailed
from assay.records import Scope, Workspace
from assay.wiring import Ports

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
Reader = Annotated[Principal, Depends(require(Scope.ANALYSES_READ))]
Store = Annotated[Ports, Depends(ports)]
DEFAULT = "default"


class WorkspaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64,
                    description="Its name in URLs and in `workspace_id` of analyses.")  # fmt: skip
    name: str = Field(min_length=1, max_length=120)


class WorkspaceOut(BaseModel):
    id: str
    name: str
    created_at: datetime


def check_workspace(store: Ports, tenant_id: str, workspace_id: str) -> None:
    """Analyses may only be filed under `default` or a workspace that exists."""
    if workspace_id != DEFAULT and store.records.get(Workspace, tenant_id, workspace_id) is None:
        raise NotFound(
            f"no workspace {workspace_id!r} in this tenant", fix="create it: POST /v1/workspaces"
        )


def _out(workspace: Workspace) -> WorkspaceOut:
    return WorkspaceOut(id=workspace.id, name=workspace.name, created_at=workspace.created_at)


@router.post("", name="create_workspace", response_model=WorkspaceOut, status_code=201)
def create_workspace(body: WorkspaceIn, caller: Admin, store: Store) -> WorkspaceOut:
    if body.id == DEFAULT:
        raise ValidationFailed("'default' exists already in every tenant")
    created = store.records.create(
        Workspace(id=body.id, tenant_id=caller.tenant_id, name=body.name)
    )
    tenancy.audit(store.records, caller.tenant_id, caller.actor, "workspace.create", created.id)
    return _out(created)


@router.get("", name="list_workspaces", response_model=PageOut[WorkspaceOut])
def list_workspaces(
    caller: Reader, store: Store, limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> PageOut[WorkspaceOut]:  # fmt: skip
    page = store.records.list(Workspace, caller.tenant_id, limit=limit, cursor=cursor or None)
    return PageOut[WorkspaceOut](items=[_out(w) for w in page.items], next_cursor=page.next_cursor)


@router.get("/{workspace_id}", name="get_workspace", response_model=WorkspaceOut)
def get_workspace(workspace_id: str, caller: Reader, store: Store) -> WorkspaceOut:
    found = store.records.get(Workspace, caller.tenant_id, workspace_id)
    if found is None:
        raise NotFound(f"no workspace {workspace_id}")
    return _out(found)
