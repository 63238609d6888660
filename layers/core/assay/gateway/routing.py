"""Routing rules of a resource, evaluated in order, first match wins. A rule's conditions (all
that are set must hold) look at the request: estimated input tokens, how many tools it offers,
its message text (contains, regex), its `metadata`, and the recent error rate of a model. Its
action sends the request to other targets (in fallback order), splits traffic across targets
by percentage, or blocks the request. No rule matching: the resource's own targets."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


class RouteTarget(BaseModel):
    """One upstream a resource or rule may send to; targets are tried in order (fallback)."""

    connection_id: str
    model: str = Field(min_length=1, max_length=200)
    weight: int = Field(default=1, ge=0, le=1000)


class ErrorRate(BaseModel):
    model: str = Field(description="`connection name/model`, as in x-assay-model")
    above: float = Field(ge=0, le=1)


class Condition(BaseModel):
    min_input_tokens: int | None = Field(default=None, ge=0)
    max_input_tokens: int | None = Field(default=None, ge=0)
    min_tools: int | None = Field(default=None, ge=0)
    max_tools: int | None = Field(default=None, ge=0)
    text_contains: str | None = Field(default=None, max_length=500)
    text_regex: str | None = Field(default=None, max_length=500,
                                   json_schema_extra={"format": "regex"})  # fmt: skip
    metadata: dict[str, str] = Field(default_factory=dict)
    error_rate: ErrorRate | None = None

    @field_validator("text_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class Split(BaseModel):
    target: RouteTarget
    percent: float = Field(gt=0, le=100, description="A share; shares are normalized to 100.")


class RoutingRule(BaseModel):
    """`route` sends to `targets` (in fallback order), `split` picks one of `split` by share
    (the others follow as fallbacks), `block` refuses with `message`. A route or split rule
    without targets leaves the resource's own targets in place."""

    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    when: Condition = Field(default_factory=Condition)
    action: Literal["route", "split", "block"] = "route"
    targets: list[RouteTarget] = Field(default_factory=list, max_length=16)
    split: list[Split] = Field(default_factory=list, max_length=16)
    message: str = Field(default="This request is not allowed.", max_length=500)


class Features(BaseModel):
    input_tokens: int
    tools: int
    text: str
    metadata: dict[str, Any]


def features(payload: dict[str, Any], input_tokens: int) -> Features:
    texts: list[str] = []
    for message in payload.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            ]
    if isinstance(payload.get("input"), str):
        texts.append(payload["input"])
    metadata = payload.get("metadata")
    return Features(
        input_tokens=input_tokens,
        tools=len(payload.get("tools") or []),
        text="\n".join(texts),
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def holds(when: Condition, seen: Features, error_rate: Callable[[str], float]) -> bool:
    checks = [
        when.min_input_tokens is None or seen.input_tokens >= when.min_input_tokens,
        when.max_input_tokens is None or seen.input_tokens <= when.max_input_tokens,
        when.min_tools is None or seen.tools >= when.min_tools,
        when.max_tools is None or seen.tools <= when.max_tools,
        when.text_contains is None or when.text_contains.lower() in seen.text.lower(),
        when.text_regex is None or re.search(when.text_regex, seen.text) is not None,
        all(str(seen.metadata.get(k)) == v for k, v in when.metadata.items()),
    ]
    if not all(checks):
        return False
    return when.error_rate is None or error_rate(when.error_rate.model) > when.error_rate.above


class Decision(BaseModel):
    rule: str | None = None
    targets: list[RouteTarget] | None = None  # None: the resource's own
    blocked: str | None = None


def decide(
    rules: list[RoutingRule], seen: Features, error_rate: Callable[[str], float],
    rng: random.Random | None = None,
) -> Decision:  # fmt: skip
    for rule in rules:
        if not holds(rule.when, seen, error_rate):
            continue
        if rule.action == "block":
            return Decision(rule=rule.name, blocked=rule.message)
        if rule.action == "route":
            return Decision(rule=rule.name, targets=rule.targets or None)
        if not rule.split:
            return Decision(rule=rule.name)
        roll = (rng or random).uniform(0, sum(s.percent for s in rule.split))  # not a secret
        chosen = rule.split[-1]
        for part in rule.split:
            roll -= part.percent
            if roll <= 0:
                chosen = part
                break
        rest = [s.target for s in rule.split if s is not chosen]
        return Decision(rule=rule.name, targets=[chosen.target, *rest])
    return Decision()
