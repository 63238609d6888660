"""Lambda functions the Assay way: one shared layer (the `assay` library and its dependencies,
built by `make layer` without Docker), Python 3.12, X-Ray tracing through Powertools, a log
group of our own (retention, KMS), the aws profile's settings in the environment, and a place
in the VPC next to the cache. A thin handler directory from `functions/` is each one's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "build" / "layer"
# The Lambda Web Adapter's public layer (awslabs/aws-lambda-web-adapter), for streamed answers.
WEB_ADAPTER = "arn:aws:lambda:{region}:753240598075:layer:LambdaAdapterLayer{arch}:25"
LAYER_CONTEXT = (
    "assay:layerPath"  # tests point this at a stand-in; `make synth` builds the real one
)


@dataclass(frozen=True)
class Placement:
    """What every function shares: the layer, the network and the settings."""

    layer: lambda_.ILayerVersion
    vpc: ec2.IVpc
    security_groups: list[ec2.ISecurityGroup]
    log_key: kms.IKey
    environment: dict[str, str]
    architecture: lambda_.Architecture


def layer_path(scope: Construct) -> Path:
    configured = scope.node.try_get_context(LAYER_CONTEXT)
    path = Path(configured) if configured else LAYER
    if not (path / "python").is_dir():
        raise ValueError(
            f"the Lambda layer is not built at {path}: run `make layer` (or `make synth`)"
        )
    return path


def assay_layer(
    scope: Construct, construct_id: str, architecture: lambda_.Architecture
) -> lambda_.LayerVersion:
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(str(layer_path(scope))),
        compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
        compatible_architectures=[architecture],
        description="Assay: the assay library and its dependencies",
    )


def web_adapter(
    scope: Construct, construct_id: str, architecture: lambda_.Architecture
) -> lambda_.ILayerVersion:
    arch = "Arm64" if architecture == lambda_.Architecture.ARM_64 else "X86"
    arn = WEB_ADAPTER.format(region=Stack.of(scope).region, arch=arch)
    return lambda_.LayerVersion.from_layer_version_arn(scope, construct_id, arn)


def assay_function(
    scope: Construct,
    construct_id: str,
    *,
    placement: Placement,
    folder: str,
    handler: str,
    description: str,
    memory_mb: int = 1024,
    timeout: Duration = Duration.seconds(30),  # noqa: B008 - an immutable default
    streaming: bool = False,
    extra_layers: list[lambda_.ILayerVersion] | None = None,
    environment: dict[str, str] | None = None,
    ephemeral_mb: int = 512,
) -> lambda_.Function:
    """One function from `functions/<folder>`. `streaming`: run `handler` (a run.sh) under the
    Lambda Web Adapter with response streaming."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=logs.RetentionDays.THREE_MONTHS,
        encryption_key=placement.log_key,
        removal_policy=RemovalPolicy.DESTROY,
    )
    settings = {**placement.environment, **(environment or {})}
    if streaming:
        settings.update(
            {
                "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
                "AWS_LWA_INVOKE_MODE": "response_stream",
                "AWS_LWA_READINESS_CHECK_PATH": "/healthz",
                "AWS_LWA_PORT": "8080",
            }
        )
    return lambda_.Function(
        scope,
        construct_id,
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=placement.architecture,
        code=lambda_.Code.from_asset(str(FUNCTIONS / folder), exclude=["__pycache__"]),
        handler=handler,
        layers=[placement.layer, *(extra_layers or [])],
        memory_size=memory_mb,
        ephemeral_storage_size=Size.mebibytes(ephemeral_mb),
        timeout=timeout,
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        environment=settings,
        vpc=placement.vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        security_groups=placement.security_groups,
    )
