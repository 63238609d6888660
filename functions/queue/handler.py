"""The analysis queue's dispatcher: an SQS event source hands it waiting submissions; it starts
those that have a slot (`assay.analysis.admission`) and hands the others back, to come again
after the queue's visibility timeout. Its reserved concurrency is 1, so admissions never race.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from assay.analysis.admission import dispatch
from assay.config import load_settings
from assay.observability import logger
from assay.wiring import build_ports, make_admission, make_launcher

_settings = load_settings()
_ports = build_ports(_settings, lazy=True)
_launcher = make_launcher(_settings, queued=False)  # Step Functions itself


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001 - the Lambda signature
    messages = [(r["messageId"], r["body"]) for r in event.get("Records", [])]
    again = dispatch(messages, _ports.records, make_admission(_settings, _ports.records), _launcher)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in again]}
