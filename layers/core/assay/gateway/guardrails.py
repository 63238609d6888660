"""Guardrails: rules on what goes to a model and what comes back. A rule matches by regex, a
keyword list, or common PII patterns (emails, payment card numbers that pass the Luhn check,
AWS access key ids and secret-looking keys), and then blocks the request, redacts the match,
or only flags it. Every match is recorded with the request's usage (the rule and action,
never the matched text).

Streamed answers are relayed as they arrive, unbuffered: output rules apply to complete
(non-streamed) answers only. Input rules apply to every request.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from assay.gateway.errors import GatewayError

PII: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),
    "card": re.compile(r"\b(?:\d[ -]?){13,19}\b"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    "aws_secret_key": re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),
}


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if index % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


class GuardrailRule(BaseModel):
    """Matches by `regex`, `keywords` and/or `pii` kinds (a rule with none never matches)."""

    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    applies_to: Literal["input", "output", "both"] = "input"
    action: Literal["block", "redact", "flag"] = "flag"
    regex: str | None = Field(default=None, max_length=1000, json_schema_extra={"format": "regex"})
    keywords: list[str] = Field(default_factory=list, max_length=500)
    pii: list[Literal["email", "card", "aws_access_key", "aws_secret_key"]] = Field(
        default_factory=list
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def patterns(self) -> list[tuple[re.Pattern[str], bool]]:
        """(pattern, needs a Luhn check)."""
        found = [(PII[kind], kind == "card") for kind in self.pii]
        if self.regex:
            found.append((re.compile(self.regex), False))
        if self.keywords:
            words = "|".join(re.escape(k) for k in self.keywords if k)
            found.append((re.compile(rf"(?i)\b(?:{words})\b"), False))
        return found


class Verdict(BaseModel):
    text: str
    hits: list[str] = []  # "rule:action" per rule that matched
    blocked_by: str | None = None


def check(rules: list[GuardrailRule], text: str, stage: Literal["input", "output"]) -> Verdict:
    verdict = Verdict(text=text)
    for rule in rules:
        if rule.applies_to not in {stage, "both"}:
            continue
        matched = False
        for pattern, luhn in rule.patterns():

            def replace(match: re.Match[str], name: str = rule.name, luhn: bool = luhn) -> str:
                nonlocal matched
                if luhn and not _luhn(match.group(0)):
                    return match.group(0)
                matched = True
                return f"[REDACTED:{name}]"

            redacted = pattern.sub(replace, verdict.text)
            if rule.action == "redact":
                verdict.text = redacted
        if matched:
            verdict.hits.append(f"{stage}:{rule.name}:{rule.action}")
            if rule.action == "block" and verdict.blocked_by is None:
                verdict.blocked_by = rule.name
    return verdict


def _texts(message: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(holder, key) of every text in a chat message: plain content or text parts."""
    content = message.get("content")
    if isinstance(content, str):
        return [(message, "content")]
    if isinstance(content, list):
        return [(part, "text") for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)]  # fmt: skip
    return []


def guard_input(rules: list[GuardrailRule], payload: dict[str, Any]) -> list[str]:
    """Apply input rules to a request in place (redactions); raise when one blocks."""
    hits: list[str] = []
    holders: list[tuple[dict[str, Any], str]] = []
    for message in payload.get("messages") or []:
        if isinstance(message, dict):
            holders += _texts(message)
    if isinstance(payload.get("input"), str):
        holders.append((payload, "input"))
    for holder, key in holders:
        verdict = check(rules, holder[key], "input")
        holder[key] = verdict.text
        hits += verdict.hits
        if verdict.blocked_by:
            blocked = GatewayError(f"The request was blocked by the guardrail "
                                   f"'{verdict.blocked_by}'.", status=400,
                                   code="guardrail_blocked")  # fmt: skip
            blocked.hits = hits
            raise blocked
    return hits


def guard_output(rules: list[GuardrailRule], answer: dict[str, Any]) -> list[str]:
    """Apply output rules to a complete chat answer in place; raise when one blocks."""
    hits: list[str] = []
    for choice in answer.get("choices") or []:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            continue
        for holder, key in _texts(message):
            verdict = check(rules, holder[key], "output")
            holder[key] = verdict.text
            hits += verdict.hits
            if verdict.blocked_by:
                raise GatewayError(
                    f"The answer was withheld by the guardrail '{verdict.blocked_by}'.",
                    status=422, code="guardrail_blocked",
                )  # fmt: skip
    return hits
