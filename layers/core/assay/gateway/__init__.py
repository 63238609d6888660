"""The LLM gateway: OpenAI-compatible endpoints in front of every provider, with routing,
failover, limits and usage. `service.Gateway` is the entry; routes live in `assay.api`."""

from assay.gateway.errors import GatewayError
from assay.gateway.service import Gateway

__all__ = ["Gateway", "GatewayError"]
