"""The console (a static single-page app, built from `console/` into `static/`) as `assay serve`
serves it: the files at `/` and its settings at `/config.json`. In AWS the same files and a
`config.json` written at deploy time are published to S3 behind CloudFront instead."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from assay.config import Settings

STATIC = Path(__file__).parent / "static"

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Assay</title>
<p>The console has not been built. Run <code>make console</code> (or <code>make setup</code>)
and restart <code>assay serve</code>. The API is at <a href="/docs">/docs</a>.</p>"""


class OidcClient(BaseModel):
    issuer: str
    client_id: str
    scope: str = "openid email profile"


class ConsoleConfig(BaseModel):
    """What the page reads at start: where the API is (empty: this origin) and how to sign in."""

    api_url: str = ""
    oidc: OidcClient | None = None

    @classmethod
    def of(cls, settings: Settings) -> ConsoleConfig:
        oidc = None
        if settings.oidc_issuer and settings.oidc_audience:
            oidc = OidcClient(issuer=settings.oidc_issuer, client_id=settings.oidc_audience)
        return cls(oidc=oidc)


def content_security_policy(config: ConsoleConfig) -> str:
    """Scripts and styles from this origin only; the page may call the API and the issuer."""
    issuer = config.oidc.issuer if config.oidc else ""
    connect = " ".join(filter(None, ["'self'", config.api_url, issuer]))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class _ConsoleHeaders:
    """Security headers on the console's files (the API's own responses set theirs)."""

    def __init__(self, app: ASGIApp, policy: str) -> None:
        self._app = app
        self._headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))  # type: ignore[call-overload]
                message["headers"] = headers + self._headers
            await send(message)

        await self._app(scope, receive, sending)  # type: ignore[arg-type]


def mount(app: FastAPI, settings: Settings, static: Path = STATIC) -> None:
    """Serve the console at `/` beside the API (routes registered first win)."""
    config = ConsoleConfig.of(settings)

    @app.get("/config.json", include_in_schema=False)
    def console_config() -> ConsoleConfig:
        return config

    if not (static / "index.html").is_file():

        @app.get("/", include_in_schema=False)
        def not_built() -> HTMLResponse:
            return HTMLResponse(NOT_BUILT, status_code=503)

        return
    files = StaticFiles(directory=static, html=True)
    app.mount("/", _ConsoleHeaders(files, content_security_policy(config)), name="console")
