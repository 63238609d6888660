"""Online evaluation: a resource's `evaluation` rules score a sample of its answers off the
request path. The request path only decides by a random draw and puts the request on a bounded
queue (full: dropped and counted), so a slow or failing judge never slows or fails a request.
A thread with its own event loop scores each one (deterministic evaluators here, judges through
the gateway as eval traffic, which is never sampled itself) and appends an `EvalSample`."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from assay.evals.evaluators import (
    DETERMINISTIC,
    Ceiling,
    Contains,
    Equals,
    IsJson,
    Numeric,
    Observed,
    Regex,
    Similarity,
    ToolCall,
)
from assay.evals.judges import (
    Completer,
    JudgeFailed,
    Judging,
    LlmJudge,
    MemoryJudgeCache,
    PanelJudge,
)
from assay.evals.suite import Evaluator
from assay.evals.templates import MissingField
from assay.observability import logger
from assay.records import EvalSample
from assay.records.gateway import OnlineEvaluation
from assay.store import RecordStore

# What an evaluation rule or a named judge may hold, for API schemas: deterministic
# evaluators and model judges (no code, no pairwise: no reference answer on live traffic).
OnlineEvaluator = Annotated[
    Equals
    | Contains
    | Regex
    | IsJson
    | Similarity
    | Numeric
    | Ceiling
    | ToolCall
    | LlmJudge
    | PanelJudge,
    Field(discriminator="type"),
]


class OnlineEvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    evaluators: list[OnlineEvaluator] = Field(min_length=1, max_length=10)
    sample_rate: float = Field(default=0.1, ge=0.0, le=1.0)

    def stored(self) -> OnlineEvaluation:
        return OnlineEvaluation(sample_rate=self.sample_rate, evaluators=[
            e.model_dump(mode="json", by_alias=True) for e in self.evaluators])  # fmt: skip


QUEUE_MAX = 10_000
BATCH = 200  # samples scored, then stored in one write
ONLINE_TYPES = (*DETERMINISTIC, LlmJudge, PanelJudge)
_EVALUATORS: TypeAdapter[list[Any]] = TypeAdapter(list[Evaluator])


def online_evaluators(raw: list[dict[str, Any]]) -> list[Any]:
    """The evaluators an `evaluation` rule may hold: deterministic ones and judges (no code,
    no pairwise: there is no reference answer on live traffic); ValueError naming the problem."""
    try:
        found = _EVALUATORS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"evaluators.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    for evaluator in found:
        if not isinstance(evaluator, ONLINE_TYPES):
            raise ValueError(f"{evaluator.name}: a {evaluator.type} evaluator cannot score live "
                             "traffic (no reference answer, no code on the gateway)")  # fmt: skip
    return found


class Sampled(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    tenant_id: str
    api_key_id: str
    resource: str
    rule: OnlineEvaluation
    messages: list[dict[str, Any]]
    answer: dict[str, Any]
    latency_ms: float


class OnlineScorer:
    def __init__(self, records: Callable[[], RecordStore],
                 completer_for: Callable[[str, str], Completer] | None) -> None:  # fmt: skip
        """`completer_for(tenant_id, api_key_id)` reaches judge models through the gateway."""
        self._records = records
        self._completer_for = completer_for
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(maxsize=QUEUE_MAX)
        self._parsed: dict[int, tuple[OnlineEvaluation, list[Any]]] = {}
        self._cache = MemoryJudgeCache()
        self.dropped = 0
        self.scored = 0
        self._thread = threading.Thread(target=self._run, name="assay-online-eval", daemon=True)
        self._thread.start()

    def offer(self, sample: tuple[Any, ...]) -> None:
        """From the request path (which drew the sample): never blocks, builds nothing.
        `sample` is (tenant_id, api_key_id, resource, rule, messages, answer, latency_ms)."""
        try:
            self._queue.put_nowait(sample)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every offered sample is scored (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def _drain(self) -> list[tuple[Any, ...] | None]:
        """What is queued now, up to BATCH: one store write per batch."""
        batch = [self._queue.get()]
        with contextlib.suppress(queue.Empty):
            while len(batch) < BATCH and batch[-1] is not None:
                batch.append(self._queue.get_nowait())
        return batch

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        names = ("tenant_id", "api_key_id", "resource", "rule", "messages", "answer", "latency_ms")
        while True:
            batch = self._drain()
            scored: list[EvalSample] = []
            for offered in batch:
                if offered is None:
                    continue
                try:
                    sample = Sampled.model_construct(**dict(zip(names, offered, strict=True)))
                    found = loop.run_until_complete(self._score(sample))
                    if found is not None:
                        scored.append(found)
                except Exception:
                    logger.exception("online evaluation: could not score a sample",
                                     extra={"resource": offered[2]})  # fmt: skip
            try:
                if scored:
                    self._records().create_many(scored)
                    self.scored += len(scored)
            except Exception:
                self.dropped += len(scored)
                logger.exception("online evaluation: could not store scores")
            finally:
                for _ in batch:
                    self._queue.task_done()
            if None in batch:
                return

    def _evaluators(self, rule: OnlineEvaluation) -> list[Any]:
        """Parsed once per rule object (the catalog hands out the same one while cached); the
        rule is kept beside its parse so its id cannot be reused meanwhile."""
        hit = self._parsed.get(id(rule))
        if hit is None:
            hit = (rule, online_evaluators(rule.evaluators))
            self._parsed = {**dict(list(self._parsed.items())[-50:]), id(rule): hit}
        return hit[1]

    async def _score(self, sample: Sampled) -> EvalSample | None:
        try:
            message = sample.answer["choices"][0]["message"]
            output = message.get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        observed = Observed(output=output, latency_ms=sample.latency_ms)
        last_user = next((m.get("content") for m in reversed(sample.messages)
                          if isinstance(m, dict) and m.get("role") == "user"), "")  # fmt: skip
        values: dict[str, Any] = {"question": last_user, "expected": None}
        scores: dict[str, float] = {}
        errors: dict[str, str] = {}
        passed = True
        judging = None
        for evaluator in self._evaluators(sample.rule):
            try:
                if isinstance(evaluator, DETERMINISTIC):
                    score = evaluator.evaluate(observed, values)
                else:
                    if self._completer_for is None:
                        raise JudgeFailed("no gateway to reach the judge through")
                    judging = judging or Judging(
                        self._completer_for(sample.tenant_id, sample.api_key_id), self._cache
                    )
                    score = await judging.score(evaluator, values, last_user, observed)
            except (JudgeFailed, MissingField, ValueError, RuntimeError) as exc:
                errors[evaluator.name] = str(exc)[:300]
                passed = False
                continue
            scores[evaluator.name] = score.score
            passed = passed and score.passed
        return EvalSample(
            tenant_id=sample.tenant_id, resource=sample.resource, api_key_id=sample.api_key_id,
            messages=sample.messages[-20:], output=output[:20_000], scores=scores,
            passed=passed if scores else None, errors=errors, latency_ms=int(sample.latency_ms),
        )  # fmt: skip
