"""Gateway capacity: limits answered as OpenAI does (429 + Retry-After), connections at capacity
and failing models skipped for the next target, and 8 processes sharing one real Redis that
together never exceed a limit."""

from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from typing import Any

import openai
import pytest

from assay.gateway.errors import GatewayError
from assay.gateway.quotas import Admission, Breaker, Quotas, budgets
from assay.limits.redis import RedisLimiter
from assay.records import GatewayConnection, GatewayResource
from tests.support.gateway_server import Served

HELLO: list[Any] = [{"role": "user", "content": "hello"}]


def _limit(served: Served, **fields: int) -> None:
    records = served.ports.records
    resource = records.list(GatewayResource, _tenant(served)).items[0]
    records.update(resource.evolve(**fields))
    _forget(served)


def _tenant(served: Served) -> str:
    from assay import tenancy

    return tenancy.resolve_tenant(served.ports.records, "acme").id


def _forget(served: Served) -> None:
    import httpx

    # Any admin change clears the catalog cache; a no-op PUT of the resource does.
    auth = {"Authorization": f"Bearer {served.admin}"}
    current = httpx.get(f"{served.base}/v1/gateway/resources", headers=auth).json()["items"][0]
    body = {k: current[k] for k in ("targets", "requests_per_minute", "tokens_per_minute",
                                    "cache_ttl_s")}  # fmt: skip
    assert httpx.put(f"{served.base}/v1/gateway/resources/fast", headers=auth,
                     json=body).status_code == 200  # fmt: skip


def test_a_resource_over_its_request_limit_answers_429_with_retry_after(served: Served) -> None:
    _limit(served, requests_per_minute=2)
    sdk = served.sdk()
    for _ in range(2):
        sdk.chat.completions.create(model="fast", messages=HELLO)
    with pytest.raises(openai.RateLimitError, match="resource requests per minute") as limited:
        sdk.chat.completions.create(model="fast", messages=HELLO)
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert limited.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert len(served.primary.requests) == 2


def test_a_connection_at_capacity_hands_over_to_the_next_target(served: Served) -> None:
    records = served.ports.records
    primary = next(c for c in records.list(GatewayConnection, _tenant(served)).items
                   if c.name == "primary")  # fmt: skip
    records.update(primary.evolve(requests_per_minute=1))
    _forget(served)
    sdk = served.sdk()
    first = sdk.chat.completions.with_raw_response.create(model="fast", messages=HELLO)
    second = sdk.chat.completions.with_raw_response.create(model="fast", messages=HELLO)
    assert first.headers["x-assay-model"] == "primary/gpt-a"
    assert second.headers["x-assay-model"] == "backup/gpt-b"


def test_a_failing_model_trips_its_circuit_for_every_instance(served: Served) -> None:
    served.primary.fail_next = [500] * Breaker.THRESHOLD
    sdk = served.sdk()
    answered = sdk.chat.completions.with_raw_response.create(model="fast", messages=HELLO)
    assert answered.headers["x-assay-model"] == "backup/gpt-b"  # 3 failures, then the backup
    served.primary.fail_next = [500] * 2
    sdk.chat.completions.create(model="fast", messages=HELLO)  # 5 failures: the circuit opens
    before = len(served.primary.requests)
    skipped = sdk.chat.completions.with_raw_response.create(model="fast", messages=HELLO)
    assert skipped.headers["x-assay-model"] == "backup/gpt-b"
    assert skipped.headers["x-assay-attempts"] == "1"
    assert len(served.primary.requests) == before  # not even tried


def _hammer(url: str, prefix: str, attempts: int, out: Any) -> None:
    quotas = Quotas(RedisLimiter(url, prefix=prefix), max_wait_s=0)
    found = budgets("key:k1", rpm=100, tpm=3_000)
    admitted = tokens = 0

    async def run() -> None:
        nonlocal admitted, tokens
        for _ in range(attempts):
            try:
                await quotas.admit(found, 40, Admission(), wait=False)
            except GatewayError:
                continue
            admitted += 1
            tokens += 40

    asyncio.run(run())
    out.put((admitted, tokens))


def test_eight_processes_on_one_redis_never_exceed_a_limit(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    workers = [context.Process(target=_hammer, args=(redis_url, prefix, 40, out))
               for _ in range(8)]  # fmt: skip
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    admitted = sum(a for a, _ in results)
    tokens = sum(t for _, t in results)
    # 320 attempts against 100 requests and 3000 tokens (75 requests of 40) a minute.
    assert tokens <= 3_000
    assert admitted <= 100
    assert admitted == 3_000 // 40  # the tighter limit, filled exactly
