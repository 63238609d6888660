"""The API stack: API Gateway in front of the API, streaming and gateway functions; least
privilege on data and keys; tracing, throttling, logs with retention."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from assay.store.dynamodb import LOOKUP_INDEX
from tests.infra.conftest import Synthesized


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _functions(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return _resources(synthesized.api_json, "AWS::Lambda::Function")


def _statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    found = []
    for policy in _resources(synthesized.api_json, "AWS::IAM::Policy").values():
        found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_three_functions_traced_in_the_vpc_with_their_own_logs(synthesized: Synthesized) -> None:
    functions = _functions(synthesized)
    handlers = sorted(f["Properties"]["Handler"] for f in functions.values())
    assert handlers == ["handler.handler", "run.sh", "run.sh"]
    log_groups = _resources(synthesized.api_json, "AWS::Logs::LogGroup")
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["VpcConfig"]["SubnetIds"] and props["VpcConfig"]["SecurityGroupIds"]
        assert props["Environment"]["Variables"]["ASSAY_PROFILE"] == "aws"
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert group["RetentionInDays"] > 0 and "KmsKeyId" in group
    for group in log_groups.values():
        assert group["Properties"].get("RetentionInDays"), "every log group has a retention"


def test_streamed_functions_run_under_the_web_adapter(synthesized: Synthesized) -> None:
    streamed = [
        f["Properties"]
        for f in _functions(synthesized).values()
        if f["Properties"]["Handler"] == "run.sh"
    ]
    assert len(streamed) == 2
    for props in streamed:
        settings = props["Environment"]["Variables"]
        assert settings["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
        assert settings["AWS_LWA_INVOKE_MODE"] == "response_stream"
        assert settings["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
        layers = json.dumps(props["Layers"])
        assert "LambdaAdapterLayerX86" in layers


def test_streamed_routes_use_response_streaming(synthesized: Synthesized) -> None:
    methods = _resources(synthesized.api_json, "AWS::ApiGateway::Method")
    streamed = {
        k: m
        for k, m in methods.items()
        if m["Properties"]["Integration"].get("ResponseTransferMode") == "STREAM"
    }
    assert len(streamed) == 4  # chat/completions, embeddings, models, analysis events
    for method in streamed.values():
        uri = json.dumps(method["Properties"]["Integration"]["Uri"])
        assert "/response-streaming-invocations" in uri
    buffered = [m for m in methods.values() if m not in streamed.values()]
    assert buffered and all(
        "/invocations" in json.dumps(m["Properties"]["Integration"]["Uri"]) for m in buffered
    )


def test_the_stage_is_traced_throttled_and_logged(synthesized: Synthesized) -> None:
    synthesized.api.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "ThrottlingRateLimit": Match.any_value(),
                            "ThrottlingBurstLimit": Match.any_value(),
                        }
                    )
                ]
            ),
        },
    )


def test_no_wildcard_actions_and_data_access_is_fenced(synthesized: Synthesized) -> None:
    statements = _statements(synthesized)
    for statement in statements:
        assert all("*" not in action for action in _actions(statement)), statement
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    assert dynamo
    for statement in dynamo:
        resources = json.dumps(statement["Resource"])
        assert "*" not in resources and f"/index/{LOOKUP_INDEX}" in resources
    objects = [s for s in statements if "s3:GetObject" in _actions(s)]
    assert objects
    for statement in objects:  # the artifacts bucket's tenants/ prefix, nothing wider
        resource = json.dumps(statement["Resource"])
        assert "assay-artifacts-" in resource and resource.count("*") == 1
        assert resource.endswith('"/tenants/*"]]}')
    listing = [s for s in statements if "s3:ListBucket" in _actions(s)]
    assert listing and all(
        s["Condition"] == {"StringLike": {"s3:prefix": ["tenants/*"]}} for s in listing
    )
    for statement in statements:
        if any(a.startswith("kms:") for a in _actions(statement)):
            assert statement["Resource"] != "*"


def test_secrets_are_opened_only_with_a_tenant_context(synthesized: Synthesized) -> None:
    secrets_key = synthesized.stacks.data.keys.secrets
    sealing = [
        s for s in _statements(synthesized) if "kms:Decrypt" in _actions(s) and "Condition" in s
    ]
    assert len(sealing) == 3  # one per function
    for statement in sealing:
        assert statement["Condition"] == {"Null": {"kms:EncryptionContext:tenant": "false"}}
    assert secrets_key is not None


def test_the_gateway_has_a_full_vcpu(synthesized: Synthesized) -> None:
    gateway = [
        f["Properties"]
        for f in _functions(synthesized).values()
        if "gateway" in f["Properties"]["Description"].lower()
    ]
    assert [g["MemorySize"] for g in gateway] == [1769]
