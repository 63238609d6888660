"""Gateway configuration: provider connections (credentials sealed by the vault) and routes."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from assay.store.record import TenantRecord


class GatewayConnection(TenantRecord):
    """An upstream provider. `sealed_credentials` is a vault token bound to this tenant;
    the plain credentials exist only in memory while a request is being sent."""

    kind: ClassVar[str] = "gwconn"

    name: str = Field(min_length=1, max_length=120)
    provider: str = Field(min_length=1, max_length=64, description="openai, anthropic, bedrock...")
    base_url: str | None = Field(default=None, max_length=2048)
    sealed_credentials: str | None = None
    models: list[str] = Field(default_factory=list)
    enabled: bool = True


class RouteTarget(BaseModel):
    """One upstream a route may send to; targets are tried in order (fallback)."""

    connection_id: str
    model: str = Field(min_length=1, max_length=200)
    weight: int = Field(default=1, ge=0, le=1000)


class GatewayRoute(TenantRecord):
    """A model name clients call (`model="fast"`) mapped onto upstream targets, with limits."""

    kind: ClassVar[str] = "gwroute"
    filter_fields: ClassVar[tuple[str, ...]] = ("name",)

    name: str = Field(min_length=1, max_length=200)
    targets: list[RouteTarget] = Field(min_length=1)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    cache_ttl_s: int = Field(default=0, ge=0)
    enabled: bool = True
