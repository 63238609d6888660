"""S3 buckets: artifacts (SSE-KMS, versioned, TLS-only) and the access log bucket."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


def artifacts_bucket_name() -> str:
    """Named after account and region, so other stacks can fence access by an ARN they
    build themselves (`tenants/*`) instead of importing this one."""
    return f"assay-artifacts-{Aws.ACCOUNT_ID}-{Aws.REGION}"


def artifacts_bucket_arn() -> str:
    return f"arn:{Aws.PARTITION}:s3:::{artifacts_bucket_name()}"


class ArtifactBuckets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        # Server access logs only support SSE-S3 on the destination bucket.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
        )
        self.artifacts = s3.Bucket(
            self,
            "Artifacts",
            bucket_name=artifacts_bucket_name(),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,  # one KMS call per object batch, not per object
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
                s3.LifecycleRule(
                    id="expire-old-versions", noncurrent_version_expiration=Duration.days(30)
                ),
                s3.LifecycleRule(
                    id="expire-scratch", prefix="scratch/", expiration=Duration.days(7)
                ),
                s3.LifecycleRule(
                    id="archive-snapshots",
                    prefix="snapshots/",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(30),
                        )
                    ],
                ),
            ],
        )
