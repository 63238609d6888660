"""The gateway built from the ports and Settings (one place, like `assay.wiring`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from assay.gateway.cache import MemoryCache, RedisCache
from assay.gateway.catalog import Catalog
from assay.gateway.quotas import Breaker, Quotas
from assay.gateway.service import Gateway, Limits
from assay.gateway.usage import UsageWriter
from assay.limits import Limiter
from assay.store import RecordStore
from assay.vault import Vault
from assay.wiring import Ports

if TYPE_CHECKING:
    from assay.evals.online import OnlineScorer


def build_gateway(ports: Ports) -> Gateway:
    """Adapters are reached through `ports` on use, so lazily built ports stay unbuilt until
    the first request needs them."""
    settings = ports.settings

    def records() -> RecordStore:
        return ports.records

    def limits() -> Limiter:
        return ports.limits

    def vault() -> Vault:
        return ports.vault

    return Gateway(
        Catalog(records, vault),
        Quotas(limits, max_wait_s=settings.gateway_max_wait_s),
        Breaker(limits),
        limits=Limits(
            key_rpm=settings.gateway_key_rpm,
            key_tpm=settings.gateway_key_tpm,
            tenant_tpm=settings.gateway_tenant_tpm,
            tenant_tpd=settings.gateway_tenant_tpd,
            first_chunk_timeout_s=settings.gateway_first_chunk_timeout_s,
            keepalive_s=settings.gateway_keepalive_s,
        ),
        usage=UsageWriter(records),
        cache=RedisCache(settings.redis_url) if settings.redis_url else MemoryCache(),
        online=lambda gateway: online_scorer(gateway, records),
    )


def online_scorer(gateway: Gateway, records: Callable[[], RecordStore]) -> OnlineScorer:
    """Online evaluation of `gateway`'s sampled requests; judges reached through it."""
    from assay.evals.online import OnlineScorer
    from assay.evals.target import InProcessGateway
    from assay.gateway.service import Caller

    def completer(tenant_id: str, actor: str) -> InProcessGateway:
        return InProcessGateway(gateway, Caller(tenant_id=tenant_id, actor=actor))

    return OnlineScorer(records, completer)
