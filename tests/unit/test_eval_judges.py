"""Strict parsing of judge answers: exactly one JSON object of the asked shape, nothing else."""

from __future__ import annotations

import pytest

from assay.evals.judges import Preference, Verdict, parse_strict, request_key


@pytest.mark.parametrize(
    "answer",
    [
        '{"score": 0.8, "reason": "close"}',
        '```json\n{"score": 1, "reason": "ok"}\n```',
        ' {"score": 0, "reason": ""} ',
    ],
)
def test_well_formed_answers_are_read(answer: str) -> None:
    verdict = parse_strict(answer, Verdict)
    assert 0 <= verdict.score <= 1


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("The score is 0.8.", "Invalid JSON"),
        ('Sure! {"score": 0.8, "reason": "x"}', "Invalid JSON"),
        ('{"score": "high", "reason": "x"}', "score"),
        ('{"score": true, "reason": "x"}', "score"),
        ('{"score": 1.5, "reason": "x"}', "score"),
        ('{"score": 0.5}', "reason"),
        ('{"score": 0.5, "reason": "x", "extra": 1}', "extra"),
        ('[{"score": 0.5, "reason": "x"}]', "the answer"),
    ],
)
def test_anything_else_is_malformed_with_the_reason(answer: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_strict(answer, Verdict)


def test_a_preference_names_a_or_b_or_a_tie() -> None:
    assert parse_strict('{"winner": "tie", "reason": "same"}', Preference).winner == "tie"
    with pytest.raises(ValueError, match="winner"):
        parse_strict('{"winner": "C", "reason": "?"}', Preference)


def test_the_cache_key_is_the_exact_request() -> None:
    one = {"model": "j", "messages": [{"role": "user", "content": "a"}]}
    assert request_key(one) == request_key(dict(reversed(one.items())))
    assert request_key(one) != request_key({**one, "temperature": 0})
