"""Lambda entry point of the HTTPS API: the same FastAPI app as `assay serve`, via Mangum.

Ports are built once per execution environment (cold start) from Settings, so warm invocations
reuse connections. Server-Sent Events need response streaming, which Mangum cannot do: in AWS
the events route runs behind the Lambda Web Adapter instead (see the deploy stack).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from assay.api import create_app
from assay.config import load_settings
from assay.observability import logger, metrics, tracer
from assay.wiring import build_ports

_settings = load_settings()
_app = create_app(build_ports(_settings))
_asgi = Mangum(_app, lifespan="off")
_tracer = tracer()
_metrics = metrics()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", log_event=False)
@_tracer.capture_lambda_handler(capture_response=False)
@_metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
    response: dict[str, Any] = _asgi(event, context)
    return response
