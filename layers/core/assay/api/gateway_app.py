"""The gateway on its own: the OpenAI-compatible endpoints without the rest of the API.

The gateway Lambda serves this app (`functions/gateway`). It holds only what a model call
needs (authentication, the gateway, request ids), so its cold start pays for neither FastAPI
nor the analysis pipeline; `assay serve` and the API Lambda serve the same endpoints inside
the full app. Shutdown (the ASGI lifespan) closes upstream connections and stores pending
usage entries.
"""

from __future__ import annotations

import json

from starlette.types import Receive, Scope, Send

from assay.api.identity import Authenticator
from assay.api.middleware import RequestContext
from assay.api.openai_endpoints import OpenAIEndpoints
from assay.gateway import errors as openai_errors
from assay.gateway.service import Gateway
from assay.gateway.wiring import build_gateway
from assay.wiring import Ports


class _Rest:
    """Everything the endpoints do not answer: health, lifespan, and OpenAI-shaped 404s."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.upstream.aclose()
                if self.gateway.usage is not None:
                    self.gateway.usage.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] in ("/healthz", "/readyz"):
            status, payload = 200, {"status": "ok"}
        else:
            status = 404
            payload = openai_errors.body(404, f"no route {scope['path']}", "not_found")
        content = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
        ]})  # fmt: skip
        await send({"type": "http.response.body", "body": content})


def create_gateway_app(ports: Ports) -> RequestContext:
    gateway = build_gateway(ports)
    endpoints = OpenAIEndpoints(_Rest(gateway), authenticator=Authenticator(ports),
                                gateway=gateway)  # fmt: skip
    return RequestContext(endpoints, max_body=None)  # the endpoints cap their bodies
