"""Per-request context as plain ASGI middleware: the correlation id (the caller's X-Request-Id,
or a new one, echoed on the answer) and the cap on JSON bodies. Plain ASGI, not Starlette's
BaseHTTPMiddleware, whose extra task and streams per request cost milliseconds under load."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestContext:
    def __init__(self, app: ASGIApp, *, max_body: int | None, exempt: tuple[str, ...] = ()) -> None:
        """`max_body` None: no cap here; paths ending in one of `exempt` keep their own."""
        self.app = app
        self.max_body = max_body
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming, length = "", b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        rid = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        echo = (b"x-request-id", rid.encode("latin-1"))
        if (self.max_body is not None and length.isdigit() and int(length) > self.max_body
                and not scope["path"].endswith(self.exempt)):  # fmt: skip
            from assay.api import problems  # FastAPI: not on the gateway Lambda's cold start

            refusal = problems.problem(Request(scope), 413, "payload_too_large",
                                       f"bodies are limited to {self.max_body} bytes")  # fmt: skip
            refusal.raw_headers.append(echo)
            await refusal(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append(echo)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
