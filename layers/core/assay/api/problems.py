"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from assay.errors import AssayError
from assay.observability import logger

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://assay.dev/problems/"


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_PROBLEM_CONTENT = {MEDIA_TYPE: {"schema": _PROBLEM_REF}}
# Every route may answer these; documenting them keeps clients and schema checks honest. The
# model puts Problem in the components; `_document` drops the application/json it also adds.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": title, "model": Problem, "content": _PROBLEM_CONTENT}
    for code, title in {
        400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
        405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
        415: "Unsupported media type", 422: "Unprocessable content", 429: "Too many requests",
        500: "Internal server error", 503: "Service unavailable",
    }.items()
}  # fmt: skip

_TITLES = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
    415: "Unsupported media type", 422: "Unprocessable content", 429: "Too many requests",
    500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable",
}  # fmt: skip


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str | None,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_BASE + code,
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE,
        headers=headers,
    )  # fmt: skip


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Methods the OpenAPI document lists for `path` (it is the one public view of the routes
    that does not change shape between FastAPI releases). As in OpenAPI, a concrete path
    (`/v1/analyses/archive`) takes precedence over a templated one (`/v1/analyses/{id}`)."""
    table: list[tuple[str, re.Pattern[str], list[str]]] | None = getattr(app.state, "allow", None)
    if table is None:
        table = [
            (template, compile_path(template)[0], [m.upper() for m in operations])
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.allow = table
    exact = [methods for template, _, methods in table if template == path]
    found = exact or [methods for _, regex, methods in table if regex.match(path)]
    return sorted({m for methods in found for m in methods})


def _document(app: FastAPI) -> None:
    """Errors are documented as application/problem+json alone, the one type they are served
    as: FastAPI files a response's model under the route's type too (application/json)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    for response in operation.get("responses", {}).values():
                        content = response.get("content", {})
                        if MEDIA_TYPE in content and content.get("application/json") == {
                            "schema": _PROBLEM_REF
                        }:
                            del content["application/json"]
        return app.openapi_schema  # type: ignore[return-value]  # generate() stored it

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document(app)

    @app.exception_handler(AssayError)
    async def assay_error(request: Request, exc: AssayError) -> JSONResponse:
        detail = exc.message if not exc.fix else f"{exc.message} ({exc.fix})"
        return problem(request, exc.status, exc.code, detail,
                       headers=getattr(exc, "headers", None))  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
            for e in exc.errors()
        ]
        return problem(request, 422, "invalid", "the request is not valid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; list them all.
            headers["Allow"] = ", ".join(_allowed_methods(app, request.url.path))
        return problem(request, exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, _exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem(request, 500, "internal", "an unexpected error occurred")
