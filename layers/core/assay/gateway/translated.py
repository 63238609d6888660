"""Providers that do not speak OpenAI's protocol (Anthropic, Bedrock, Azure OpenAI, Vertex AI,
Ollama's native API, ...) through LiteLLM, which translates requests, answers, stream chunks
and errors. LiteLLM is imported on the first such call: a gateway that only passes requests
through never pays its two seconds of import and hundred MB.

The answer looks like a pass-through one (`UpstreamReply`): OpenAI's JSON, or OpenAI's SSE
chunks ending in `data: [DONE]`; provider errors become their HTTP status with an
OpenAI-shaped body, so retries, fallbacks and the circuit breaker treat both paths alike.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any

from assay.config import prepare_litellm
from assay.gateway.catalog import Target
from assay.gateway.errors import body as error_body
from assay.gateway.upstream import UpstreamUnavailable

# Providers whose API is OpenAI's own: requests to them are passed through unchanged. Any
# OpenAI-compatible server (vLLM, LM Studio, Ollama's /v1, ...) is `openai` with a base URL.
PASS_THROUGH = frozenset({"openai", "openai_compatible", "custom_openai", "hosted_vllm"})
SECRET_NAMES = frozenset({"api_key", "aws_access_key_id", "aws_secret_access_key",
                          "aws_session_token", "vertex_credentials"})  # fmt: skip
TIMEOUT_S = 120.0
_IMPORT_LOCK = threading.Lock()


def passes_through(target: Target) -> bool:
    return target.connection.provider in PASS_THROUGH


def _litellm() -> Any:
    with _IMPORT_LOCK:
        prepare_litellm()
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        return litellm


def _secrets(credentials: str | None) -> dict[str, str]:
    """A key, or a JSON object of LiteLLM's names for several secrets."""
    if not credentials:
        return {}
    if credentials.lstrip().startswith("{"):
        try:
            parsed = json.loads(credentials)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return {k: str(v) for k, v in parsed.items() if k in SECRET_NAMES and v}
    return {"api_key": credentials}


class TranslatedReply:
    """A LiteLLM answer, shaped as the bytes an OpenAI upstream would have sent."""

    def __init__(
        self, status_code: int, content: bytes = b"", stream: AsyncIterator[Any] | None = None
    ) -> None:
        self.status_code = status_code
        self._content = content
        self._stream = stream
        kind = "text/event-stream" if stream is not None else "application/json"
        self.headers: Mapping[str, str] = {"content-type": kind}

    async def read(self) -> bytes:
        return self._content

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            yield self._content
            return
        try:
            async for chunk in self._stream:
                yield b"data: " + json.dumps(chunk.model_dump(exclude_none=True)).encode() + b"\n\n"
        except Exception as exc:  # LiteLLM raises provider-specific types mid-stream
            raise UpstreamUnavailable(type(exc).__name__, timeout=False) from exc
        yield b"data: [DONE]\n\n"

    async def close(self) -> None:
        closing = getattr(self._stream, "aclose", None)
        if closing is not None:
            with contextlib.suppress(Exception):  # a finished or broken stream
                await closing()


def _failure(exc: Exception) -> TranslatedReply:
    """A provider error as the status an OpenAI upstream would have answered."""
    status = getattr(exc, "status_code", None)
    kind = type(exc).__name__
    if not isinstance(status, int) or status < 400:
        timeout = "Timeout" in kind
        raise UpstreamUnavailable(kind, timeout=timeout) from exc
    message = str(getattr(exc, "message", "") or kind)
    return TranslatedReply(status, json.dumps(error_body(status, message, kind)).encode())


async def send(
    target: Target, path: str, payload: dict[str, Any], credentials: str | None, *, stream: bool
) -> TranslatedReply:
    litellm = _litellm()
    connection = target.connection
    params: dict[str, Any] = {
        **{k: v for k, v in payload.items() if k not in ("model", "stream")},
        **connection.options.model_dump(exclude_none=True),
        **_secrets(credentials),
        "model": f"{connection.provider}/{target.model}",
        "api_base": connection.base_url,
        "num_retries": 0,  # the gateway retries and falls back itself
        "timeout": TIMEOUT_S,
        "drop_params": True,  # OpenAI parameters a provider lacks are dropped, not fatal
    }
    try:
        if path == "/embeddings":
            answer = await litellm.aembedding(**params)
        else:
            # Tools are the caller's to run; LiteLLM's MCP bridge (which needs the `mcp`
            # package, and which it enters whenever tools are present) must stay out of it.
            answer = await litellm.acompletion(**params, stream=stream, _skip_mcp_handler=True)
    except Exception as exc:  # LiteLLM maps provider errors onto OpenAI's exception types
        return _failure(exc)
    if stream:
        return TranslatedReply(200, stream=answer)
    return TranslatedReply(200, json.dumps(answer.model_dump(exclude_none=True)).encode())
