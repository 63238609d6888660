"""Sending a request to an OpenAI-compatible upstream, unchanged but for the model name.

aiohttp, one pooled session per event loop, keeps connections warm and costs a fraction of
httpx's per-request CPU, which on the gateway's path is overhead every call pays. Providers
that do not speak OpenAI's protocol go through LiteLLM instead, imported only when needed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import aiohttp

from assay.gateway.catalog import Target

TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=120.0)
DEFAULT_BASE = "https://api.openai.com/v1"


class UpstreamUnavailable(Exception):
    """The upstream could not be reached or did not answer in time."""

    def __init__(self, reason: str, *, timeout: bool) -> None:
        super().__init__(reason)
        self.timeout = timeout


class UpstreamReply(Protocol):
    """An upstream's answer: passed through (`UpstreamResponse`) or translated by LiteLLM."""

    status_code: int
    headers: Mapping[str, str]

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class UpstreamResponse:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status_code = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamUnavailable(type(exc).__name__, timeout=False) from exc
        finally:
            self._response.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        """Bytes as they arrive; an upstream dying mid-way raises UpstreamUnavailable."""
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamUnavailable(type(exc).__name__, timeout=False) from exc

    async def close(self) -> None:
        self._response.release()


class Upstream:
    def __init__(self) -> None:
        self._sessions: dict[int, aiohttp.ClientSession] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = id(asyncio.get_running_loop())
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=30, ttl_dns_cache=60)
            session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT,
                                            auto_decompress=False)  # fmt: skip
            self._sessions[loop] = session
        return session

    async def send(
        self, target: Target, path: str, payload: dict[str, Any], credentials: str | None, *,
        stream: bool,
    ) -> UpstreamResponse:  # fmt: skip
        body = json.dumps({**payload, "model": target.model}).encode()
        base = (target.connection.base_url or DEFAULT_BASE).rstrip("/")
        headers = {"Content-Type": "application/json"}
        if credentials:
            headers["Authorization"] = f"Bearer {credentials}"
        try:
            response = await self._session().post(
                base + path, data=body, headers=headers, allow_redirects=False
            )
        except TimeoutError as exc:
            raise UpstreamUnavailable("timed out", timeout=True) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(type(exc).__name__, timeout=False) from exc
        return UpstreamResponse(response)

    async def aclose(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def aclose_loop(self) -> None:
        """Close this event loop's connections only (a worker thread's run ending while
        other loops still use theirs)."""
        session = self._sessions.pop(id(asyncio.get_running_loop()), None)
        if session is not None:
            await session.close()
