"""Gateway configuration: provider connections (credentials sealed by the vault) and routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from assay.errors import NotFound
from assay.gateway.guardrails import GuardrailRule
from assay.gateway.pools import CapacityPool
from assay.gateway.routing import RouteTarget, RoutingRule
from assay.store.record import TenantRecord

__all__ = ["GatewayConnection", "GatewayResource", "ProviderOptions", "RouteTarget"]


class ProviderOptions(BaseModel):
    """What some providers need besides a key, none of it secret (LiteLLM's parameter names)."""

    model_config = ConfigDict(extra="forbid")

    api_version: str | None = Field(default=None, max_length=64, description="Azure OpenAI")
    aws_region_name: str | None = Field(default=None, max_length=32, description="Bedrock")
    vertex_project: str | None = Field(default=None, max_length=128, description="Vertex AI")
    vertex_location: str | None = Field(default=None, max_length=64, description="Vertex AI")
    organization: str | None = Field(default=None, max_length=128, description="OpenAI")


if TYPE_CHECKING:
    from assay.vault import Vault


class GatewayConnection(TenantRecord):
    """An upstream provider. `sealed_credentials` is a vault token bound to this tenant;
    the plain credentials exist only in memory while a request is being sent."""

    kind: ClassVar[str] = "gwconn"

    name: str = Field(min_length=1, max_length=120)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    provider: str = Field(min_length=1, max_length=64, description="openai, anthropic, bedrock...")
    base_url: str | None = Field(default=None, max_length=2048)
    sealed_credentials: str | None = None
    options: ProviderOptions = Field(default_factory=ProviderOptions)
    pools: list[CapacityPool] = Field(default_factory=list, max_length=20)
    models: list[str] = Field(default_factory=list)
    enabled: bool = True

    def with_credentials(self, vault: Vault, credentials: str) -> GatewayConnection:
        """A copy holding `credentials` sealed for this tenant; the plain text is not kept."""
        return self.evolve(sealed_credentials=vault.seal(self.tenant_id, credentials.encode()))

    def credentials(self, vault: Vault) -> str:
        """The plain credentials, for the duration of one upstream call."""
        if self.sealed_credentials is None:
            raise NotFound(f"connection {self.name} has no credentials")
        return vault.open(self.tenant_id, self.sealed_credentials).decode()


class OnlineEvaluation(BaseModel):
    """Score a sample of a resource's answers off the request path (evaluators as in a suite
    file: deterministic ones and model judges)."""

    model_config = ConfigDict(extra="forbid")

    evaluators: list[dict[str, Any]] = Field(default_factory=list, max_length=10)
    sample_rate: float = Field(default=0.1, ge=0.0, le=1.0)


class GatewayResource(TenantRecord):
    """A model name clients call (`model="fast"`) mapped onto upstream targets, with limits.
    Its id is that name, so a request finds it with one read."""

    kind: ClassVar[str] = "gwresource"
    filter_fields: ClassVar[tuple[str, ...]] = ("name",)

    name: str = Field(min_length=1, max_length=200)
    targets: list[RouteTarget] = Field(min_length=1)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    cache_ttl_s: int = Field(default=0, ge=0)
    guardrails: list[GuardrailRule] = Field(default_factory=list, max_length=50)
    rules: list[RoutingRule] = Field(default_factory=list, max_length=50)
    evaluation: OnlineEvaluation | None = None
    enabled: bool = True
