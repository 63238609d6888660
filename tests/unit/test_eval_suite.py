"""Suite files: the issue's example loads; a wrong suite or dataset is refused with the field
and the reason before any model is called; the shipped JSON Schema is the model's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from assay.errors import ValidationFailed
from assay.evals.suite import SCHEMA_FILE, json_schema, load_suite

SUITE = """\
name: capitals
target:
  model: capital-bot
  messages:
    - {role: system, content: "Answer with the city only."}
    - {role: user, content: "What is the capital of {{country}}?"}
  params: {temperature: 0}
dataset: capitals.jsonl
evaluators:
  - {name: exact, type: equals, value: "{{expected}}", ignore_case: true}
  - {name: mentions, type: contains, value: "{{expected}}"}
  - {name: shape, type: regex, pattern: "^[A-Z][a-z]+$"}
  - {name: judge, type: llm_judge, model: judge-model, rubric: "Is the answer correct?",
     threshold: 0.7}
pass: all
"""
ITEMS = [
    {"id": "fr", "input": {"country": "France"}, "expected": "Paris"},
    {"id": "jp", "input": {"country": "Japan"}, "expected": "Tokyo", "metadata": {"t": 1}},
]


def _write(tmp_path: Path, suite: str = SUITE, items: list[dict[str, Any]] | None = None) -> Path:
    (tmp_path / "capitals.jsonl").write_text(
        "\n".join(json.dumps(i) for i in (ITEMS if items is None else items)) + "\n\n"
    )
    path = tmp_path / "suite.yaml"
    path.write_text(suite)
    return path


def test_the_example_suite_loads_with_its_items(tmp_path: Path) -> None:
    suite, items = load_suite(_write(tmp_path))
    assert suite.name == "capitals" and suite.gate == "all"
    assert [e.type for e in suite.evaluators] == ["equals", "contains", "regex", "llm_judge"]
    assert [i.id for i in items] == ["fr", "jp"]
    assert suite.placeholders() == {"country", "expected"}
    jsonschema.validate(yaml.safe_load(SUITE), json.loads(SCHEMA_FILE.read_text()))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("pass: all", "pass: {min_score: 2}"), "pass.MinScore.min_score"),
        (
            ('type: regex, pattern: "^[A-Z][a-z]+$"', 'type: regex, pattern: "("'),
            "pattern does not compile",
        ),
        (("name: mentions", "name: exact"), "evaluator names must be distinct: exact"),
        (("model: capital-bot", "modle: capital-bot"), "target.modle: Extra inputs"),
        (("threshold: 0.7", "threshold: 7"), "threshold"),
        (("name: capitals", "name: [capitals"), "is not YAML"),
    ],
)
def test_a_wrong_suite_names_the_field(tmp_path: Path, change: tuple[str, str], says: str) -> None:
    with pytest.raises(ValidationFailed, match=said(says)):
        load_suite(_write(tmp_path, SUITE.replace(*change)))


def said(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize(
    ("items", "says"),
    [
        (
            [{"id": "fr", "input": {"contry": "France"}, "expected": "Paris"}],
            "item 'fr' has no country",
        ),
        ([ITEMS[0], ITEMS[0]], "line 2: the id 'fr' is repeated"),
        ([{"input": {}}], "line 1: id: Field required"),
        ([], "there are no items"),
    ],
)
def test_a_wrong_dataset_names_the_line(
    tmp_path: Path, items: list[dict[str, Any]], says: str
) -> None:
    with pytest.raises(ValidationFailed, match=said(says)):
        load_suite(_write(tmp_path, items=items))
    (tmp_path / "capitals.jsonl").write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(ValidationFailed, match="line 2: not JSON"):
        load_suite(tmp_path / "suite.yaml")


def test_the_shipped_schema_is_the_models() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema()
