"""Analyses queued in AWS and admitted by the dispatcher (`functions/queue/handler.py`): at
most so many running, at most so many per tenant, the rest handed back to the queue; SQS,
Step Functions and DynamoDB through moto."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from assay import tenancy
from assay.analysis import admission as admission_module
from assay.analysis.admission import dispatch
from assay.config import Settings, load_settings
from assay.records import Analysis, AnalysisStatus, Scope
from assay.store.dynamodb import table_schema
from assay.wiring import build_ports, make_admission, make_launcher
from tests.conftest import REGION
from tests.support.modules import load

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "queue" / "handler.py"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture
def queued(aws: None, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    boto3.client("dynamodb", region_name=REGION).create_table(**table_schema("assay-q"))
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="assay-q", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="assay-analysis", definition=PASS, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="assay-analyses")
    env = {
        "ASSAY_PROFILE": "aws", "AWS_REGION": REGION, "ASSAY_TABLE_NAME": "assay-q",
        "ASSAY_ARTIFACTS_BUCKET": "assay-q", "ASSAY_KMS_KEY_ID": key,
        "ASSAY_REDIS_URL": redis_url, "ASSAY_STATE_MACHINE_ARN": machine,
        "ASSAY_ANALYSIS_QUEUE_URL": queue["QueueUrl"], "ASSAY_MAX_RUNNING_ANALYSES": "3",
        "ASSAY_TENANT_MAX_RUNNING_ANALYSES": "2",
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def _received(settings: Settings) -> list[dict[str, Any]]:
    """What the SQS event source hands the dispatcher: every visible message."""
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=settings.analysis_queue_url, MaxNumberOfMessages=10,
                              VisibilityTimeout=0)  # fmt: skip
    return [{"messageId": m["MessageId"], "body": m["Body"]} for m in got.get("Messages", [])]


def _started(settings: Settings) -> set[str]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    listed = sfn.list_executions(stateMachineArn=settings.state_machine_arn)["executions"]
    return {e["name"] for e in listed}


def _load_handler() -> Any:
    return load(HANDLER, "assay_queue_handler")


def test_submissions_wait_for_a_slot_overall_and_per_tenant(queued: Settings) -> None:
    from fastapi.testclient import TestClient

    from assay.api import create_app

    ports = build_ports(queued)
    acme, globex = (tenancy.create_tenant(ports.records, n) for n in ("Acme", "Globex"))
    ids: dict[str, list[str]] = {acme.id: [], globex.id: []}
    with TestClient(create_app(ports)) as client:
        for tenant, count in ((acme, 3), (globex, 2)):
            key = tenancy.issue_key(ports.records, tenant, "ci", [Scope.ANALYSES_WRITE]).key
            for number in range(count):
                answer = client.post(
                    "/v1/analyses", json={"source": f"https://git.example.com/a/{number}.git"},
                    headers={"Authorization": f"Bearer {key}"},
                )  # fmt: skip
                assert answer.status_code == 202, answer.text
                ids[tenant.id].append(answer.json()["id"])
    assert _started(queued) == set()  # submitting only queues

    handler = _load_handler()
    context = SimpleNamespace(function_name="assay-queue", memory_limit_in_mb=512,
                              aws_request_id="r", invoked_function_arn="arn:x")  # fmt: skip
    messages = _received(queued)
    assert len(messages) == 5
    answer = handler.handler({"Records": messages}, context)
    # Acme takes its two slots, Globex the third; the rest go back to the queue.
    started = _started(queued)
    assert started == {*ids[acme.id][:2], ids[globex.id][0]}
    back = {json.loads(m["body"])["analysis_id"] for m in messages
            if {"itemIdentifier": m["messageId"]} in answer["batchItemFailures"]}  # fmt: skip
    assert back == {ids[acme.id][2], ids[globex.id][1]}

    # An analysis finishes (the steps give its slot back): Acme's third one starts, Globex's
    # second still waits for a slot overall.
    admission = make_admission(queued, ports.records)
    admission.release(ids[acme.id][0])
    again = [m for m in messages if json.loads(m["body"])["analysis_id"] in back]
    answer = handler.handler({"Records": again}, context)
    assert _started(queued) == started | {ids[acme.id][2]}
    assert len(answer["batchItemFailures"]) == 1
    ports.close()


def test_a_slot_whose_execution_ended_unseen_is_reaped(
    queued: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    monkeypatch.setattr(admission_module, "REAP_AFTER", timedelta(0))
    ports = build_ports(queued)
    tenant = tenancy.create_tenant(ports.records, "Acme")
    analyses = [ports.records.create(Analysis(tenant_id=tenant.id, source=f"s{n}"))
                for n in range(3)]  # fmt: skip
    admission = make_admission(queued, ports.records)
    starter = make_launcher(queued, queued=False)
    bodies = [(a.id, json.dumps({"tenant_id": tenant.id, "analysis_id": a.id}))
              for a in analyses]  # fmt: skip
    assert dispatch(bodies, ports.records, admission, starter) == [analyses[2].id]
    # The first execution ends without its steps saying so (aborted): its slot is reaped.
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = queued.state_machine_arn
    assert arn is not None
    execution = arn.replace(":stateMachine:", ":execution:") + f":{analyses[0].id}"
    sfn.stop_execution(executionArn=execution)
    assert dispatch(bodies[2:], ports.records, admission, starter) == []
    assert analyses[2].id in _started(queued)
    ports.close()


def test_messages_for_nothing_queued_are_dropped(queued: Settings) -> None:
    ports = build_ports(queued)
    tenant = tenancy.create_tenant(ports.records, "Acme")
    cancelled = ports.records.create(
        Analysis(tenant_id=tenant.id, source="s", status=AnalysisStatus.CANCELLED)
    )
    admission = make_admission(queued, ports.records)
    starter = make_launcher(queued, queued=False)
    bodies = [
        ("m1", "not json"),
        ("m2", json.dumps({"tenant_id": tenant.id, "analysis_id": "gone"})),
        ("m3", json.dumps({"tenant_id": tenant.id, "analysis_id": cancelled.id})),
    ]
    assert dispatch(bodies, ports.records, admission, starter) == []
    assert _started(queued) == set()
    ports.close()
