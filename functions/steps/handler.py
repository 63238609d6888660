"""Lambda entry points of the analysis workflow's steps: one function per Task state of
`statemachines/analysis.asl.json`, all from this file (`handler.intake`, `handler.generate`, ...).

Each runs the same `AnalysisSteps` method as the local runner, through `StepHost`, which
mirrors the analysis's files through S3 and its state through DynamoDB records and S3.
Errors reach Step Functions by name (`AnalysisFailed`, `Assay.Transient`, ...), where the
state's Retry and Catch decide.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from assay.analysis.distributed import StepHost
from assay.config import load_settings
from assay.observability import logger, tracer
from assay.wiring import build_ports, step_ports

SPARE_S = 60.0  # to push what the step changed before Lambda stops it
_settings = load_settings()
_ports = build_ports(_settings, lazy=True)
_host = StepHost(_settings, step_ports(_ports), scratch=_settings.home / "steps")
_tracer = tracer()


def _step(name: str) -> Any:
    @logger.inject_lambda_context(correlation_id_path="analysis_id", log_event=False)
    @_tracer.capture_lambda_handler(capture_response=False)
    def run(event: dict[str, Any], context: LambdaContext) -> Any:
        logger.append_keys(step=name, tenant_id=event.get("tenant_id"))
        # A minute before the Lambda's end, a sandbox job still running suspends the step.
        left_s = context.get_remaining_time_in_millis() / 1000
        return _host.run(name, event, deadline=time.monotonic() + max(1.0, left_s - SPARE_S))

    run.__name__ = name.lower()
    return run


intake = _step("Intake")
detect = _step("Detect")
install = _step("Install")
baseline = _step("Baseline")
plan = _step("Plan")
generate = _step("Generate")
execute = _step("Execute")
repair = _step("Repair")
select = _step("Select")
findings = _step("Findings")
mutation = _step("Mutation")
report = _step("Report")
seal = _step("Seal")
record_failure = _step("RecordFailure")
open_session = _step("OpenSession")
close_session = _step("CloseSession")
session_ready = _step("SessionReady")
