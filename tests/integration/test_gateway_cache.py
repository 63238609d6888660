"""The exact-match response cache: opt-in per resource, per tenant, hits marked in a header and
in usage; the Redis adapter shares hits between instances and treats an outage as a miss."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assay.gateway.cache import MemoryCache, RedisCache, cache_key
from tests.support.gateway_server import Served

HELLO: list[Any] = [{"role": "user", "content": "hello"}]


def _cache(served: Served, ttl: int) -> None:
    auth = {"Authorization": f"Bearer {served.admin}"}
    current = httpx.get(f"{served.base}/v1/gateway/resources", headers=auth).json()["items"][0]
    assert (
        httpx.put(
            f"{served.base}/v1/gateway/resources/fast",
            headers=auth,
            json={"targets": current["targets"], "cache_ttl_s": ttl},
        ).status_code
        == 200
    )


def test_a_resource_that_opts_in_answers_repeats_from_the_cache(served: Served) -> None:
    sdk = served.sdk()
    sdk.chat.completions.create(model="fast", messages=HELLO)
    sdk.chat.completions.create(model="fast", messages=HELLO)
    assert len(served.primary.requests) == 2  # off by default
    _cache(served, 60)
    first = sdk.chat.completions.with_raw_response.create(model="fast", messages=HELLO, user="a")
    second = sdk.chat.completions.with_raw_response.create(model="fast", messages=HELLO, user="b")
    other = sdk.chat.completions.with_raw_response.create(
        model="fast", messages=HELLO, temperature=0.5
    )
    assert (first.headers["x-assay-cache"], second.headers["x-assay-cache"]) == ("miss", "hit")
    assert other.headers["x-assay-cache"] == "miss"  # another request, another answer
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert len(served.primary.requests) == 4
    served.app.state.gateway.usage.flush()
    trail = httpx.get(
        f"{served.base}/v1/gateway/requests", headers={"Authorization": f"Bearer {served.admin}"}
    ).json()["items"]
    assert [e["cached"] for e in trail[:3]] == [False, True, False]
    usage = httpx.get(f"{served.base}/v1/gateway/usage", params={"bucket": "day"},
                      headers={"Authorization": f"Bearer {served.admin}"}).json()  # fmt: skip
    (fast,) = [b for b in usage["buckets"] if b["group"] == "fast"]
    assert (fast["requests"], fast["cached"]) == (5, 1)


def test_streams_are_never_cached(served: Served) -> None:
    _cache(served, 60)
    for _ in range(2):
        list(served.sdk().chat.completions.create(model="fast", messages=HELLO, stream=True))
    assert len(served.primary.requests) == 2


def test_keys_separate_tenants_and_ignore_what_does_not_change_the_answer() -> None:
    base = {"model": "fast", "messages": HELLO}
    assert cache_key("t1", "fast", base) == cache_key("t1", "fast", {**base, "user": "x"})
    assert cache_key("t1", "fast", base) != cache_key("t2", "fast", base)
    assert cache_key("t1", "fast", base) != cache_key("t1", "fast", {**base, "seed": 1})


def test_memory_cache_expires_and_stays_bounded() -> None:
    cache = MemoryCache(max_entries=2)
    cache.put("a", b"1", ttl_s=60)
    cache.put("b", b"2", ttl_s=60)
    cache.put("c", b"3", ttl_s=60)
    assert (cache.get("a"), cache.get("c")) == (None, b"3")
    cache.put("gone", b"x", ttl_s=0)
    assert cache.get("gone") is None


def test_redis_cache_is_shared_and_an_outage_is_a_miss(redis_url: str) -> None:
    one, two = RedisCache(redis_url, prefix="t-cache"), RedisCache(redis_url, prefix="t-cache")
    one.put("k", b"answer", ttl_s=60)
    assert two.get("k") == b"answer"
    down = RedisCache("redis://127.0.0.1:1/0", timeout_s=0.2)
    assert down.get("k") is None
    down.put("k", b"x", ttl_s=5)  # no error


def test_guardrails_redact_what_reaches_the_model_and_block_what_must_not(
    served: Served,
) -> None:
    import openai

    auth = {"Authorization": f"Bearer {served.admin}"}
    current = httpx.get(f"{served.base}/v1/gateway/resources", headers=auth).json()["items"][0]
    rules = [{"name": "pii", "action": "redact", "pii": ["email"]},
             {"name": "no-keys", "action": "block", "pii": ["aws_access_key"]}]  # fmt: skip
    made = httpx.put(f"{served.base}/v1/gateway/resources/fast", headers=auth,
                     json={"targets": current["targets"], "guardrails": rules})  # fmt: skip
    assert made.status_code == 200, made.text
    sdk = served.sdk()
    answer = sdk.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "write to bob@example.com"}]
    )
    assert served.primary.requests[-1]["messages"][0]["content"] == "write to [REDACTED:pii]"
    assert "bob@example.com" not in (answer.choices[0].message.content or "")
    sent = len(served.primary.requests)
    secret: Any = [{"role": "user", "content": "key AKIAIOSFODNN7EXAMPLE"}]
    with pytest.raises(openai.BadRequestError, match="no-keys") as blocked:
        sdk.chat.completions.create(model="fast", messages=secret)
    assert blocked.value.code == "guardrail_blocked"
    assert len(served.primary.requests) == sent  # never sent upstream
    served.app.state.gateway.usage.flush()
    trail = httpx.get(f"{served.base}/v1/gateway/requests", headers=auth).json()["items"]
    assert trail[0]["guardrails"] == ["input:no-keys:block"]
    assert trail[1]["guardrails"] == ["input:pii:redact"]


def test_routing_rules_send_to_other_targets_or_block(served: Served) -> None:
    import openai

    auth = {"Authorization": f"Bearer {served.admin}"}
    current = httpx.get(f"{served.base}/v1/gateway/resources", headers=auth).json()["items"][0]
    backup = current["targets"][1]
    rules = [
        {"name": "no-sql", "action": "block", "when": {"text_contains": "drop table"}},
        {"name": "big", "when": {"text_regex": "(?i)summari[sz]e"}, "targets": [backup]},
    ]
    made = httpx.put(
        f"{served.base}/v1/gateway/resources/fast",
        headers=auth,
        json={"targets": current["targets"], "rules": rules},
    )
    assert made.status_code == 200, made.text
    sdk = served.sdk()
    routed = sdk.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "Summarize this"}]
    )
    assert routed.headers["x-assay-model"] == "backup/gpt-b"
    plain = sdk.chat.completions.with_raw_response.create(model="fast", messages=HELLO)
    assert plain.headers["x-assay-model"] == "primary/gpt-a"
    with pytest.raises(openai.PermissionDeniedError, match="not allowed"):
        sdk.chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "DROP TABLE users"}]
        )
