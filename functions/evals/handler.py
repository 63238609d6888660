"""Lambda entry points of the eval-run workflow (`statemachines/eval-run.asl.json`): one
function per Task state, all from this file (`handler.prepare`, `handler.score_batch`, ...).
Each runs the same `EvalSteps` method as the local ASL runner; items reach their models
through an in-process gateway built from the same ports as the gateway function (its limits
in Redis, its usage in DynamoDB), as the run's submitter."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from assay.config import load_settings
from assay.evals.distributed import EvalSteps
from assay.evals.target import InProcessGateway
from assay.gateway.service import Caller
from assay.gateway.wiring import build_gateway
from assay.observability import logger, tracer
from assay.wiring import build_ports

_settings = load_settings()
_ports = build_ports(_settings, lazy=True)
_gateway = build_gateway(_ports)
_tracer = tracer()


def _completer(tenant_id: str, actor: str) -> InProcessGateway:
    return InProcessGateway(_gateway, Caller(tenant_id=tenant_id, actor=actor))


_steps = EvalSteps(_ports.records, _ports.blobs, _ports.signer, _completer)


def _step(name: str) -> Any:
    method = getattr(_steps, name)

    @logger.inject_lambda_context(correlation_id_path="run_id", log_event=False)
    @_tracer.capture_lambda_handler(capture_response=False)
    def run(event: dict[str, Any], context: LambdaContext) -> Any:  # noqa: ARG001 - the Lambda signature
        logger.append_keys(step=name, tenant_id=event.get("tenant_id"))
        return method(event)

    run.__name__ = name
    return run


prepare = _step("prepare")
score_batch = _step("score_batch")
summarize = _step("summarize")
record_failure = _step("record_failure")
