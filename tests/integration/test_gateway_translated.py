"""Providers that do not speak OpenAI's protocol go through LiteLLM: the official `openai` SDK
talks to the gateway, the gateway to a scripted Anthropic Messages API on loopback. Answers,
streams, tool calls and errors come back in OpenAI's shapes, and failover works across the
translated and the pass-through paths."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from assay.records import UsageEntry
from tests.support.fake_anthropic import WORDS, FakeAnthropic
from tests.support.gateway_server import Served

ANTHROPIC_KEY = "sk-ant-DO-NOT-LEAK-5678"


@pytest.fixture
def claude(served: Served) -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    auth = {"Authorization": f"Bearer {served.admin}"}
    made = httpx.post(
        f"{served.base}/v1/gateway/connections",
        headers=auth,
        json={"name": "claude", "provider": "anthropic", "base_url": fake.base_url,
              "api_key": ANTHROPIC_KEY},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    primary = httpx.get(f"{served.base}/v1/gateway/connections", headers=auth).json()["items"]
    primary_id = next(c["id"] for c in primary if c["name"] == "primary")
    for name, targets in (
        ("sonnet", [{"connection_id": made.json()["id"], "model": "claude-x"}]),
        ("sonnet-or-gpt", [{"connection_id": made.json()["id"], "model": "claude-x"},
                           {"connection_id": primary_id, "model": "gpt-a"}]),
    ):  # fmt: skip
        put = httpx.put(f"{served.base}/v1/gateway/resources/{name}", headers=auth,
                        json={"targets": targets})  # fmt: skip
        assert put.status_code == 200, put.text
    try:
        yield fake
    finally:
        fake.close()


def test_chat_is_translated_both_ways(served: Served, claude: FakeAnthropic) -> None:
    raw = served.sdk().chat.completions.with_raw_response.create(
        model="sonnet",
        messages=[{"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Say hello."}],
        max_tokens=64,
    )  # fmt: skip
    completion = raw.parse()
    assert completion.choices[0].message.content == "".join(WORDS)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 7)
    assert raw.headers["x-assay-model"] == "claude/claude-x"
    # What reached the provider is Anthropic's shape, with its own header for the key.
    assert claude.paths == ["/v1/messages"]
    assert claude.api_keys == [ANTHROPIC_KEY]
    sent = claude.requests[0]
    assert sent["model"] == "claude-x" and sent["max_tokens"] == 64
    assert "Be brief." in json.dumps(sent["system"])
    assert [m["role"] for m in sent["messages"]] == ["user"]


def test_streams_are_translated_chunk_by_chunk(served: Served, claude: FakeAnthropic) -> None:
    stream = served.sdk().chat.completions.create(
        model="sonnet",
        messages=[{"role": "user", "content": "Stream."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    assert pieces == WORDS
    assert usage is not None and usage.completion_tokens == len(WORDS)
    assert claude.requests[0]["stream"] is True


def test_tool_calls_are_translated(served: Served, claude: FakeAnthropic) -> None:
    tool = {"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    }}  # fmt: skip
    completion = served.sdk().chat.completions.create(
        model="sonnet", messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[tool],  # type: ignore[list-item]
    )  # fmt: skip
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert claude.requests[0]["tools"][0]["name"] == "get_weather"


def test_provider_errors_keep_their_status_and_fail_over(
    served: Served, claude: FakeAnthropic
) -> None:
    claude.fail_next = [400]
    with pytest.raises(openai.BadRequestError) as refused:
        served.sdk().chat.completions.create(
            model="sonnet", messages=[{"role": "user", "content": "x"}]
        )
    assert len(claude.requests) == 1  # a 400 is the caller's to fix: no retry
    assert ANTHROPIC_KEY not in str(refused.value.body)

    claude.fail_next = [429, 429, 429]  # every retry of the primary is rate limited
    raw = served.sdk().chat.completions.with_raw_response.create(
        model="sonnet-or-gpt", messages=[{"role": "user", "content": "hello"}]
    )
    assert raw.headers["x-assay-model"] == "primary/gpt-a"
    assert raw.parse().choices[0].message.content == "primary heard: hello"
    assert len(claude.requests) == 4

    served.app.state.gateway.usage.flush()
    entries = served.ports.records.list(UsageEntry, _tenant(served), limit=50).items
    fell_over = next(e for e in entries if e.resource == "sonnet-or-gpt")
    assert fell_over.path == ["claude/claude-x"] * 3 + ["primary/gpt-a"]
    assert fell_over.model == "primary/gpt-a"
    assert all(ANTHROPIC_KEY not in e.model_dump_json() for e in entries)


def _tenant(served: Served) -> str:
    from assay.api.identity import Authenticator

    async def who() -> str:
        principal = await Authenticator(served.ports).authenticate(f"Bearer {served.key}")
        return principal.tenant_id

    import asyncio

    return asyncio.run(who())
