"""Gateway configuration for tenant admins: connections (a provider, its credentials and its
capacity) and resources (the model names clients call, mapped onto connections' models in
fallback order). Credentials are write-only: sealed by the vault, never returned."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from assay import tenancy
from assay.api.auth import Principal, ports, require
from assay.api.models import JsonInt, PageOut, PerMinute
from assay.errors import NotFound
from assay.evals.online import OnlineEvaluationIn
from assay.gateway.guardrails import GuardrailRule
from assay.gateway.pools import CapacityPool
from assay.gateway.routing import RoutingRule
from assay.gateway.service import Gateway
from assay.records import GatewayConnection, GatewayResource, RouteTarget, Scope
from assay.records.gateway import ProviderOptions
from assay.wiring import Ports

router = APIRouter(prefix="/v1/gateway", tags=["gateway"])
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
Store = Annotated[Ports, Depends(ports)]
ResourceName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$",
                                   description="What clients pass as `model`.")]  # fmt: skip


def _check_base_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http(s) URL, e.g. https://api.openai.com/v1")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return value.rstrip("/")
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise ValueError("must not point at link-local (instance metadata) addresses")
    return value.rstrip("/")


class ConnectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    provider: str = Field(default="openai", pattern=r"^[a-z0-9_-]{1,64}$",
                          description="`openai` (or any OpenAI-compatible server) passes "
                          "requests through; others go through LiteLLM.")  # fmt: skip
    base_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[!-~]*)?$",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Write-only. A key, or for providers with several secrets a JSON object "
        "of LiteLLM's names for them (e.g. Bedrock's `aws_access_key_id` and "
        "`aws_secret_access_key`; without one, the role's credentials are used).",
    )
    options: ProviderOptions = Field(default_factory=ProviderOptions)
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None
    pools: list[CapacityPool] = Field(
        default_factory=list, max_length=20,
        description="How resources share tokens_per_minute: rank, guaranteed and maximum "
        "shares. Resources in no pool share a `default` pool ranked last.",
    )  # fmt: skip

    _url = field_validator("base_url")(_check_base_url)


class ConnectionPatch(BaseModel):
    """Only the fields sent change; `null` clears an optional one (`api_key: null` removes
    the credentials)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    base_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[!-~]*)?$",
    )
    api_key: SecretStr | None = Field(default=None, description="Write-only.")
    options: ProviderOptions | None = None
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None
    pools: list[CapacityPool] | None = Field(default=None, max_length=20)
    enabled: bool | None = None

    _url = field_validator("base_url")(_check_base_url)


class ConnectionOut(BaseModel):
    id: str
    name: str
    provider: str
    base_url: str | None
    options: ProviderOptions
    has_credentials: bool
    requests_per_minute: int | None
    tokens_per_minute: int | None
    pools: list[CapacityPool]
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, record: GatewayConnection) -> ConnectionOut:
        return cls(**record.model_dump(exclude={"sealed_credentials"}),
                   has_credentials=record.sealed_credentials is not None)  # fmt: skip


class ResourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[RouteTarget] = Field(min_length=1, max_length=16,
                                       description="Tried in order: the first is the primary, "
                                       "the rest its fallbacks.")  # fmt: skip
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None
    cache_ttl_s: JsonInt = Field(default=0, ge=0, le=7 * 24 * 3600)
    guardrails: list[GuardrailRule] = Field(default_factory=list, max_length=50)
    rules: list[RoutingRule] = Field(
        default_factory=list, max_length=50, description="In order; the first match wins."
    )
    evaluation: OnlineEvaluationIn | None = Field(
        default=None, description="Online evaluation: evaluators (deterministic ones and model "
        "judges, as in a suite file) scoring `sample_rate` of the answers off the request path.",
    )  # fmt: skip


class ResourceOut(ResourceIn):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(description="What clients pass as `model`.")
    enabled: bool
    created_at: datetime


def _changed(
    request: Request, store: Ports, caller: Principal, action: str, target: str,
    **details: object,
) -> None:  # fmt: skip
    """Audit the change, then drop the gateway's cached catalog so it applies at once."""
    tenancy.audit(store.records, caller.tenant_id, caller.actor, action, target, **details)
    gateway: Gateway = request.app.state.gateway
    gateway.catalog.forget()


@router.post("/connections", name="create_connection", response_model=ConnectionOut,
             status_code=201)  # fmt: skip
def create_connection(
    body: ConnectionIn, caller: Admin, store: Store, request: Request
) -> ConnectionOut:
    record = GatewayConnection(
        tenant_id=caller.tenant_id, name=body.name, provider=body.provider,
        base_url=body.base_url, options=body.options,
        requests_per_minute=body.requests_per_minute,
        tokens_per_minute=body.tokens_per_minute, pools=body.pools,
    )  # fmt: skip
    if body.api_key is not None:
        record = record.with_credentials(store.vault, body.api_key.get_secret_value())
    created = store.records.create(record)
    _changed(request, store, caller, "gateway.connection.create", created.id, name=created.name,
             provider=created.provider)  # fmt: skip
    return ConnectionOut.of(created)


@router.get("/connections", name="list_connections", response_model=PageOut[ConnectionOut])
def list_connections(
    caller: Admin, store: Store, cursor: str | None = None
) -> PageOut[ConnectionOut]:
    page = store.records.list(GatewayConnection, caller.tenant_id, limit=200, cursor=cursor or None)
    return PageOut[ConnectionOut](items=[ConnectionOut.of(c) for c in page.items],
                                  next_cursor=page.next_cursor)  # fmt: skip


def _connection(store: Ports, tenant_id: str, connection_id: str) -> GatewayConnection:
    found = store.records.get(GatewayConnection, tenant_id, connection_id)
    if found is None:
        raise NotFound(f"no connection {connection_id}")
    return found


@router.get("/connections/{connection_id}", name="get_connection", response_model=ConnectionOut)
def get_connection(connection_id: str, caller: Admin, store: Store) -> ConnectionOut:
    return ConnectionOut.of(_connection(store, caller.tenant_id, connection_id))


@router.patch("/connections/{connection_id}", name="update_connection",
              response_model=ConnectionOut)  # fmt: skip
def update_connection(
    connection_id: str, body: ConnectionPatch, caller: Admin, store: Store, request: Request
) -> ConnectionOut:
    """Change a connection: rotate its key, move its capacity, set its pools, re-enable it."""
    found = _connection(store, caller.tenant_id, connection_id)
    sent = {k: getattr(body, k) for k in body.model_fields_set - {"api_key"}}
    unset = {
        "options": ProviderOptions(),
        "pools": [],
        "name": found.name,
        "enabled": found.enabled,
    }  # null means "none" or, where that makes no sense, no change
    updated = found.evolve(**{k: unset[k] if v is None and k in unset else v
                              for k, v in sent.items()})  # fmt: skip
    if "api_key" in body.model_fields_set:
        key = body.api_key
        updated = (updated.evolve(sealed_credentials=None) if key is None
                   else updated.with_credentials(store.vault, key.get_secret_value()))  # fmt: skip
    saved = store.records.update(updated)
    _changed(request, store, caller, "gateway.connection.update", saved.id,
             fields=sorted(body.model_fields_set))  # fmt: skip
    return ConnectionOut.of(saved)


@router.delete("/connections/{connection_id}", name="disable_connection", status_code=204)
def disable_connection(
    connection_id: str, caller: Admin, store: Store, request: Request
) -> Response:
    found = store.records.get(GatewayConnection, caller.tenant_id, connection_id)
    if found is None:
        raise NotFound(f"no connection {connection_id}")
    store.records.update(found.evolve(enabled=False))
    _changed(request, store, caller, "gateway.connection.disable", connection_id)
    return Response(status_code=204)


@router.put("/resources/{name:path}", name="put_resource", response_model=ResourceOut)
def put_resource(
    name: str, body: ResourceIn, caller: Admin, store: Store, request: Request
) -> ResourceOut:
    """Create or replace the resource clients call as `model=name`."""
    named = [*body.targets, *(t for r in body.rules for t in r.targets),
             *(s.target for r in body.rules for s in r.split)]  # fmt: skip
    for target in named:
        if store.records.get(GatewayConnection, caller.tenant_id, target.connection_id) is None:
            raise NotFound(f"no connection {target.connection_id} in this tenant")
    fields = {**body.model_dump(), "name": name,
              "evaluation": body.evaluation.stored() if body.evaluation else None}  # fmt: skip
    existing = store.records.get(GatewayResource, caller.tenant_id, name)
    if existing is None:
        saved = store.records.create(GatewayResource(id=name, tenant_id=caller.tenant_id, **fields))
    else:
        saved = store.records.update(existing.evolve(**fields, enabled=True))
    _changed(request, store, caller, "gateway.resource.put", name,
             targets=[f"{t.connection_id}/{t.model}" for t in body.targets])  # fmt: skip
    return ResourceOut.model_validate(saved.model_dump())


@router.get("/resources", name="list_resources", response_model=PageOut[ResourceOut])
def list_resources(caller: Admin, store: Store, cursor: str | None = None) -> PageOut[ResourceOut]:
    page = store.records.list(GatewayResource, caller.tenant_id, limit=200, cursor=cursor or None)
    items = [ResourceOut.model_validate(r.model_dump()) for r in page.items]
    return PageOut[ResourceOut](items=items, next_cursor=page.next_cursor)


@router.delete("/resources/{name:path}", name="disable_resource", status_code=204)
def disable_resource(name: str, caller: Admin, store: Store, request: Request) -> Response:
    found = store.records.get(GatewayResource, caller.tenant_id, name)
    if found is None:
        raise NotFound(f"no resource {name}")
    store.records.update(found.evolve(enabled=False))
    _changed(request, store, caller, "gateway.resource.disable", name)
    return Response(status_code=204)
