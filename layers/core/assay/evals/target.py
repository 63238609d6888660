"""Calling the model a suite targets, always through the gateway: in this process (the local
profile's own gateway, built from the same ports `assay serve` uses) or over HTTP to a server
(`--server`). Either way limits, pools, cache, usage and cost apply, and the request is marked
as eval traffic, which the gateway queues behind interactive traffic and never samples for
online evaluation."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import httpx

from assay.evals.judges import Reply
from assay.evals.suite import Item, Target
from assay.evals.templates import render
from assay.gateway.usage import price

if TYPE_CHECKING:
    from assay.gateway.service import Caller, Gateway

TRAFFIC_HEADER = "x-assay-traffic"
EVAL_TRAFFIC = "eval"


class TargetFailed(RuntimeError):
    """The gateway refused the request or the model failed; the message says which."""


def request_for(target: Target, item: Item) -> dict[str, Any]:
    """The chat request for `item`: the target's messages with its placeholders filled."""
    values = item.values()
    messages = [{"role": m.role, "content": render(m.content, values)} for m in target.messages]
    return {**target.params, "model": target.model, "messages": messages, "stream": False}


def reply_of(status: int, content: bytes, headers: Any, elapsed_s: float) -> Reply:
    """A completion's answer, tokens and cost, or TargetFailed with the gateway's message."""
    try:
        body = json.loads(content)
    except ValueError:
        raise TargetFailed(f"the gateway answered {status} with no JSON body") from None
    if status >= 400 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        raise TargetFailed(f"{status}: {message or str(body)[:300]}")
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise TargetFailed("the completion has no choices[0].message") from None
    calls = []
    for call in message.get("tool_calls") or []:
        function = (call.get("function") or {}) if isinstance(call, dict) else {}
        calls.append({"name": function.get("name"), "arguments": function.get("arguments")})
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    model = str(headers.get("x-assay-model") or body.get("model") or "")
    usd, _ = price(model.split("/", 1)[-1] if model else None, prompt, completion)
    return Reply(content=message.get("content") or "", tool_calls=calls,
                 latency_ms=round(elapsed_s * 1000, 3), prompt_tokens=prompt,
                 completion_tokens=completion, cost_usd=float(usd), model=model)  # fmt: skip


async def release(completer: object) -> None:
    """Close what a run's completer holds (its connections belong to the run's event loop);
    completers without anything to close have no `close`."""
    close = getattr(completer, "close", None)
    if close is not None:
        await close()


class InProcessGateway:
    """This process's gateway, as the caller `caller`."""

    def __init__(self, gateway: Gateway, caller: Caller) -> None:
        self.gateway = gateway
        self.caller = caller.model_copy(update={"traffic": EVAL_TRAFFIC})

    async def complete(self, payload: dict[str, Any]) -> Reply:
        from assay.gateway.errors import GatewayError

        started = time.perf_counter()
        try:
            response = await self.gateway.forward(self.caller, "/chat/completions", payload)
        except GatewayError as exc:
            raise TargetFailed(f"{exc.status}: {exc.message}") from None
        body = bytes(response.body)
        return reply_of(response.status_code, body, response.headers, time.perf_counter() - started)

    async def close(self) -> None:
        """The upstream connections belong to the run's event loop: close them with it."""
        await self.gateway.upstream.aclose_loop()
        if self.gateway.usage is not None:
            self.gateway.usage.flush()  # every call is in the usage ledger before we exit


class HttpGateway:
    """A server's gateway (`POST {server}/v1/chat/completions`) with an API key."""

    def __init__(self, server: str, api_key: str, *, timeout_s: float = 300.0,
                 client: httpx.AsyncClient | None = None) -> None:  # fmt: skip
        self.url = server.rstrip("/") + "/v1/chat/completions"
        self.headers = {"authorization": f"Bearer {api_key}", TRAFFIC_HEADER: EVAL_TRAFFIC}
        self.client = client or httpx.AsyncClient(timeout=timeout_s, limits=httpx.Limits(
            max_connections=256, max_keepalive_connections=256))  # fmt: skip

    async def complete(self, payload: dict[str, Any]) -> Reply:
        started = time.perf_counter()
        try:
            response = await self.client.post(self.url, json=payload, headers=self.headers)
        except httpx.HTTPError as exc:
            raise TargetFailed(f"cannot reach the gateway at {self.url}: {exc}") from None
        return reply_of(response.status_code, response.content, response.headers,
                        time.perf_counter() - started)  # fmt: skip

    async def close(self) -> None:
        await self.client.aclose()
