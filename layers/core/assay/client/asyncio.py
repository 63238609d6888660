"""The asynchronous client: the same calls as `AssayClient`, awaitable."""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from assay.analysis.outputs import OutputFile
from assay.api.models import AnalysisIn, AnalysisOut, PageOut
from assay.client import retry
from assay.client.errors import raise_for
from assay.client.evals import AsyncEvalsMixin
from assay.client.sse import Event, aparse
from assay.evidence import Verdict


class AsyncAssayClient(AsyncEvalsMixin):
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "assay-sdk"},
            timeout=timeout_s,
            transport=transport,
        )
        self._retries = retries
        self._backoff = backoff_s

    async def __aenter__(self) -> AsyncAssayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response | None = None
        for attempt in range(self._retries + 1):
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                response = None
                if attempt == self._retries:
                    raise
            if not retry.should_retry(response) or attempt == self._retries:
                break
            await asyncio.sleep(retry.delay(response, attempt, self._backoff))
        assert response is not None
        raise_for(response)
        return response

    async def submit(
        self, source: str, *, idempotency_key: str | None = None, **options: Any
    ) -> AnalysisOut:
        body = AnalysisIn(source=source, **options)
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        response = await self._request("POST", "/v1/analyses", json=body.model_dump(),
                                       headers=headers)  # fmt: skip
        return AnalysisOut.model_validate(response.json())

    async def get(self, analysis_id: str) -> AnalysisOut:
        response = await self._request("GET", f"/v1/analyses/{analysis_id}")
        return AnalysisOut.model_validate(response.json())

    async def list(self, *, status: str | None = None, page_size: int = 50) -> list[AnalysisOut]:
        items: list[AnalysisOut] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if status:
                params["status"] = status
            if cursor:
                params["cursor"] = cursor
            response = await self._request("GET", "/v1/analyses", params=params)
            page = PageOut[AnalysisOut].model_validate(response.json())
            items += page.items
            if (cursor := page.next_cursor) is None:
                return items

    async def report(self, analysis_id: str) -> dict[str, Any]:
        response = await self._request("GET", f"/v1/analyses/{analysis_id}/report")
        report: dict[str, Any] = response.json()
        return report

    async def artifacts(self, analysis_id: str) -> builtins.list[OutputFile]:
        response = await self._request("GET", f"/v1/analyses/{analysis_id}/artifacts")
        return [OutputFile.model_validate(item) for item in response.json()]

    async def artifact(self, analysis_id: str, path: str) -> bytes:
        response = await self._request("GET", f"/v1/analyses/{analysis_id}/artifacts/{path}")
        return response.content

    async def bundle(self, analysis_id: str) -> bytes:
        """The whole output as .tar.gz bytes (`assay.analysis.outputs.unpack` extracts it)."""
        response = await self._request("GET", f"/v1/analyses/{analysis_id}/bundle")
        return response.content

    async def verify(self, analysis_id: str) -> Verdict:
        response = await self._request("POST", f"/v1/analyses/{analysis_id}/verify")
        return Verdict.model_validate(response.json())

    async def events(self, analysis_id: str, *, after: int = 0) -> AsyncIterator[Event]:
        async with self._http.stream(
            "GET", f"/v1/analyses/{analysis_id}/events", headers={"Last-Event-ID": str(after)},
            timeout=httpx.Timeout(None, connect=10),
        ) as response:  # fmt: skip
            if response.status_code >= 400:
                await response.aread()
                raise_for(response)
            async for event in aparse(response.aiter_lines()):
                yield event

    async def wait(self, analysis_id: str) -> AnalysisOut:
        async for _ in self.events(analysis_id):
            pass
        return await self.get(analysis_id)
