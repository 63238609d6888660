"""The aws profile wired through the composition root, as a Lambda would get it:
DynamoDB, S3 and KMS through moto, limits on a real Redis server."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from assay import doctor, tenancy
from assay.blobs import tenant_key
from assay.blobs.s3 import S3BlobStore
from assay.config import Profile, Settings, load_settings
from assay.errors import StoreUnavailable
from assay.records import Scope
from assay.store.dynamodb import DynamoStore, table_schema
from assay.vault.kms import KmsVault
from assay.wiring import build_ports
from tests.conftest import REGION


@pytest.fixture
def aws_settings(aws: None, redis_url: str) -> Settings:
    boto3.client("dynamodb", region_name=REGION).create_table(**table_schema("assay-it"))
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="assay-it-artifacts", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    return load_settings(
        profile="aws",
        aws_region=REGION,
        table_name="assay-it",
        artifacts_bucket="assay-it-artifacts",
        kms_key_id=key,
        redis_url=redis_url,
    )


def test_the_aws_profile_wires_every_port(aws_settings: Settings) -> None:
    assert aws_settings.profile is Profile.AWS
    ports = build_ports(aws_settings)
    try:
        assert isinstance(ports.records, DynamoStore)
        assert isinstance(ports.blobs, S3BlobStore)
        assert isinstance(ports.vault, KmsVault)

        tenant = tenancy.create_tenant(ports.records, "Acme")
        issued = tenancy.issue_key(ports.records, tenant, "ci", [Scope.ANALYSES_WRITE])
        assert tenancy.authenticate(ports.records, issued.key) == issued.record

        ports.blobs.put(tenant_key(tenant.id, "hello.txt"), b"hi")
        assert ports.blobs.get(tenant_key(tenant.id, "hello.txt")) == b"hi"
        assert ports.vault.open(tenant.id, ports.vault.seal(tenant.id, b"sk")) == b"sk"
        assert ports.limits.hit(f"it-{tenant.id}", limit=1, window_s=60).allowed
        assert not ports.limits.hit(f"it-{tenant.id}", limit=1, window_s=60).allowed
    finally:
        ports.close()


def test_doctor_passes_on_a_healthy_aws_profile(aws_settings: Settings) -> None:
    report = doctor.run(aws_settings)
    by_name = {c.name: c for c in report.checks}
    for name in ("records", "artifacts", "secrets", "limits"):
        assert by_name[name].status is doctor.Status.OK, by_name[name]
    assert "DynamoDB table assay-it" in by_name["records"].detail
    assert "data dir" not in by_name  # no local data in the aws profile


def test_missing_aws_resources_are_clear_errors(aws: None, tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="ASSAY_TABLE_NAME"):
        DynamoStore("no-such-table", region=REGION).ping()
    s3 = boto3.client("s3", region_name=REGION)
    with pytest.raises(StoreUnavailable, match="ASSAY_ARTIFACTS_BUCKET"):
        S3BlobStore("no-such-bucket", s3).ping()
    kms = boto3.client("kms", region_name=REGION)
    with pytest.raises(StoreUnavailable, match="ASSAY_KMS_KEY_ID"):
        KmsVault("alias/missing", kms).seal("t1", b"x")


def _state_machine() -> str:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="assay-sfn", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    definition = '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'
    return str(
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="assay-analysis", definition=definition, roleArn=role
        )["stateMachineArn"]
    )


def test_submitting_in_aws_starts_one_execution_named_after_the_analysis(
    aws_settings: Settings,
) -> None:
    from fastapi.testclient import TestClient

    from assay.api import create_app

    arn = _state_machine()
    settings = aws_settings.model_copy(update={"state_machine_arn": arn})
    ports = build_ports(settings)
    tenant = tenancy.create_tenant(ports.records, "Acme")
    issued = tenancy.issue_key(ports.records, tenant, "ci", [Scope.ANALYSES_WRITE])
    headers = {"Authorization": f"Bearer {issued.key}", "Idempotency-Key": "one"}
    body = {"source": "https://git.example.com/acme/shop.git"}
    with TestClient(create_app(ports)) as client:
        first = client.post("/v1/analyses", json=body, headers=headers)
        again = client.post("/v1/analyses", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert execution["name"] == first.json()["id"]
    started = sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"]) == {"tenant_id": tenant.id,
                                            "analysis_id": first.json()["id"]}  # fmt: skip
    ports.close()


def test_an_analysis_that_cannot_be_started_is_a_503_and_marked_failed(
    aws_settings: Settings,
) -> None:
    from fastapi.testclient import TestClient

    from assay.api import create_app

    missing = f"arn:aws:states:{REGION}:123456789012:stateMachine:gone"
    settings = aws_settings.model_copy(update={"state_machine_arn": missing})
    ports = build_ports(settings)
    tenant = tenancy.create_tenant(ports.records, "Acme")
    issued = tenancy.issue_key(
        ports.records, tenant, "ci", [Scope.ANALYSES_WRITE, Scope.ANALYSES_READ]
    )
    headers = {"Authorization": f"Bearer {issued.key}"}
    with TestClient(create_app(ports), raise_server_exceptions=False) as client:
        answer = client.post(
            "/v1/analyses", json={"source": "https://git.example.com/a.git"}, headers=headers
        )
        assert answer.status_code == 503
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["title"]
        listed = client.get("/v1/analyses", headers=headers).json()["items"]
    (record,) = listed
    assert record["status"] == "failed"
    assert "Step Functions" in record["reason"]
    ports.close()
