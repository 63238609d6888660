"""A suite file (YAML, versioned with the code): a target, a dataset and evaluators, and the
gate a run must hold. `load_suite` refuses a wrong suite with each field and its reason, and
checks every dataset item against the placeholders the suite uses, before any model is
called. `suite.schema.json` beside this module is this model's JSON Schema (for editors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.errors import ValidationFailed
from assay.evals.code_evaluator import PythonCode
from assay.evals.evaluators import Deterministic
from assay.evals.judges import LlmJudge, PairwiseJudge, PanelJudge
from assay.evals.templates import names

SCHEMA_FILE = Path(__file__).with_name("suite.schema.json")
MAX_ITEMS = 1_000_000
MAX_LINE = 8 * 1024 * 1024  # an item (images travel base64) but not a runaway file


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["system", "user", "assistant"]
    content: str


class Target(BaseModel):
    """What each item is sent to: a gateway resource (or any model the gateway reaches), with
    messages whose `{{field}}` placeholders are filled from the item."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=200)
    messages: list[Message] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


Evaluator = Annotated[
    Deterministic | LlmJudge | PairwiseJudge | PanelJudge | PythonCode,
    Field(discriminator="type"),
]


class MinScore(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    min_score: float = Field(ge=0.0, le=1.0)


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    name: str = Field(min_length=1, max_length=120)
    target: Target
    dataset: str = Field(min_length=1, description="a JSONL file, relative to the suite's")
    evaluators: list[Evaluator] = Field(min_length=1)
    gate: Literal["all"] | MinScore = Field(default="all", alias="pass")

    @model_validator(mode="after")
    def _distinct_names(self) -> Suite:
        seen = [e.name for e in self.evaluators]
        twice = sorted({n for n in seen if seen.count(n) > 1})
        if twice:
            raise ValueError(f"evaluator names must be distinct: {', '.join(twice)}")
        return self

    def models(self, judge_only: str = "") -> list[str]:
        """Every model the suite calls: the target's and its judges' (or one judge's)."""
        found = [] if judge_only else [self.target.model]
        for evaluator in self.evaluators:
            if judge_only and evaluator.name != judge_only:
                continue
            if isinstance(evaluator, LlmJudge | PairwiseJudge):
                found.append(evaluator.model)
            elif isinstance(evaluator, PanelJudge):
                found += evaluator.models
        return list(dict.fromkeys(found))

    def placeholders(self) -> set[str]:
        """The item fields the suite's messages and evaluators use (their first part)."""
        texts = [m.content for m in self.target.messages]
        for evaluator in self.evaluators:
            # Code is code: `{{...}}` in it is Python's, not a placeholder.
            fields = evaluator.model_dump(exclude={"code"})
            texts += [v for v in fields.values() if isinstance(v, str)]
            texts += [v for v in getattr(evaluator, "value", []) if isinstance(v, str)]
        return {name.split(".")[0] for text in texts for name in names(text)}


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """What placeholders are filled from: the input's fields, and `expected`."""
        return {**self.input, "expected": self.expected}


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or '(top)'}: {error['msg']}"
        for error in exc.errors()[:10]
    )


def load_suite(path: Path) -> tuple[Suite, list[Item]]:
    """The suite at `path` and its dataset's items, or ValidationFailed naming what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read the suite {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path} is not YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{path}: a suite is a mapping (name, target, dataset, ...)")
    try:
        suite = Suite.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(f"{path}: {_problems(exc)}") from None
    items = load_dataset(path.parent / suite.dataset)
    wanted = suite.placeholders()
    for item in items:
        missing = sorted(wanted - set(item.values()))
        if missing:
            raise ValidationFailed(f"{suite.dataset}: item {item.id!r} has no "
                                   f"{', '.join(missing)}, which the suite uses")  # fmt: skip
    return suite, items


def load_dataset(path: Path) -> list[Item]:
    """A JSONL dataset: one item a line ({"id", "input", "expected", "metadata"}); blank lines
    are skipped, ids must be distinct."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"cannot read the dataset {path}: {exc}") from None
    return parse_jsonl(text, path.name)


def parse_jsonl(text: str, name: str) -> list[Item]:
    """Items from JSONL text; `name` is what errors call it."""
    return read_lines(text, name, Item, MAX_ITEMS, "items")


Line = TypeVar("Line", bound=BaseModel)


def read_lines(text: str, name: str, model: type[Line], most: int, kind: str) -> list[Line]:
    """One `model` a line of JSONL text (blank lines skipped), each with a distinct `id`;
    ValidationFailed naming the line and the reason otherwise."""
    found: list[Line] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            raise ValidationFailed(f"{name} line {number}: {len(line)} characters, over "
                                   f"the {MAX_LINE} a line may have")  # fmt: skip
        try:
            entry = model.model_validate(json.loads(line))
        except ValueError as exc:
            why = _problems(exc) if isinstance(exc, ValidationError) else f"not JSON: {exc}"
            raise ValidationFailed(f"{name} line {number}: {why}") from None
        key = str(getattr(entry, "id", number))
        if key in seen:
            raise ValidationFailed(f"{name} line {number}: the id {key!r} is repeated")
        seen.add(key)
        found.append(entry)
        if len(found) > most:
            raise ValidationFailed(f"{name}: more than {most} {kind}")
    if not found:
        raise ValidationFailed(f"{name}: there are no {kind}")
    return found


def json_schema() -> dict[str, Any]:
    """The suite file's JSON Schema (what `suite.schema.json` holds)."""
    schema = Suite.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Assay eval suite", **schema}  # fmt: skip
