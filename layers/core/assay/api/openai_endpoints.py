"""The gateway's OpenAI-compatible endpoints: `POST /v1/chat/completions`, `POST /v1/embeddings`,
`GET /v1/models`, for keys with the `gateway:invoke` scope.

They follow OpenAI's API reference (request and response shapes, errors), not this API's
OpenAPI document, and they are served by this ASGI middleware ahead of FastAPI's routing and
dependency machinery: on the gateway's hot path every microsecond is overhead the caller pays
on each call (see bench/gateway_overhead.py). Authentication is the same function the rest
of the API uses.
"""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from assay.api.identity import Authenticator, Forbidden
from assay.errors import AssayError
from assay.gateway import errors as openai_errors
from assay.gateway.errors import GatewayError
from assay.gateway.service import Caller, Gateway
from assay.observability import logger
from assay.records import Scope as KeyScope

MAX_BODY = 4 * 1024 * 1024  # long prompts and images as data URLs
ROUTES = {
    ("POST", "/v1/chat/completions"): "chat",
    ("POST", "/v1/embeddings"): "embeddings",
    ("GET", "/v1/models"): "models",
}
PATHS = frozenset(path for _, path in ROUTES)
# Judges as a service: /v1/judges/{name}/chat/completions (see assay.evals.judge_service).
JUDGES = "/v1/judges/"
JUDGE_TTL_S = 5.0
JUDGED = "/chat/completions"


def judge_name(path: str) -> str | None:
    if not (path.startswith(JUDGES) and path.endswith(JUDGED)):
        return None
    name = path[len(JUDGES) : -len(JUDGED)]
    return name if name and "/" not in name else None


def error_response(exc: AssayError) -> JSONResponse:
    detail = exc.message if not exc.fix else f"{exc.message} ({exc.fix})"
    return JSONResponse(
        openai_errors.body(exc.status, detail, exc.code, getattr(exc, "param", None)),
        status_code=exc.status,
        headers=getattr(exc, "headers", None),
    )


async def _payload(request: Request) -> dict[str, Any]:
    """The JSON body, refused as soon as it outgrows MAX_BODY (declared or sent)."""
    declared = request.headers.get("content-length", "")
    too_big = GatewayError(f"the request body exceeds {MAX_BODY} bytes", status=413,
                           code="request_too_large")  # fmt: skip
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_big
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_BODY:
            raise too_big
        parts.append(part)
    raw = b"".join(parts)
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise GatewayError("We could not parse the JSON body of your request.", status=400,
                           code="invalid_json")  # fmt: skip
    return payload


class OpenAIEndpoints:
    def __init__(self, app: ASGIApp, *, authenticator: Authenticator, gateway: Gateway) -> None:
        self.app = app
        self.authenticator = authenticator
        self.gateway = gateway
        self._judges: dict[tuple[str, str], tuple[float, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        judge = judge_name(scope["path"]) if scope["type"] == "http" else None
        if scope["type"] != "http" or (scope["path"] not in PATHS and judge is None):
            await self.app(scope, receive, send)
            return
        route = "judge" if judge and scope["method"] == "POST" else ROUTES.get(
            (scope["method"], scope["path"]))  # fmt: skip
        if route is None:
            allowed = "POST" if judge else ", ".join(m for m, p in ROUTES if p == scope["path"])
            response: Response = JSONResponse(
                openai_errors.body(405, "Method not allowed", "method_not_allowed"),
                status_code=405, headers={"Allow": allowed},
            )  # fmt: skip
        else:
            request = Request(scope, receive)
            try:
                response = await self._handle(route, request, judge)
            except AssayError as exc:
                response = error_response(exc)
            except Exception:
                logger.exception("gateway: unexpected error", extra={"path": scope["path"]})
                unexpected = openai_errors.body(500, "an unexpected error occurred", "internal")
                response = JSONResponse(unexpected, status_code=500)
        await response(scope, receive, send)

    async def _handle(self, route: str, request: Request, judge: str | None = None) -> Response:
        caller = await self.authenticator.authenticate(request.headers.get("authorization", ""))
        if not caller.allows(KeyScope.GATEWAY_INVOKE):
            raise Forbidden("the caller lacks the 'gateway:invoke' scope")
        traffic = "eval" if request.headers.get("x-assay-traffic") == "eval" else "interactive"
        who = Caller(tenant_id=caller.tenant_id, actor=caller.actor, traffic=traffic)
        if route == "models":
            resources = await run_in_threadpool(self.gateway.catalog.resources, caller.tenant_id)
            return JSONResponse({"object": "list", "data": [
                {"id": r.name, "object": "model", "created": int(r.created_at.timestamp()),
                 "owned_by": "assay"} for r in resources]})  # fmt: skip
        payload = await _payload(request)
        if route == "judge" and judge is not None:
            return await self._judged(who, judge, payload)
        if route == "chat":
            if not isinstance(payload.get("messages"), list) or not payload["messages"]:
                raise GatewayError("'messages' must be a non-empty array", status=400,
                                   code="invalid_messages", param="messages")  # fmt: skip
            return await self.gateway.forward(who, "/chat/completions", payload)
        if "input" not in payload:
            raise GatewayError("'input' is required", status=400, code="missing_input",
                               param="input")  # fmt: skip
        return await self.gateway.forward(who, "/embeddings", payload)

    async def _judged(self, who: Caller, name: str, payload: dict[str, Any]) -> Response:
        from assay.evals.judge_service import judged
        from assay.records import EvalJudge

        key = (who.tenant_id, name)
        cached = self._judges.get(key)
        if cached is not None and cached[0] > time.monotonic():
            judge = cached[1]
        else:  # read at most every few seconds, like the catalog's resources
            records = self.gateway.catalog.records
            judge = await run_in_threadpool(records.get, EvalJudge, who.tenant_id, name)
            if len(self._judges) > 1000:
                self._judges.clear()
            self._judges[key] = (time.monotonic() + JUDGE_TTL_S, judge)
        if judge is None:
            raise GatewayError(f"no judge {name!r}", status=404, code="judge_not_found")
        if not isinstance(payload.get("messages"), list) or not payload["messages"]:
            raise GatewayError("'messages' must be a non-empty array", status=400,
                               code="invalid_messages", param="messages")  # fmt: skip
        status, body, headers = await judged(self.gateway, who, judge, payload)
        return JSONResponse(body, status_code=status, headers=headers)
