"""The data stack: what it must contain, and that cdk-nag finds nothing unacknowledged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from assay.store.dynamodb import LOOKUP_INDEX, TTL_ATTRIBUTE, table_schema
from tests.infra.conftest import Synthesized


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(synthesized: Synthesized) -> None:
    for plugin in synthesized.report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
        for acknowledged in plugin.get("suppressedViolations", []):
            assert len(acknowledged.get("reason", "")) >= 20, acknowledged["ruleName"]


def test_the_table_matches_the_dynamodb_adapter(synthesized: Synthesized) -> None:
    (table,) = _resources(synthesized.data_json, "AWS::DynamoDB::Table")
    props = table["Properties"]
    expected = table_schema("ignored")
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        expected["AttributeDefinitions"], key=lambda a: a["AttributeName"]
    )
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LOOKUP_INDEX
    assert index["KeySchema"] == expected["GlobalSecondaryIndexes"][0]["KeySchema"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_the_table_is_protected(synthesized: Synthesized) -> None:
    synthesized.data.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "DeletionProtectionEnabled": True,
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "TimeToLiveSpecification": {
                        "AttributeName": TTL_ATTRIBUTE,
                        "Enabled": True,
                    },
                    "SSESpecification": Match.object_like(
                        {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()}
                    ),
                }
            ),
        },
    )


def test_keys_rotate_and_are_kept(synthesized: Synthesized) -> None:
    keys = _resources(synthesized.data_json, "AWS::KMS::Key")
    assert len(keys) == 3
    symmetric = [k for k in keys if "KeySpec" not in k["Properties"]]
    signing = [k for k in keys if k["Properties"].get("KeySpec") == "ECC_NIST_P256"]
    assert len(symmetric) == 2 and len(signing) == 1
    for key in symmetric:
        assert key["Properties"]["EnableKeyRotation"] is True
    # KMS cannot rotate asymmetric keys; kept forever so old bundles stay verifiable.
    assert signing[0]["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    for key in keys:
        assert key["DeletionPolicy"] == "Retain"
    aliases = {
        a["Properties"]["AliasName"] for a in _resources(synthesized.data_json, "AWS::KMS::Alias")
    }
    assert aliases == {"alias/assay/data", "alias/assay/secrets", "alias/assay/evidence-signing"}


def test_buckets_are_private_encrypted_versioned_and_tls_only(synthesized: Synthesized) -> None:
    buckets = _resources(synthesized.data_json, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets:
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert props["LifecycleConfiguration"]["Rules"]
        assert "AccessControl" not in props  # bucket policies, not ACLs
    policies = _resources(synthesized.data_json, "AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies:
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        )


def test_artifacts_use_the_data_key_and_log_access(synthesized: Synthesized) -> None:
    synthesized.data.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like(
                        {
                            "BucketKeyEnabled": True,
                            "ServerSideEncryptionByDefault": Match.object_like(
                                {"SSEAlgorithm": "aws:kms"}
                            ),
                        }
                    )
                ]
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "artifacts/"}),
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}
                        )
                    ]
                )
            },
        },
    )


def test_the_vpc_logs_flows_and_reaches_dynamodb_and_s3_privately(synthesized: Synthesized) -> None:
    synthesized.data.resource_count_is("AWS::EC2::VPC", 1)
    synthesized.data.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})
    endpoints = _resources(synthesized.data_json, "AWS::EC2::VPCEndpoint")
    services = " ".join(str(e["Properties"]["ServiceName"]) for e in endpoints)
    assert "dynamodb" in services
    assert ".s3" in services


def test_the_cache_is_serverless_redis_in_isolated_subnets(synthesized: Synthesized) -> None:
    (cache,) = _resources(synthesized.data_json, "AWS::ElastiCache::ServerlessCache")
    props = cache["Properties"]
    assert props["Engine"] == "redis"
    assert len(props["SubnetIds"]) == 2
    assert props["KmsKeyId"]
    (ingress,) = [i for i in _resources(synthesized.data_json, "AWS::EC2::SecurityGroupIngress")
                  if i["Properties"]["FromPort"] == 6379]  # fmt: skip
    assert ingress["Properties"]["FromPort"] == ingress["Properties"]["ToPort"] == 6379
    assert "SourceSecurityGroupId" in ingress["Properties"]  # from the clients group only
    assert "CidrIp" not in ingress["Properties"]


def test_outputs_name_what_the_aws_profile_needs(synthesized: Synthesized) -> None:
    assert {"TableName", "ArtifactsBucket", "SecretsKeyArn", "RedisUrl"} <= set(
        synthesized.data_json["Outputs"]
    )


def test_cdk_nag_is_wired_and_fails_synthesis_on_a_finding(tmp_path: Path, layer: Path) -> None:
    from aws_cdk import aws_s3 as s3

    from stacks.assay_app import AssayStacks, new_app
    from stacks.lambdas import LAYER_CONTEXT

    app = new_app(outdir=str(tmp_path), context={LAYER_CONTEXT: str(layer)})
    stacks = AssayStacks(app)
    s3.Bucket(stacks.data, "Careless")  # no access logs, no TLS-only policy
    with pytest.raises(RuntimeError, match=r"ValidationFailed(.|\n)*AwsSolutions-S1"):
        app.synth()


def test_an_acknowledged_finding_is_reported_with_its_reason(tmp_path: Path, layer: Path) -> None:
    import json

    from aws_cdk import aws_s3 as s3

    from stacks import nag
    from stacks.assay_app import AssayStacks, new_app
    from stacks.lambdas import LAYER_CONTEXT

    app = new_app(outdir=str(tmp_path), context={LAYER_CONTEXT: str(layer)})
    stacks = AssayStacks(app)
    bucket = s3.Bucket(stacks.data, "Scratch", enforce_ssl=True)
    nag.suppress(bucket, "AwsSolutions-S1", "Scratch bucket for a test; nothing to audit.")
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    acknowledged = [
        (v["ruleName"], v["reason"])
        for plugin in report["pluginReports"]
        for v in plugin.get("suppressedViolations", [])
    ]
    assert ("AwsSolutions-S1", "Scratch bucket for a test; nothing to audit.") in acknowledged
    with pytest.raises(ValueError, match="must say why"):
        nag.suppress(bucket, "AwsSolutions-S10", "because")
