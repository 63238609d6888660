"""API Gateway's request id as the correlation id, for apps behind the Lambda Web Adapter.

The adapter passes the API Gateway request context as the `x-amzn-request-context` header; its
`requestId` becomes the `X-Request-Id` of the answer and the correlation id of the logs.
"""

from __future__ import annotations

import json
from typing import Any

from assay.observability import logger

CONTEXT_HEADER = b"x-amzn-request-context"


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == CONTEXT_HEADER:
            try:
                found = json.loads(value).get("requestId")
            except (ValueError, AttributeError):
                return None
            return found if isinstance(found, str) and 0 < len(found) <= 128 else None
    return None


class CorrelationIds:
    """ASGI middleware: API Gateway's request id as X-Request-Id and the logs' correlation id."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (rid := request_id_of(scope["headers"])) is not None:
            kept = [(k, v) for k, v in scope["headers"] if k.lower() != b"x-request-id"]
            scope = {**scope, "headers": [*kept, (b"x-request-id", rid.encode())]}
            logger.set_correlation_id(rid)
        await self.inner(scope, receive, send)
