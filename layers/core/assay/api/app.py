"""The application factory: the same app for `assay serve` and for Lambda."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute

from assay import __version__
from assay.api import problems
from assay.api.auth import KeyCache, oidc_verifier
from assay.api.routes import (
    admin,
    analyses,
    events,
    evidence,
    gateway,
    gateway_admin,
    gateway_usage,
    health,
    workspaces,
)
from assay.gateway.wiring import build_gateway
from assay.wiring import Ports

MAX_JSON_BODY = 1024 * 1024


def _operation_id(route: APIRoute) -> str:
    """Readable operation ids (the route names) make generated clients pleasant."""
    return route.name


def create_app(ports: Ports) -> FastAPI:
    app = FastAPI(
        title="Assay",
        version=__version__,
        summary="Verify code with generated tests: analyses, evidence and the LLM gateway.",
        generate_unique_id_function=_operation_id,
        responses=problems.ERROR_RESPONSES,
    )
    app.state.ports = ports
    app.state.key_cache = KeyCache()
    app.state.oidc = oidc_verifier(ports.settings)
    app.state.gateway = build_gateway(ports)
    problems.install(app)

    @app.middleware("http")
    async def body_limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """JSON bodies are small; archives have their own, larger cap on their route."""
        length = request.headers.get("content-length", "")
        if (
            length.isdigit()
            and int(length) > MAX_JSON_BODY
            and not request.url.path.endswith("/archive")
        ):
            return problems.problem(
                request, 413, "payload_too_large", f"bodies are limited to {MAX_JSON_BODY} bytes"
            )
        return await call_next(request)

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Correlation ids: reuse the caller's X-Request-Id or make one, and echo it."""
        incoming = request.headers.get("x-request-id", "")
        rid = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        request.state.request_id = rid
        response = await call_next(request)
        response.headers["X-Request-Id"] = rid
        return response

    app.include_router(health.router)
    app.include_router(analyses.router)
    app.include_router(events.router)
    app.include_router(admin.router)
    app.include_router(evidence.router)
    app.include_router(workspaces.router)
    app.include_router(gateway.router)
    app.include_router(gateway_admin.router)
    app.include_router(gateway_usage.router)
    return app
