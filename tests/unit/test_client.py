"""The SDK: retries that honour Retry-After, typed errors, SSE parsing, async parity."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from assay import tenancy
from assay.api import create_app
from assay.client import (
    AssayClient,
    AsyncAssayClient,
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
)
from assay.client.sse import parse
from assay.config import load_settings
from assay.records import Scope
from assay.wiring import build_ports

ANALYSIS = {
    "id": "a1", "status": "queued", "source": "https://x/y.git", "ref": None, "engine": "auto",
    "model": None, "budget_s": 600, "reason": None, "workspace_id": "default",
    "created_at": "2026-11-22T00:00:00Z", "updated_at": "2026-11-22T00:00:00Z",
}  # fmt: skip


def scripted(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    queue, seen = list(responses), []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return httpx.MockTransport(handle), seen


def test_retries_honour_retry_after_then_succeed() -> None:
    transport, seen = scripted(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"status": 429}),
        httpx.Response(503, json={"status": 503}),
        httpx.Response(200, json=ANALYSIS),
    )
    slept: list[float] = []
    client = AssayClient("http://api", "k", transport=transport, sleep=slept.append)
    assert client.get("a1").id == "a1"
    assert slept[0] == 7
    assert 0 < slept[1] <= 1.0  # backoff with jitter when no Retry-After
    assert len(seen) == 3


def test_submissions_carry_one_idempotency_key_across_retries() -> None:
    transport, seen = scripted(httpx.Response(502), httpx.Response(202, json=ANALYSIS))
    client = AssayClient("http://api", "k", transport=transport, sleep=lambda _: None)
    client.submit("https://x/y.git", engine="offline")
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(keys) == 1


def test_errors_are_typed_and_retries_run_out() -> None:
    transport, _ = scripted(*[httpx.Response(429, json={"detail": "slow down"})] * 3)
    client = AssayClient("http://api", "k", transport=transport, retries=2, sleep=lambda _: None)
    with pytest.raises(RateLimitedError, match="slow down"):
        client.get("a1")
    transport, _ = scripted(httpx.Response(401, json={"detail": "bad key"}))
    with pytest.raises(AuthenticationError):
        AssayClient("http://api", "k", transport=transport).get("a1")
    transport, _ = scripted(httpx.Response(404, json={"detail": "no analysis"}))
    with pytest.raises(NotFoundError):
        AssayClient("http://api", "k", transport=transport).get("a1")


def test_sse_parsing_skips_comments_and_reads_ids() -> None:
    lines = ["retry: 2000", "", ": keep-alive", "", "id: 3", "event: intake",
             'data: {"files": 2}', "", "event: end", "data: {}", ""]  # fmt: skip
    events = list(parse(lines))
    assert [(e.id, e.type, e.data) for e in events] == [
        (3, "intake", {"files": 2}), (None, "end", {})]  # fmt: skip


def test_the_async_client_talks_to_the_real_app(tmp_path: Path) -> None:
    ports = build_ports(load_settings(home=tmp_path))
    tenant = tenancy.create_tenant(ports.records, "Acme")
    key = tenancy.issue_key(ports.records, tenant, "sdk", [Scope.ANALYSES_WRITE,
                                                          Scope.ANALYSES_READ]).key  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(ports))

    async def scenario() -> None:
        async with AsyncAssayClient("http://api", key, transport=transport) as client:
            made = await client.submit("https://example.invalid/repo.git", engine="offline")
            assert (await client.get(made.id)).status == "queued"
            assert [a.id for a in await client.list()] == [made.id]
            with pytest.raises(NotFoundError):
                await client.get("nope")

    asyncio.run(scenario())
    ports.close()
