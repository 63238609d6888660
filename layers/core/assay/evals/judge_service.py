"""Judges as a service: `POST /v1/judges/{name}/chat/completions` answers like the chat
completions endpoint (the named judge's target model, through the gateway) and adds
`evaluator_results` and `evaluation` (passed, score), so an application gets a scored answer in
one call. The request may carry `assay_eval: {"expected": ..., "input": {...}}` for
evaluators that compare with a reference; it is removed before the model sees the request."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.evals.evaluators import DETERMINISTIC, Observed, Score
from assay.evals.judges import JudgeFailed, Judging, LlmJudge, MemoryJudgeCache, PanelJudge
from assay.evals.online import online_evaluators
from assay.evals.target import InProcessGateway, TargetFailed, reply_of
from assay.evals.templates import MissingField
from assay.gateway.errors import GatewayError
from assay.gateway.service import Caller, Gateway
from assay.records import EvalJudge

EXTRA = "assay_eval"
_CACHE = MemoryJudgeCache()  # judge verdicts by exact request, for this process


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected: Any = None
    input: dict[str, Any] = Field(default_factory=dict)


_PARSED: dict[tuple[str, str, int], list[Any]] = {}


def evaluators_of(judge: EvalJudge) -> list[Any]:
    """Parsed once per version of the judge: a call pays no validation."""
    key = (judge.tenant_id, judge.id, judge.version)
    found = _PARSED.get(key)
    if found is None:
        found = online_evaluators(judge.evaluators)
        if len(_PARSED) > 500:
            _PARSED.clear()
        _PARSED[key] = found
    return found


async def judged(
    gateway: Gateway, caller: Caller, judge: EvalJudge, payload: dict[str, Any]
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of the judged completion; the model's own errors pass through."""
    try:
        reference = Reference.model_validate(payload.pop(EXTRA, None) or {})
    except ValidationError as exc:
        raise GatewayError(f"`{EXTRA}` is not valid: {exc.errors()[0]['msg']}", status=400,
                           code="invalid_assay_eval", param=EXTRA) from None  # fmt: skip
    if payload.get("stream"):
        raise GatewayError("a judged completion cannot stream", status=400,
                           code="stream_unsupported", param="stream")  # fmt: skip
    response = await gateway.forward(caller, "/chat/completions", {**payload, "model": judge.model})
    content = bytes(response.body)
    headers = {k: v for k, v in response.headers.items() if k.startswith("x-assay-")}
    try:
        reply = reply_of(response.status_code, content, response.headers, 0.0)
    except TargetFailed:
        return response.status_code, json.loads(content or b"{}"), headers
    body: dict[str, Any] = json.loads(content)
    observed = Observed(output=reply.content, tool_calls=reply.tool_calls,
                        cost_usd=reply.cost_usd)  # fmt: skip
    values = {**reference.input, "expected": reference.expected}
    judging = Judging(InProcessGateway(gateway, caller), _CACHE)
    results: list[dict[str, Any]] = []
    for evaluator in evaluators_of(judge):
        try:
            if isinstance(evaluator, DETERMINISTIC):
                score: Score = evaluator.evaluate(observed, values)
            elif isinstance(evaluator, LlmJudge | PanelJudge):
                score = await judging.score(
                    evaluator, values, reference.input or payload.get("messages"), observed
                )
            else:  # online_evaluators admits nothing else
                continue
            results.append(score.model_dump())
        except (JudgeFailed, TargetFailed, MissingField, ValueError) as exc:
            results.append({"name": evaluator.name, "score": 0.0, "passed": False,
                            "reason": str(exc)[:500], "error": True})  # fmt: skip
    share = sum(r["passed"] for r in results) / len(results) if results else 0.0
    body["evaluator_results"] = results
    body["evaluation"] = {
        "judge": judge.name, "passed": share >= judge.threshold, "pass_share": round(share, 4),
        "score": round(sum(r["score"] for r in results) / len(results), 6) if results else 0.0,
    }  # fmt: skip
    return response.status_code, body, headers
