"""The Python SDK: `AssayClient` (sync) and `AsyncAssayClient`, typed by the API's own models."""

from assay.client.asyncio import AsyncAssayClient
from assay.client.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from assay.client.sync import AssayClient, Event

__all__ = [
    "ApiError",
    "AssayClient",
    "AsyncAssayClient",
    "AuthenticationError",
    "Event",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
]
