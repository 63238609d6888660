"""Guardrail rules: regex, keywords and PII patterns, with block, redact and flag."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from assay.gateway.errors import GatewayError
from assay.gateway.guardrails import GuardrailRule, check, guard_input, guard_output

PII = GuardrailRule(
    name="pii", action="redact", applies_to="both", pii=["email", "card", "aws_access_key"]
)


def test_pii_is_redacted_and_cards_must_pass_luhn() -> None:
    text = (
        "mail bob@example.com, card 4111 1111 1111 1111, not a card 1234 5678 9012 3456, "
        "AKIAIOSFODNN7EXAMPLE"
    )
    verdict = check([PII], text, "input")
    assert verdict.text == (
        "mail [REDACTED:pii], card [REDACTED:pii], not a card 1234 5678 9012 3456, [REDACTED:pii]"
    )
    assert verdict.hits == ["input:pii:redact"]


def test_keywords_and_regex_flag_or_block() -> None:
    flag = GuardrailRule(name="secret-project", keywords=["Bluebird"], action="flag")
    block = GuardrailRule(name="ssn", regex=r"\b\d{3}-\d{2}-\d{4}\b", action="block")
    verdict = check([flag, block], "bluebird ships; SSN 123-45-6789", "input")
    assert verdict.text == "bluebird ships; SSN 123-45-6789"  # flag and block do not rewrite
    assert verdict.hits == ["input:secret-project:flag", "input:ssn:block"]
    assert verdict.blocked_by == "ssn"
    assert check([flag], "no match here", "input").hits == []


def test_requests_are_redacted_in_place_or_blocked() -> None:
    payload: dict[str, Any] = {
        "messages": [
            {"role": "user", "content": "I am bob@example.com"},
            {"role": "user", "content": [{"type": "text", "text": "and alice@example.com"}]},
        ]
    }
    assert guard_input([PII], payload) == ["input:pii:redact", "input:pii:redact"]
    assert payload["messages"][0]["content"] == "I am [REDACTED:pii]"
    assert payload["messages"][1]["content"][0]["text"] == "and [REDACTED:pii]"
    blocker = GuardrailRule(name="no-keys", pii=["aws_access_key"], action="block")
    with pytest.raises(GatewayError, match="no-keys") as blocked:
        guard_input([blocker], {"messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}]})
    assert blocked.value.status == 400


def test_answers_are_checked_by_output_rules_only() -> None:
    input_only = GuardrailRule(name="in", keywords=["secret"], action="block")
    answer = {"choices": [{"message": {"role": "assistant", "content": "the secret is bob@x.io"}}]}
    assert guard_output([input_only, PII], answer) == ["output:pii:redact"]
    assert answer["choices"][0]["message"]["content"] == "the secret is [REDACTED:pii]"


def test_rules_are_validated() -> None:
    assert check([GuardrailRule(name="empty", action="block")], "anything", "input").hits == []
    with pytest.raises(ValidationError, match="regular expression"):
        GuardrailRule(name="bad", regex="(")
