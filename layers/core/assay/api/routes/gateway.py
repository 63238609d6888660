"""The gateway's OpenAI-compatible endpoints: `POST /v1/chat/completions`, `POST /v1/embeddings`,
`GET /v1/models`, for keys with the `gateway:invoke` scope. They follow OpenAI's API reference
(request and response shapes, errors), not this API's OpenAPI document."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from assay.api.auth import Principal, require
from assay.gateway import Gateway, GatewayError
from assay.gateway.service import Caller
from assay.records import Scope

router = APIRouter(prefix="/v1", tags=["gateway"], include_in_schema=False)
Invoker = Annotated[Principal, Depends(require(Scope.GATEWAY_INVOKE))]
MAX_BODY = 4 * 1024 * 1024  # long prompts and images as data URLs


def _gateway(request: Request) -> Gateway:
    found: Gateway = request.app.state.gateway
    return found


async def _payload(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise GatewayError(f"the request body exceeds {MAX_BODY} bytes", status=413,
                           code="request_too_large")  # fmt: skip
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise GatewayError("We could not parse the JSON body of your request.", status=400,
                           code="invalid_json")  # fmt: skip
    return payload


def _caller(principal: Principal) -> Caller:
    return Caller(tenant_id=principal.tenant_id, actor=principal.actor)


@router.post("/chat/completions")
async def chat_completions(request: Request, caller: Invoker) -> Response:
    payload = await _payload(request)
    if not isinstance(payload.get("messages"), list) or not payload["messages"]:
        raise GatewayError("'messages' must be a non-empty array", status=400,
                           code="invalid_messages", param="messages")  # fmt: skip
    return await _gateway(request).forward(_caller(caller), "/chat/completions", payload)


@router.post("/embeddings")
async def embeddings(request: Request, caller: Invoker) -> Response:
    payload = await _payload(request)
    if "input" not in payload:
        raise GatewayError("'input' is required", status=400, code="missing_input",
                           param="input")  # fmt: skip
    return await _gateway(request).forward(_caller(caller), "/embeddings", payload)


@router.get("/models")
async def list_models(request: Request, caller: Invoker) -> dict[str, Any]:
    resources = await run_in_threadpool(_gateway(request).catalog.resources, caller.tenant_id)
    return {"object": "list", "data": [
        {"id": r.name, "object": "model", "created": int(r.created_at.timestamp()),
         "owned_by": "assay"} for r in resources]}  # fmt: skip
