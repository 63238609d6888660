"""The gateway built from the ports and Settings (one place, like `assay.wiring`)."""

from __future__ import annotations

from assay.gateway.cache import MemoryCache, RedisCache
from assay.gateway.catalog import Catalog
from assay.gateway.quotas import Breaker, Quotas
from assay.gateway.service import Gateway, Limits
from assay.gateway.usage import UsageWriter
from assay.wiring import Ports


def build_gateway(ports: Ports) -> Gateway:
    settings = ports.settings
    return Gateway(
        Catalog(ports.records, ports.vault),
        Quotas(ports.limits, max_wait_s=settings.gateway_max_wait_s),
        Breaker(ports.limits),
        limits=Limits(
            key_rpm=settings.gateway_key_rpm,
            key_tpm=settings.gateway_key_tpm,
            tenant_tpm=settings.gateway_tenant_tpm,
            tenant_tpd=settings.gateway_tenant_tpd,
            first_chunk_timeout_s=settings.gateway_first_chunk_timeout_s,
            keepalive_s=settings.gateway_keepalive_s,
        ),
        usage=UsageWriter(ports.records),
        cache=RedisCache(settings.redis_url) if settings.redis_url else MemoryCache(),
    )
