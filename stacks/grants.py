"""What every Assay function gets: the aws profile's settings, exactly the data access it uses,
and the reasons for the few findings cdk-nag raises on any Lambda in a VPC."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from assay.store.dynamodb import LOOKUP_INDEX
from stacks import nag
from stacks.artifacts import artifacts_bucket_arn
from stacks.data_stack import DataStack

TENANTS_PREFIX = "tenants/*"  # every tenant's objects live under tenants/<id>/


def profile_environment(data: DataStack) -> dict[str, str]:
    """The aws profile's settings (assay.config) every function reads."""
    return {
        "ASSAY_PROFILE": "aws",
        "ASSAY_TABLE_NAME": data.records.table.table_name,
        "ASSAY_ARTIFACTS_BUCKET": data.buckets.artifacts.bucket_name,
        "ASSAY_KMS_KEY_ID": data.keys.secrets.key_arn,
        "ASSAY_SIGNING_KEY_ID": data.keys.signing.key_arn,
        "ASSAY_REDIS_URL": data.cache.url,
        "POWERTOOLS_SERVICE_NAME": "assay",
        "POWERTOOLS_METRICS_NAMESPACE": "Assay",
    }


def grant_data(function: lambda_.Function, data: DataStack) -> None:
    """Explicit actions on explicit resources: no wildcard actions, no wildcard resources
    but tenants' object prefix."""
    table = data.records.table.table_arn
    for statement in (
        iam.PolicyStatement(
            actions=[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
                "dynamodb:BatchWriteItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:DescribeTable",
            ],
            resources=[table, f"{table}/index/{LOOKUP_INDEX}"],
        ),
        iam.PolicyStatement(
            actions=[
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
            ],
            resources=[f"{artifacts_bucket_arn()}/{TENANTS_PREFIX}"],
        ),
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[artifacts_bucket_arn()],
            conditions={"StringLike": {"s3:prefix": [TENANTS_PREFIX]}},
        ),
        # The data key encrypts the table and the bucket at rest.
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            resources=[data.keys.data.key_arn],
        ),
        # Sealing and opening tenants' secrets: only with a `tenant` encryption context.
        iam.PolicyStatement(
            actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
            resources=[data.keys.secrets.key_arn],
            conditions={"Null": {"kms:EncryptionContext:tenant": "false"}},
        ),
        # Evidence: the workflow signs checkpoints; the API shows and checks the public key.
        iam.PolicyStatement(
            actions=["kms:GetPublicKey"],
            resources=[data.keys.signing.key_arn],
        ),
    ):
        function.add_to_role_policy(statement)


def acknowledge_function(function: lambda_.Function) -> None:
    nag.suppress(
        function,
        "AwsSolutions-IAM4",
        "AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole are the "
        "minimum Lambda needs to write its logs and join the VPC",
        findings=[
            f"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{name}"
            for name in ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole")
        ],
    )
    nag.suppress(
        function,
        "AwsSolutions-IAM5",
        "X-Ray's PutTraceSegments and STS's GetServiceBearerToken (CodeArtifact only, by "
        "condition) take no resource; tenants' objects are one prefix, tenants/<id>/ fenced "
        "by the application",
        findings=[
            "Resource::*",
            "Resource::arn:<AWS::Partition>:s3:::"
            "assay-artifacts-<AWS::AccountId>-<AWS::Region>/tenants/*",
        ],
    )
    nag.suppress(
        function,
        "AwsSolutions-L1",
        "Python 3.12 is the runtime the layer is built for (make layer)",
    )
