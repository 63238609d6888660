"""Lambda entry point for streamed responses (Server-Sent Events), run by the Lambda Web Adapter.

Mangum buffers a whole response, so `GET /v1/analyses/{id}/events` cannot go through it. In
AWS this function runs `run.sh` under the Lambda Web Adapter layer with
`AWS_LWA_INVOKE_MODE=response_stream`: the adapter starts uvicorn serving this module's `app`
(the same FastAPI app as `assay serve` and `functions/api`) and relays each chunk as it is
written. The adapter passes the API Gateway request context as the `x-amzn-request-context`
header; its `requestId` becomes the correlation id of logs and of the `X-Request-Id` answer.
"""

from __future__ import annotations

import json
from typing import Any

from assay.api import create_app
from assay.config import load_settings
from assay.observability import logger
from assay.wiring import build_ports

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


app = CorrelationIds(create_app(build_ports(load_settings())))
