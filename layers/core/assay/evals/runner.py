"""An eval run: every item sent to the target through the gateway with bounded concurrency,
scored by the suite's evaluators (deterministic ones here, judges through the gateway, code in
the sandbox in batches), in dataset order. Failures of one item (the target refused, a judge
never answered) are that item's error; they never stop the run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from assay.evals.evaluators import DETERMINISTIC, Observed, Score
from assay.evals.judges import Completer, JudgeFailed, Judging, LlmJudge, PairwiseJudge, PanelJudge
from assay.evals.results import ItemResult, Results, score_item, summarize
from assay.evals.suite import Item, Suite
from assay.evals.target import TargetFailed, request_for
from assay.evals.templates import MissingField

JUDGES = (LlmJudge, PairwiseJudge, PanelJudge)
# A batch scorer for evaluators that run elsewhere (code in the sandbox): the evaluator and
# (observed, item) cases -> one score per case, in order. Called off the event loop.
BatchScorer = Callable[[Any, Sequence[tuple[Observed, Item]]], list[Score]]
CODE_BATCH = 200  # cases per sandbox job


class Answered(BaseModel):
    """One item after its target call and judges, before code evaluators."""

    item: Item
    observed: Observed | None = None
    tokens: int = 0
    error: str | None = None
    scores: dict[str, Score] = {}


async def answer(
    suite: Suite, item: Item, completer: Completer, judging: Judging | None,
    baseline: dict[str, str],
) -> Answered:  # fmt: skip
    try:
        payload = request_for(suite.target, item)
        reply = await completer.complete(payload)
    except (TargetFailed, MissingField) as exc:
        return Answered(item=item, error=str(exc))
    observed = Observed(output=reply.content, latency_ms=reply.latency_ms,
                        cost_usd=reply.cost_usd, tool_calls=reply.tool_calls)  # fmt: skip
    done = Answered(item=item, observed=observed,
                    tokens=reply.prompt_tokens + reply.completion_tokens)  # fmt: skip
    judges = [e for e in suite.evaluators if isinstance(e, JUDGES)]
    if not judges:
        return done
    if judging is None:
        done.error = f"{judges[0].name}: no judge model to call"
        return done
    verdicts = await asyncio.gather(
        *(judging.score(j, item.values(), item.input, observed, baseline.get(item.id))
          for j in judges), return_exceptions=True,
    )  # fmt: skip
    for judge, verdict in zip(judges, verdicts, strict=True):
        if isinstance(verdict, JudgeFailed | TargetFailed | MissingField):
            done.error = f"{judge.name}: {verdict}"
        elif isinstance(verdict, BaseException):
            raise verdict
        else:
            done.scores[judge.name] = verdict
    return done


def _score_code(suite: Suite, answered: list[Answered], scorer: BatchScorer | None) -> None:
    """Code evaluators over every answered item, in sandbox batches; a batch that cannot run
    is each of its items' error."""
    code = [e for e in suite.evaluators if not isinstance(e, DETERMINISTIC + JUDGES)]
    scorable = [a for a in answered if a.observed is not None and a.error is None]
    for evaluator in code:
        if scorer is None:
            for a in scorable:
                a.error = f"{evaluator.name}: no sandbox to run code evaluators in"
            continue
        for start in range(0, len(scorable), CODE_BATCH):
            batch = scorable[start : start + CODE_BATCH]
            cases = [(a.observed, a.item) for a in batch if a.observed is not None]
            try:
                scores = scorer(evaluator, cases)
            except Exception as exc:  # the sandbox itself failed: say so on each item
                for a in batch:
                    a.error = f"{evaluator.name}: {type(exc).__name__}: {exc}"[:500]
                continue
            for a, score in zip(batch, scores, strict=True):
                a.scores[evaluator.name] = score


def result_of(suite: Suite, done: Answered) -> ItemResult:
    """The item's result: the deterministic evaluators scored here, the others' scores looked
    up; an error (the target's, a judge's, the sandbox's) fails the item but keeps its output."""

    def looked_up(evaluator: Any, _item: Item, _observed: Observed) -> Score:
        return done.scores.get(evaluator.name) or _missing(evaluator)

    return score_item(suite, done.item, done.observed, error=done.error, tokens=done.tokens,
                      judge=looked_up)  # fmt: skip


def _missing(evaluator: Any) -> Score:
    return Score(name=evaluator.name, score=0.0, passed=False, reason="not scored")


async def run(
    suite: Suite, items: Sequence[Item], completer: Completer, *, judging: Judging | None = None,
    concurrency: int = 8, code_scorer: BatchScorer | None = None,
    baseline: dict[str, str] | None = None,
    on_item: Callable[[ItemResult | None], None] | None = None,
) -> Results:  # fmt: skip
    """Run `suite` over `items`; `on_item` hears of each answered item (None before code
    evaluators score them, the result otherwise) for progress displays and event streams."""
    started = time.monotonic()
    outputs = baseline or {}

    slots: list[Answered | None] = [None] * len(items)
    queue = iter(range(len(items)))

    async def worker() -> None:  # N workers, not a task per item: a run may hold a million
        for index in queue:
            slots[index] = await answer(suite, items[index], completer, judging, outputs)
            if on_item is not None:
                on_item(None)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(items))))))
    answered = [a for a in slots if a is not None]
    await asyncio.to_thread(_score_code, suite, answered, code_scorer)
    results = [result_of(suite, done) for done in answered]
    if on_item is not None:
        for result in results:
            on_item(result)
    summary = summarize(suite, results, time.monotonic() - started)
    if judging is not None:
        summary.summary.tokens += judging.tokens
        summary.summary.cost_usd = round(summary.summary.cost_usd + judging.cost_usd, 6)
    return summary
