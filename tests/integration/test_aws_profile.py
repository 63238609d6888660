"""The aws profile wired through the composition root, as a Lambda would get it:
DynamoDB, S3 and KMS through moto, limits on a real Redis server."""

from __future__ import annotations

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
