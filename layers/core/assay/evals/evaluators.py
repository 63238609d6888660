"""Deterministic evaluators: each scores one output of one dataset item in [0, 1], says whether
it passed and why. Pure functions of the output, the item and the call's measurements, so a
rerun scores the same; the code evaluator (run in the sandbox) and the judges (model calls)
fit the same `Score` and live elsewhere.

Each evaluator's settings are a pydantic model (`type` tells them apart), so a suite file is
validated before any model is called."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, model_validator
from rapidfuzz.distance import Levenshtein

from assay.evals.templates import render


class Score(BaseModel):
    name: str
    score: float  # in [0, 1]
    passed: bool
    reason: str


class Observed(BaseModel):
    """What the target answered for an item, and what the call cost."""

    output: str
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)  # {"name", "arguments"}


class _Evaluator(BaseModel):
    # Strict: a suite's `true` is a bool and `0.5` a number, never "yes" or 1 for true.
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=120, pattern=r"^[\w.-]+$")

    def _score(self, score: float, passed: bool, reason: str) -> Score:
        return Score(name=self.name, score=round(max(0.0, min(1.0, score)), 6),
                     passed=passed, reason=reason)  # fmt: skip


class Equals(_Evaluator):
    type: Literal["equals"]
    value: str = "{{expected}}"
    ignore_case: bool = False
    strip: bool = True

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        want, got = render(self.value, values), observed.output
        if self.strip:
            want, got = want.strip(), got.strip()
        if self.ignore_case:
            want, got = want.casefold(), got.casefold()
        same = want == got
        return self._score(float(same), same, "equal" if same else f"expected {want!r}")


class Contains(_Evaluator):
    type: Literal["contains"]
    value: str | list[str] = "{{expected}}"
    mode: Literal["any", "all"] = "all"
    ignore_case: bool = False

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        wanted = [self.value] if isinstance(self.value, str) else self.value
        needles = [render(v, values) for v in wanted]
        text = observed.output.casefold() if self.ignore_case else observed.output
        found = [n for n in needles if (n.casefold() if self.ignore_case else n) in text]
        passed = bool(found) if self.mode == "any" else len(found) == len(needles)
        missing = [n for n in needles if n not in found]
        reason = "contains " + ", ".join(map(repr, found)) if passed else (
            "missing " + ", ".join(map(repr, missing)))  # fmt: skip
        return self._score(len(found) / len(needles) if needles else 1.0, passed, reason)


class Regex(_Evaluator):
    type: Literal["regex"]
    pattern: str
    full: bool = False  # the whole output must match, not a part of it

    @model_validator(mode="after")
    def _compiles(self) -> Regex:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        return self

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        pattern = re.compile(render(self.pattern, values))
        text = observed.output.strip()
        hit = pattern.fullmatch(text) if self.full else pattern.search(text)
        return self._score(float(hit is not None), hit is not None,
                           "matches" if hit else f"does not match /{pattern.pattern}/")  # fmt: skip


class IsJson(_Evaluator):
    type: Literal["is_json"]
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")

    @model_validator(mode="after")
    def _valid_schema(self) -> IsJson:
        if self.json_schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(self.json_schema)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"schema is not a JSON Schema: {exc.message}") from None
        return self

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        try:
            document = json.loads(_unfenced(observed.output))
        except ValueError as exc:
            return self._score(0.0, False, f"not JSON: {exc}")
        if self.json_schema is None:
            return self._score(1.0, True, "valid JSON")
        errors = sorted(jsonschema.Draft202012Validator(self.json_schema).iter_errors(document),
                        key=lambda e: list(e.absolute_path))  # fmt: skip
        if errors:
            where = "/".join(map(str, errors[0].absolute_path)) or "(root)"
            return self._score(0.0, False, f"{where}: {errors[0].message}")
        return self._score(1.0, True, "valid against the schema")


class Similarity(_Evaluator):
    """Normalized Levenshtein similarity to the expected text (1.0 when equal)."""

    type: Literal["similarity"]
    value: str = "{{expected}}"
    threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    ignore_case: bool = False

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        want, got = render(self.value, values).strip(), observed.output.strip()
        if self.ignore_case:
            want, got = want.casefold(), got.casefold()
        similar = Levenshtein.normalized_similarity(want, got)
        passed = similar >= self.threshold
        return self._score(similar, passed, f"similarity {similar:.3f} "
                           f"{'>=' if passed else '<'} {self.threshold}")  # fmt: skip


class Numeric(_Evaluator):
    """The first number in the output, within a tolerance of the expected one."""

    type: Literal["numeric"]
    value: str = "{{expected}}"
    tolerance: float = Field(default=0.0, ge=0.0)
    relative: bool = False  # tolerance as a fraction of the expected value

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        try:
            want = float(render(self.value, values))
        except ValueError:
            return self._score(0.0, False, "the expected value is not a number")
        found = _NUMBER.search(observed.output.replace(",", ""))
        if found is None:
            return self._score(0.0, False, "no number in the output")
        got = float(found.group(0))
        allowed = self.tolerance * abs(want) if self.relative else self.tolerance
        passed = abs(got - want) <= allowed
        return self._score(float(passed), passed, f"{got:g} vs {want:g} (±{allowed:g})")


class Ceiling(_Evaluator):
    """The call's latency or cost at most a limit."""

    type: Literal["latency", "cost"]
    max: float = Field(gt=0)  # milliseconds, or US dollars

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        got = observed.latency_ms if self.type == "latency" else observed.cost_usd
        unit = "ms" if self.type == "latency" else "USD"
        passed = got <= self.max
        return self._score(float(passed), passed, f"{got:g} {unit} "
                           f"{'<=' if passed else '>'} {self.max:g} {unit}")  # fmt: skip


class ToolCall(_Evaluator):
    """The output called a tool by name, with arguments that include the expected ones."""

    type: Literal["tool_call"]
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def evaluate(self, observed: Observed, values: dict[str, Any]) -> Score:
        named = [c for c in observed.tool_calls if c.get("name") == render(self.tool, values)]
        if not named:
            return self._score(0.0, False, f"no call to {self.tool!r}")
        wanted = {k: render(v, values) if isinstance(v, str) else v
                  for k, v in self.arguments.items()}  # fmt: skip
        for call in named:
            given = call.get("arguments")
            if isinstance(given, str):
                try:
                    given = json.loads(given)
                except ValueError:
                    continue
            if isinstance(given, dict) and all(given.get(k) == v for k, v in wanted.items()):
                return self._score(1.0, True, f"called {self.tool!r} with the arguments")
        return self._score(0.5, False, f"called {self.tool!r}, not with {wanted}")


Deterministic = Annotated[
    Equals | Contains | Regex | IsJson | Similarity | Numeric | Ceiling | ToolCall,
    Field(discriminator="type"),
]
# For isinstance: the evaluators scored here, in-process.
DETERMINISTIC = (Equals, Contains, Regex, IsJson, Similarity, Numeric, Ceiling, ToolCall)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n```\s*$", re.DOTALL)


def _unfenced(text: str) -> str:
    """A JSON answer a model wrapped in a ``` block, without the block."""
    found = _FENCE.match(text.strip())
    return found.group(1) if found else text
