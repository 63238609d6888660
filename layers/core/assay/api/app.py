"""The application factory: the same app for `assay serve` and for Lambda."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from assay import __version__
from assay.api import problems
from assay.api.identity import Authenticator
from assay.api.middleware import RequestContext
from assay.api.openai_endpoints import JUDGED, PATHS, OpenAIEndpoints
from assay.api.routes import (
    admin,
    analyses,
    evals,
    events,
    evidence,
    gateway_admin,
    gateway_usage,
    health,
    me,
    workspaces,
)
from assay.api.routes.evals import UPLOAD_SUFFIX
from assay.gateway.service import Gateway
from assay.gateway.wiring import build_gateway
from assay.wiring import Ports

MAX_JSON_BODY = 1024 * 1024


def _operation_id(route: APIRoute) -> str:
    """Readable operation ids (the route names) make generated clients pleasant."""
    return route.name


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On shutdown: close the gateway's upstream connections and store pending usage."""
    yield
    gateway: Gateway = app.state.gateway
    await gateway.upstream.aclose()
    if gateway.usage is not None:
        gateway.usage.close()


def _allow_origins(app: FastAPI, origins: str) -> None:
    """Browsers on these origins (the console on CloudFront) may call the API; outermost, so
    preflights are answered before authentication."""
    allowed = [o.strip().rstrip("/") for o in origins.split(",") if o.strip()]
    if allowed:
        app.add_middleware(
            CORSMiddleware, allow_origins=allowed, allow_methods=["*"], max_age=600,
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID",
                           "X-Request-Id"],
            expose_headers=["Location", "Retry-After", "X-Request-Id"],
        )  # fmt: skip


def create_app(ports: Ports) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="Assay",
        version=__version__,
        summary="Verify code with generated tests: analyses, evidence and the LLM gateway.",
        generate_unique_id_function=_operation_id,
        responses=problems.ERROR_RESPONSES,
        # FastAPI's own OpenTelemetry hooks cost every request CPU even with no provider;
        # traces and metrics go through Powertools (X-Ray, CloudWatch EMF) instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.ports = ports
    app.state.authenticator = Authenticator(ports)
    app.state.gateway = build_gateway(ports)
    problems.install(app)

    # Starlette runs the last added outermost: the request id, then the gateway's fast path.
    app.add_middleware(
        OpenAIEndpoints, authenticator=app.state.authenticator, gateway=app.state.gateway
    )
    # Archive uploads and model calls have caps of their own.
    app.add_middleware(
        RequestContext, max_body=MAX_JSON_BODY, exempt=("/archive", JUDGED, UPLOAD_SUFFIX, *PATHS)
    )

    _allow_origins(app, ports.settings.cors_origins)
    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(analyses.router)
    app.include_router(events.router)
    app.include_router(admin.router)
    app.include_router(evidence.router)
    app.include_router(workspaces.router)
    app.include_router(gateway_admin.router)
    app.include_router(gateway_usage.router)
    app.include_router(evals.router)
    return app
