"""Observability: alarms on the API functions' errors, every function's throttles, failed and
timed-out analyses, the API's 5xx and latency, all notifying one encrypted topic; a dashboard
over the same metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stacks.workflow_stack import STEPS
from tests.infra.conftest import Synthesized


def _all(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_every_function_and_the_api_have_alarms_that_notify(synthesized: Synthesized) -> None:
    alarms = _all(synthesized.observability_json, "AWS::CloudWatch::Alarm")
    metrics = sorted((a["Namespace"], a["MetricName"]) for a in alarms)
    assert metrics.count(("AWS/Lambda", "Errors")) == 3  # api, api_stream, gateway
    assert metrics.count(("AWS/Lambda", "Throttles")) == 3 + len(STEPS)  # and each workflow step
    for name in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"):
        assert ("AWS/States", name) in metrics
    assert ("AWS/ApiGateway", "5XXError") in metrics and ("AWS/ApiGateway", "Latency") in metrics
    (topic,) = _all(synthesized.observability_json, "AWS::SNS::Topic")
    assert "KmsMasterKeyId" in topic
    for alarm in alarms:
        assert alarm["AlarmActions"] and alarm["TreatMissingData"] == "notBreaching"


def test_the_dashboard_shows_the_api_and_each_function(synthesized: Synthesized) -> None:
    (dashboard,) = _all(synthesized.observability_json, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    for title in ("API requests and errors", "API latency", "Api:", "ApiStream:", "Gateway:",
                  "ExecuteStep:", "Analyses: started"):  # fmt: skip
        assert title in body


def test_an_alarm_email_subscribes_from_context(tmp_path: Path, layer: Path) -> None:
    from stacks.assay_app import AssayStacks, new_app
    from stacks.lambdas import LAYER_CONTEXT

    app = new_app(
        outdir=str(tmp_path),
        context={LAYER_CONTEXT: str(layer), "assay:alarmEmail": "ops@example.com"},
    )
    AssayStacks(app)
    template = app.synth().get_stack_by_name("AssayObservability").template
    (subscription,) = _all(template, "AWS::SNS::Subscription")
    assert subscription["Protocol"] == "email" and subscription["Endpoint"] == "ops@example.com"
