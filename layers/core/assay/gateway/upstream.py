"""Sending a request to an OpenAI-compatible upstream, unchanged but for the model name.

One pooled HTTP/1.1 client per event loop keeps connections warm. Providers that do not speak
OpenAI's protocol go through LiteLLM instead (`translate.py`), imported only when needed.
"""

from __future__ import annotations

import asyncio

import httpx

from assay.gateway.catalog import Target

TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=10.0)
LIMITS = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=30)


class Upstream:
    def __init__(self) -> None:
        self._clients: dict[int, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None:
            client = httpx.AsyncClient(timeout=TIMEOUT, limits=LIMITS, follow_redirects=False)
            self._clients[loop] = client
        return client

    async def send(
        self, target: Target, path: str, body: bytes, credentials: str | None, *, stream: bool
    ) -> httpx.Response:
        base = (target.connection.base_url or "https://api.openai.com/v1").rstrip("/")
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if credentials:
            headers["Authorization"] = f"Bearer {credentials}"
        request = self._client().build_request("POST", base + path, content=body, headers=headers)
        return await self._client().send(request, stream=stream)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
