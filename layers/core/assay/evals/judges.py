"""Judges: evaluators that ask a model. A rubric judge scores one output in [0, 1] with its
reason; a pairwise judge compares the output with a reference blind, in both orders, and counts
a win only when both orders agree; a panel asks several models and takes the majority or the
mean. Answers are parsed strictly (a JSON object of the asked shape, nothing else), a malformed
one is asked again once, and every answer is cached by its exact request, so a rerun of the
same run costs nothing.

The model is reached through a `Completer` (the gateway), so judges' calls are limited, pooled
and accounted like any other, and marked as eval traffic."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.evals.evaluators import Observed, Score
from assay.evals.templates import render

NAME = r"^[\w.-]+$"
M = TypeVar("M", bound=BaseModel)


class _Judge(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=120, pattern=NAME)
    rubric: str = Field(min_length=1, max_length=20_000)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    # For the whole verdict: its retry and both orders included.
    timeout_s: float = Field(default=120.0, gt=0, le=600)


class LlmJudge(_Judge):
    """A rubric judge: a model scores the output in [0, 1] with its reason."""

    type: Literal["llm_judge"]
    model: str = Field(min_length=1, max_length=200)


class PairwiseJudge(_Judge):
    """Compares the output with a reference (`{{expected}}` by default; `baseline` is the
    baseline run's output for the item) blind, in both orders. 1 when both orders prefer the
    output, 0 when both prefer the reference, 0.5 otherwise (a tie, or the verdict flipped
    with the order: position bias, not a preference)."""

    type: Literal["pairwise"]
    model: str = Field(min_length=1, max_length=200)
    reference: str = "{{expected}}"


class PanelJudge(_Judge):
    """Several judge models score the output with one rubric; `majority` passes when most of
    them pass it, `mean` scores the mean."""

    type: Literal["panel"]
    models: list[str] = Field(min_length=2, max_length=9)
    aggregate: Literal["majority", "mean"] = "majority"


AnyJudge = LlmJudge | PairwiseJudge | PanelJudge


class JudgeFailed(RuntimeError):
    """The judge could not give a verdict (malformed twice, timed out, refused)."""


class Reply(BaseModel):
    """What a chat completion call returned, as judges and runs need it."""

    content: str
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""  # the upstream that answered, `connection/model`


class Completer(Protocol):
    async def complete(self, payload: dict[str, Any]) -> Reply: ...


class Verdict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    score: float = Field(ge=0.0, le=1.0)
    reason: str = Field(max_length=4000)


class Preference(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    winner: Literal["A", "B", "tie"]
    reason: str = Field(max_length=4000)


_SCORE_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "number", "minimum": 0, "maximum": 1},
                   "reason": {"type": "string"}},
    "required": ["score", "reason"], "additionalProperties": False,
}  # fmt: skip
_PREFERENCE_SCHEMA = {
    "type": "object",
    "properties": {"winner": {"type": "string", "enum": ["A", "B", "tie"]},
                   "reason": {"type": "string"}},
    "required": ["winner", "reason"], "additionalProperties": False,
}  # fmt: skip
RUBRIC_SYSTEM = (
    "You grade an answer against a rubric. Reply with only a JSON object "
    '{"score": <number from 0 to 1>, "reason": "<one sentence>"} and nothing else.'
)
PAIRWISE_SYSTEM = (
    "You compare two answers, A and B, against a rubric, without favouring either position. "
    'Reply with only a JSON object {"winner": "A" | "B" | "tie", "reason": "<one sentence>"} '
    "and nothing else."
)


def parse_strict(content: str, model: type[M]) -> M:
    """`content` must be exactly one JSON object of `model`'s shape (a ```json fence around it
    is tolerated, prose is not); ValueError otherwise."""
    text = content.strip()
    if text.startswith("```") and text.endswith("```"):
        text = text.removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the answer"
        raise ValueError(f"{where}: {first['msg']}") from None


class JudgeCache(Protocol):
    def get(self, key: str) -> str | None: ...
    def put(self, key: str, content: str) -> None: ...


class SqliteJudgeCache:
    """Judge answers by the digest of their exact request, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, content TEXT)")
        self._db.commit()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT content FROM answers WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, content: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)", (key, content))
            self._db.commit()

    def close(self) -> None:
        self._db.close()


class MemoryJudgeCache:
    def __init__(self) -> None:
        self._answers: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._answers.get(key)

    def put(self, key: str, content: str) -> None:
        self._answers[key] = content


def request_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Judging:
    """Calls judge models for a run: strict parsing, one retry, the cache, and counts of what
    was asked and what came from the cache (a rerun should show every answer cached)."""

    def __init__(self, completer: Completer, cache: JudgeCache, *, timeout_s: float = 60.0,
                 temperature: float = 0.0) -> None:  # fmt: skip
        self.completer = completer
        self.cache = cache
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.calls = 0
        self.cached = 0
        self.tokens = 0
        self.cost_usd = 0.0

    async def _ask(
        self, model: str, system: str, user: str, shape: type[M], schema: dict[str, Any]
    ) -> M:
        payload: dict[str, Any] = {
            "model": model, "temperature": self.temperature,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": shape.__name__.lower(), "strict": True, "schema": schema}},
        }  # fmt: skip
        key = request_key(payload)
        hit = self.cache.get(key)
        if hit is not None:
            self.cached += 1
            return parse_strict(hit, shape)  # only well-formed answers are cached
        problem = ""
        for attempt in range(2):  # the first answer, and one retry when it is malformed
            asked = payload
            if attempt:
                asked = {**payload, "messages": [*payload["messages"], {
                    "role": "user", "content": f"Your answer was not valid ({problem}). "
                    "Reply with only the JSON object."}]}  # fmt: skip
            try:
                reply = await asyncio.wait_for(self.completer.complete(asked), self.timeout_s)
            except TimeoutError:
                raise JudgeFailed(
                    f"the judge {model} did not answer in {self.timeout_s:g} s"
                ) from None
            self.calls += 1
            self.tokens += reply.prompt_tokens + reply.completion_tokens
            self.cost_usd += reply.cost_usd
            try:
                verdict = parse_strict(reply.content, shape)
            except ValueError as exc:
                problem = str(exc)[:200]
                continue
            self.cache.put(key, reply.content)
            return verdict
        raise JudgeFailed(f"the judge {model} answered malformed JSON twice ({problem})")

    async def rubric(self, model: str, rubric: str, item_input: Any, output: str) -> Verdict:
        user = f"Rubric:\n{rubric}\n\nInput:\n{_text(item_input)}\n\nAnswer to grade:\n{output}"
        return await self._ask(model, RUBRIC_SYSTEM, user, Verdict, _SCORE_SCHEMA)

    async def prefer(self, model: str, rubric: str, item_input: Any, a: str, b: str) -> Preference:
        user = (f"Rubric:\n{rubric}\n\nInput:\n{_text(item_input)}\n\n"
                f"Answer A:\n{a}\n\nAnswer B:\n{b}")  # fmt: skip
        return await self._ask(model, PAIRWISE_SYSTEM, user, Preference, _PREFERENCE_SCHEMA)

    async def score(self, judge: AnyJudge, values: dict[str, Any], item_input: Any,
                    observed: Observed, baseline: str | None = None) -> Score:  # fmt: skip
        """`judge`'s score of `observed`; JudgeFailed when no verdict could be had in its
        time. The rubric may use the item's fields (`{{expected}}`)."""
        judge = judge.model_copy(update={"rubric": render(judge.rubric, values)})
        try:
            return await asyncio.wait_for(
                self._verdict(judge, values, item_input, observed, baseline), judge.timeout_s
            )
        except TimeoutError:
            raise JudgeFailed(f"{judge.name} gave no verdict in {judge.timeout_s:g} s") from None

    async def _verdict(self, judge: AnyJudge, values: dict[str, Any], item_input: Any,
                       observed: Observed, baseline: str | None) -> Score:  # fmt: skip
        if isinstance(judge, LlmJudge):
            verdict = await self.rubric(judge.model, judge.rubric, item_input, observed.output)
            return _score(judge, verdict.score, verdict.reason)
        if isinstance(judge, PanelJudge):
            output = observed.output
            asked = [self.rubric(m, judge.rubric, item_input, output) for m in judge.models]
            verdicts = await asyncio.gather(*asked)
            votes = [v.score >= judge.threshold for v in verdicts]
            if judge.aggregate == "majority":
                value = sum(votes) / len(votes)
                passed = sum(votes) * 2 > len(votes)
            else:
                value = sum(v.score for v in verdicts) / len(verdicts)
                passed = value >= judge.threshold
            reason = "; ".join(f"{m}: {v.score:.2f} {v.reason}"
                               for m, v in zip(judge.models, verdicts, strict=True))  # fmt: skip
            return Score(name=judge.name, score=round(value, 6), passed=passed, reason=reason)
        if judge.reference.strip() == "baseline":
            if baseline is None:
                raise JudgeFailed(f"{judge.name}: no baseline output for this item")
            reference = baseline
        else:
            reference = render(judge.reference, values)
        first, second = await asyncio.gather(
            self.prefer(judge.model, judge.rubric, item_input, observed.output, reference),
            self.prefer(judge.model, judge.rubric, item_input, reference, observed.output),
        )
        if first.winner == "A" and second.winner == "B":
            value, why = 1.0, "preferred in both orders"
        elif first.winner == "B" and second.winner == "A":
            value, why = 0.0, "the reference preferred in both orders"
        elif first.winner == second.winner == "tie":
            value, why = 0.5, "a tie in both orders"
        else:
            value, why = 0.5, (f"the verdict changed with the order ({first.winner}, then "
                               f"{second.winner}): no preference counted")  # fmt: skip
        return _score(judge, value, f"{why}: {first.reason}")


def _score(judge: _Judge, value: float, reason: str) -> Score:
    return Score(name=judge.name, score=round(value, 6), passed=value >= judge.threshold,
                 reason=reason[:2000])  # fmt: skip


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, indent=1)
