"""The deterministic evaluators: each on outputs that pass and fail, with its reason, and
their settings refused when wrong before anything runs."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from assay.evals.evaluators import Deterministic, Observed
from assay.evals.templates import MissingField, render

ITEM = {"country": "France", "expected": "Paris", "n": {"value": 42}}
load: TypeAdapter[Any] = TypeAdapter(Deterministic)


def score(settings: dict[str, Any], output: str, **measured: Any) -> tuple[float, bool, str]:
    found = load.validate_python({"name": "e", **settings}).evaluate(
        Observed(output=output, **measured), ITEM
    )
    return found.score, found.passed, found.reason


def test_equals_contains_and_regex() -> None:
    assert score({"type": "equals", "ignore_case": True}, " paris\n")[1]
    assert score({"type": "equals"}, "paris") == (0.0, False, "expected 'Paris'")
    assert score({"type": "contains", "value": ["Paris", "France"]}, "Paris, France")[1]
    assert score({"type": "contains", "value": ["Paris", "Lyon"]}, "Paris") == (
        0.5, False, "missing 'Lyon'")  # fmt: skip
    assert score({"type": "contains", "value": ["Lyon", "Paris"], "mode": "any"}, "Paris")[1]
    assert score({"type": "regex", "pattern": "^[A-Z][a-z]+$", "full": True}, "Paris")[1]
    assert not score({"type": "regex", "pattern": "^[A-Z][a-z]+$"}, "paris")[1]
    assert score({"type": "regex", "pattern": "{{expected}}"}, "It is Paris.")[1]


def test_json_and_its_schema() -> None:
    schema = {"type": "object", "required": ["city"],
              "properties": {"city": {"type": "string"}}}  # fmt: skip
    assert score({"type": "is_json"}, '```json\n{"city": 1}\n```')[1]
    assert score({"type": "is_json", "schema": schema}, '{"city": "Paris"}')[1]
    bad = score({"type": "is_json", "schema": schema}, '{"city": 1}')
    assert not bad[1] and bad[2].startswith("city: 1 is not of type 'string'")
    assert score({"type": "is_json"}, "Paris")[2].startswith("not JSON")


def test_similarity_numbers_and_ceilings() -> None:
    close = score({"type": "similarity", "threshold": 0.8}, "Pariss")
    assert close[1] and 0.8 < close[0] < 1.0
    assert not score({"type": "similarity", "threshold": 0.8}, "London")[1]
    assert score({"type": "numeric", "value": "{{n.value}}"}, "The answer is 42.")[1]
    assert score({"type": "numeric", "value": "40", "tolerance": 0.05, "relative": True},
                 "41.9")[1]  # fmt: skip
    assert score({"type": "numeric", "value": "40"}, "none")[2] == "no number in the output"
    assert score({"type": "latency", "max": 500}, "x", latency_ms=120)[1]
    assert not score({"type": "cost", "max": 0.01}, "x", cost_usd=0.02)[1]


def test_tool_calls_by_name_and_arguments() -> None:
    calls = [{"name": "weather", "arguments": '{"city": "Paris", "unit": "C"}'}]
    spec = {"type": "tool_call", "tool": "weather", "arguments": {"city": "{{expected}}"}}
    assert score(spec, "", tool_calls=calls)[1]
    assert score({**spec, "arguments": {"city": "Lyon"}}, "", tool_calls=calls)[:2] == (0.5, False)
    assert score({**spec, "tool": "maps"}, "", tool_calls=calls)[2] == "no call to 'maps'"


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"type": "regex", "pattern": "("}, "pattern does not compile"),
        ({"type": "is_json", "schema": {"type": "nope"}}, "schema is not a JSON Schema"),
        ({"type": "similarity", "threshold": 2}, "less than or equal to 1"),
        ({"type": "sorcery"}, "does not match any of the expected tags"),
        ({"type": "equals", "valu": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_wrong_settings_are_refused_with_the_reason(settings: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        load.validate_python({"name": "e", **settings})


def test_a_placeholder_the_item_lacks_is_an_error_not_an_empty_string() -> None:
    assert render("{{country}} {{n}}", ITEM) == 'France {"value": 42}'
    with pytest.raises(MissingField, match="'contry'"):
        render("{{contry}}", ITEM)
