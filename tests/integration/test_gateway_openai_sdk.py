"""The official `openai` SDK, unchanged, against the gateway over real HTTP, in front of scripted
upstreams on loopback: chat, streaming, tools, embeddings, models, errors and failover."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from assay import tenancy
from assay.records import Scope
from tests.support.gateway_server import SECRET, Served


def test_chat_passes_through_with_the_resources_model_and_credentials(served: Served) -> None:
    raw = served.sdk().chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hello"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "primary heard: hello"
    assert completion.usage is not None and completion.usage.total_tokens == 18
    assert float(raw.headers["x-assay-overhead-ms"]) >= 0
    assert raw.headers["x-assay-model"] == "primary/gpt-a"
    assert served.primary.requests[-1]["model"] == "gpt-a"
    assert served.primary.authorizations[-1] == f"Bearer {SECRET}"


def test_streaming_forwards_chunks_and_the_usage_chunk(served: Served) -> None:
    stream = served.sdk().chat.completions.create(
        model="fast",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "primary heard: one two three"
    assert usage is not None and usage.prompt_tokens == 11


def test_chunks_arrive_as_the_upstream_sends_them(served: Served) -> None:
    served.primary.chunk_delay_s = 0.3
    started = time.monotonic()
    stream = served.sdk().chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "a b c d"}], stream=True
    )
    arrivals = [time.monotonic() - started for _ in stream]
    # Not buffered: the first chunk comes long before the last (0.3 s apart upstream).
    assert arrivals[0] < 0.6
    assert arrivals[-1] - arrivals[0] > 0.9


def test_tools_embeddings_and_models(served: Served) -> None:
    sdk = served.sdk()
    tools: list[Any] = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    called = sdk.chat.completions.create(
        model="fast", tools=tools, messages=[{"role": "user", "content": "weather?"}]
    )
    (call,) = called.choices[0].message.tool_calls or []
    assert call.function.name == "weather"  # type: ignore[union-attr]
    assert served.primary.requests[-1]["tools"] == tools
    vectors = sdk.embeddings.create(model="fast", input=["ab", "abcd"])
    assert [d.embedding for d in vectors.data] == [[2.0, 0.5], [4.0, 0.5]]
    assert [m.id for m in sdk.models.list()] == ["fast"]


def test_errors_come_in_openais_shape(served: Served) -> None:
    messages: list[Any] = [{"role": "user", "content": "x"}]
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        served.sdk().chat.completions.create(model="nope", messages=messages)
    with pytest.raises(openai.AuthenticationError):
        served.sdk("assay_not_a_real_key").chat.completions.create(model="fast", messages=messages)
    with pytest.raises(openai.PermissionDeniedError, match="gateway:invoke"):
        served.sdk(_reader(served)).models.list()
    served.primary.fail_next = [400]  # the caller's fault: passed through, no failover
    with pytest.raises(openai.BadRequestError, match="primary says 400"):
        served.sdk().chat.completions.create(model="fast", messages=messages)
    assert served.backup.requests == []


def _reader(served: Served) -> str:
    acme = tenancy.resolve_tenant(served.ports.records, "acme")
    return tenancy.issue_key(served.ports.records, acme, "r", [Scope.ANALYSES_READ]).key


def test_failing_primary_is_retried_then_the_fallback_answers(served: Served) -> None:
    served.primary.fail_next = [503, 500, 429]
    raw = served.sdk().chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == "backup heard: hi"
    assert raw.headers["x-assay-model"] == "backup/gpt-b"
    assert raw.headers["x-assay-attempts"] == "4"
    assert len(served.primary.requests) == 3


def test_when_every_target_fails_the_caller_gets_a_clear_error(served: Served) -> None:
    served.primary.fail_next = [500] * 3
    served.backup.fail_next = [500] * 3
    with pytest.raises(openai.APIStatusError) as failed:
        served.sdk().chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "hi"}]
        )
    assert failed.value.status_code == 502
    assert SECRET not in str(failed.value.body)


def test_an_upstream_dying_mid_stream_ends_with_an_error_frame(served: Served) -> None:
    served.primary.break_stream_after = 2
    stream = served.sdk().chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "a b c d e"}], stream=True
    )
    seen: list[Any] = []
    with pytest.raises(openai.APIError, match="mid-stream"):
        seen.extend(stream)
    assert len(seen) == 2


def test_credentials_are_write_only(served: Served) -> None:
    listed = httpx.get(
        f"{served.base}/v1/gateway/connections", headers={"Authorization": f"Bearer {served.admin}"}
    )
    assert listed.status_code == 200
    assert SECRET not in listed.text
    assert all(c["has_credentials"] for c in listed.json()["items"])


def test_every_request_is_accounted_off_the_request_path(served: Served) -> None:
    sdk = served.sdk()
    sdk.chat.completions.create(model="fast", messages=[{"role": "user", "content": "a"}])
    for _ in sdk.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "b c"}], stream=True,
        stream_options={"include_usage": True},
    ):  # fmt: skip
        pass
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    served.app.state.gateway.usage.flush()
    auth = {"Authorization": f"Bearer {served.admin}"}
    trail = httpx.get(f"{served.base}/v1/gateway/requests", headers=auth)
    assert trail.status_code == 200, trail.text
    entries = trail.json()["items"]
    assert [e["status"] for e in entries] == ["error:404", "ok", "ok"]  # newest first
    streamed, plain = entries[1], entries[2]
    assert (plain["resource"], plain["model"], plain["path"]) == ("fast", "primary/gpt-a",
                                                                  ["primary/gpt-a"])  # fmt: skip
    assert (plain["prompt_tokens"], plain["completion_tokens"]) == (11, 7)
    assert streamed["completion_tokens"] == 4 and streamed["first_token_ms"] is not None
    assert plain["api_key_id"] == entries[0]["api_key_id"]
    usage = httpx.get(f"{served.base}/v1/gateway/usage", headers=auth,
                      params={"group_by": "resource", "bucket": "day"}).json()  # fmt: skip
    totals = {b["group"]: b for b in usage["buckets"]}
    assert totals["fast"]["requests"] == 2 and totals["nope"]["errors"] == 1
    assert totals["fast"]["prompt_tokens"] == 22
    assert totals["fast"]["cached"] == 0
    fast_latencies = sorted(e["latency_ms"] for e in entries if e["resource"] == "fast")
    assert totals["fast"]["latency_ms_p50"] == fast_latencies[0]  # nearest rank of two
    assert totals["fast"]["latency_ms_p99"] == fast_latencies[-1]
    assert SECRET not in trail.text and SECRET not in str(usage)


def test_keepalives_while_the_first_chunk_is_due_then_a_timeout_frame(served: Served) -> None:
    limits = served.app.state.gateway.limits
    limits.keepalive_s, limits.first_chunk_timeout_s = 0.2, 5.0
    served.primary.first_chunk_delay_s = 1.0
    body = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "x y"}]}
    with httpx.stream(
        "POST",
        f"{served.base}/v1/chat/completions",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {served.key}"},
    ) as raw:
        lines = [line for line in raw.iter_lines() if line]
    comments = [line for line in lines if line.startswith(":")]
    data = [line for line in lines if line.startswith("data:")]
    assert len(comments) >= 3 and lines.index(comments[0]) < lines.index(data[0])
    assert data[-1] == "data: [DONE]"
    # The SDK ignores the comments.
    text = "".join(
        c.choices[0].delta.content or ""
        for c in served.sdk().chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "x y"}], stream=True
        )
        if c.choices
    )
    assert text == "primary heard: x y"
    limits.first_chunk_timeout_s = 0.5
    served.primary.first_chunk_delay_s = 2.0
    with pytest.raises(openai.APIError, match="no first chunk in time"):
        list(
            served.sdk().chat.completions.create(
                model="fast", messages=[{"role": "user", "content": "slow"}], stream=True
            )
        )
