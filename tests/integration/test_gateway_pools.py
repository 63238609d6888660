"""Capacity pools over real HTTP: two resources share the `primary` connection's tokens per
minute. An interactive pool's guarantee is lent to batch traffic while interactive idles and
held back once it is in use; batch spills to its fallback when its share is gone; a request
with nowhere to go waits briefly, then gets 429 with Retry-After."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateway_server import Served

CAPACITY = 100  # tokens a minute; each answer uses 18, each request first reserves 23


def _setup(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.admin}"}
    connections = httpx.get(f"{served.base}/v1/gateway/connections", headers=auth).json()
    primary = next(c["id"] for c in connections["items"] if c["name"] == "primary")
    chat = {"targets": [{"connection_id": primary, "model": "gpt-chat"}]}
    put = httpx.put(f"{served.base}/v1/gateway/resources/chat", headers=auth, json=chat)
    assert put.status_code == 200, put.text
    patched = httpx.patch(
        f"{served.base}/v1/gateway/connections/{primary}",
        headers=auth,
        json={"tokens_per_minute": CAPACITY, "pools": [
            {"name": "interactive", "resources": ["chat"], "rank": 0, "min_share": 0.5},
            {"name": "batch", "resources": ["fast"], "rank": 1},
        ]},
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert patched.json()["pools"][0]["min_share"] == 0.5
    assert patched.json()["has_credentials"] is True  # untouched by the patch


def _served_by(served: Served, model: str) -> str:
    raw = served.sdk().chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=5
    )
    return str(raw.headers["x-assay-model"])


def _batch_on_primary(served: Served) -> int:
    """Batch requests served by primary before the first spills over to backup."""
    for count in range(20):
        if _served_by(served, "fast") != "primary/gpt-a":
            return count
    raise AssertionError("batch never spilled over")


def test_an_idle_pools_guarantee_is_lent(served: Served) -> None:
    _setup(served)
    assert _batch_on_primary(served) == 5  # 5 x 18 used: a sixth reservation would not fit


def test_an_active_pools_guarantee_is_held_back(served: Served) -> None:
    _setup(served)
    assert _served_by(served, "chat") == "primary/gpt-chat"  # interactive is now in use
    assert _batch_on_primary(served) == 2  # 3 x 18 used + 23 > 100 - (50 - 18) held back
    assert _served_by(served, "chat") == "primary/gpt-chat"  # its guarantee is there


def test_with_nowhere_to_go_a_request_waits_briefly_then_gets_429(served: Served) -> None:
    _setup(served)
    gateway: Any = served.app.state.gateway
    gateway.quotas.max_wait_s = 0.4
    assert _served_by(served, "chat") == "primary/gpt-chat"
    assert _batch_on_primary(served) == 2  # batch takes what interactive does not hold
    for _ in range(2):
        assert _served_by(served, "chat") == "primary/gpt-chat"  # 4 x 18 + 23 fits: the last
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as refused:
        _served_by(served, "chat")  # interactive's only target is full
    assert time.monotonic() - started >= 0.4
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert refused.value.code == "rate_limit_exceeded"
