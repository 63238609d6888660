"""The API stack: API Gateway (REST) in front of three functions built from `functions/`:

- `api`: the HTTPS API through Mangum (buffered answers);
- `api_stream`: the same API under the Lambda Web Adapter for Server-Sent Events
  (`GET /v1/analyses/{id}/events`, response streaming);
- `gateway`: the LLM gateway alone under the Lambda Web Adapter (`/v1/chat/completions`,
  `/v1/embeddings`, `/v1/models`, response streaming), next to Redis.

Throttling on the stage, access logs to an encrypted log group, X-Ray tracing; an optional
custom domain (`assay:domainName` + `assay:certificateArn`) and WAF (`assay:waf`) through
context. Every function gets exactly the data access it uses: the records table, the
artifacts bucket, the secrets key (with a `tenant` encryption context only) and, through its
security group, the cache.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks import nag
from stacks.data_stack import DataStack
from stacks.grants import acknowledge_function, grant_data, profile_environment
from stacks.lambdas import Placement, assay_function, assay_layer, web_adapter
from stacks.workflow_stack import WorkflowStack

STREAMED_PATHS = ("chat/completions", "embeddings", "models")
RATE_LIMIT_RPS = 200
BURST_LIMIT = 400


class ApiStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataStack,
        workflow: WorkflowStack,
        oidc: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        arm = self.node.try_get_context("assay:architecture") == "arm64"
        architecture = lambda_.Architecture.ARM_64 if arm else lambda_.Architecture.X86_64
        placement = Placement(
            layer=assay_layer(self, "AssayLayer", architecture),
            vpc=data.network.vpc,
            security_groups=[data.cache.clients],
            log_key=data.keys.data,
            architecture=architecture,
            environment={
                **profile_environment(data),
                "ASSAY_STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn,
                "ASSAY_ANALYSIS_QUEUE_URL": workflow.analysis_queue.queue_url,
                "ASSAY_EVAL_STATE_MACHINE_ARN": workflow.eval_state_machine.state_machine_arn,
                **(oidc or {}),
            },
        )
        adapter = web_adapter(self, "WebAdapter", architecture)
        self.api_function = assay_function(
            self,
            "Api",
            placement=placement,
            folder="api",
            handler="handler.handler",
            description="Assay: the HTTPS API (FastAPI through Mangum)",
        )
        self.stream_function = assay_function(
            self,
            "ApiStream",
            placement=placement,
            folder="api_stream",
            handler="run.sh",
            description="Assay: Server-Sent Events of analyses (Lambda Web Adapter)",
            streaming=True,
            extra_layers=[adapter],
            timeout=Duration.minutes(15),
        )
        self.gateway_function = assay_function(
            self,
            "Gateway",
            placement=placement,
            folder="gateway",
            handler="run.sh",
            description="Assay: the LLM gateway (Lambda Web Adapter, streamed completions)",
            streaming=True,
            extra_layers=[adapter],
            timeout=Duration.minutes(15),
            memory_mb=1769,  # a full vCPU: the gateway's overhead is CPU time
        )
        functions = (self.api_function, self.stream_function, self.gateway_function)
        for function in functions:
            grant_data(function, data)
        # Submitting an analysis queues it for the dispatcher (see assay.launcher); starting
        # an eval run starts an execution of the eval-run machine.
        for statement in (
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[workflow.eval_state_machine.state_machine_arn],
            ),
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[workflow.analysis_queue.queue_arn]
            ),
            iam.PolicyStatement(  # the queue is encrypted with the data key
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[data.keys.data.key_arn]
            ),
        ):
            self.api_function.add_to_role_policy(statement)

        self.api = self._rest_api()
        self._routes()
        self._optional_domain_and_waf()
        CfnOutput(self, "ApiUrl", value=self.api.url)
        self._acknowledge(functions)

    def _rest_api(self) -> apigw.RestApi:
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        stage = self.node.try_get_context("assay:stage") or "prod"
        return apigw.RestApi(
            self,
            "RestApi",
            description="Assay: the HTTPS API and the LLM gateway",
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                tracing_enabled=True,
                throttling_rate_limit=RATE_LIMIT_RPS,
                throttling_burst_limit=BURST_LIMIT,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
            ),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            binary_media_types=[
                "application/gzip",
                "application/zip",
                "application/octet-stream",
            ],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
        )

    def _routes(self) -> None:
        buffered = apigw.LambdaIntegration(self.api_function)
        streamed_api = apigw.LambdaIntegration(
            self.stream_function,
            response_transfer_mode=apigw.ResponseTransferMode.STREAM,
            timeout=Duration.minutes(15),
        )
        streamed_gateway = apigw.LambdaIntegration(
            self.gateway_function,
            response_transfer_mode=apigw.ResponseTransferMode.STREAM,
            timeout=Duration.minutes(15),
        )
        root = self.api.root
        # Authentication is the application's (API keys and OIDC JWTs), on every route.
        # Streamed routes are explicit resources; everything else falls to the buffered API,
        # with a catch-all under each explicit level (API Gateway does not backtrack to a
        # catch-all higher up once a path has matched an explicit resource).
        root.add_method("ANY", buffered)
        root.add_proxy(default_integration=buffered, any_method=True)
        v1 = root.add_resource("v1")
        v1.add_method("ANY", buffered)
        v1.add_proxy(default_integration=buffered, any_method=True)
        for path in STREAMED_PATHS:
            v1.resource_for_path(path).add_method("ANY", streamed_gateway)
        analyses = v1.add_resource("analyses")
        analyses.add_method("ANY", buffered)
        one = analyses.add_resource("{analysis_id}")
        one.add_method("ANY", buffered)
        one.add_proxy(default_integration=buffered, any_method=True)
        one.add_resource("events").add_method("GET", streamed_api)

    def _optional_domain_and_waf(self) -> None:
        domain = self.node.try_get_context("assay:domainName")
        certificate = self.node.try_get_context("assay:certificateArn")
        if domain and certificate:
            self.api.add_domain_name(
                "Domain",
                domain_name=domain,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", certificate),
                security_policy=apigw.SecurityPolicy.TLS_1_2,
            )
        if self.node.try_get_context("assay:waf"):
            acl = wafv2.CfnWebACL(
                self,
                "Waf",
                scope="REGIONAL",
                default_action={"allow": {}},
                visibility_config=_visibility("assay-api"),
                rules=[
                    _managed(0, "AWSManagedRulesCommonRuleSet"),
                    _managed(1, "AWSManagedRulesKnownBadInputsRuleSet"),
                    _managed(2, "AWSManagedRulesAmazonIpReputationList"),
                ],
            )
            wafv2.CfnWebACLAssociation(
                self,
                "WafAssociation",
                web_acl_arn=acl.attr_arn,
                resource_arn=self.api.deployment_stage.stage_arn,
            )

    def _acknowledge(self, functions: tuple[lambda_.Function, ...]) -> None:
        nag.suppress(
            self.api,
            "AwsSolutions-APIG4",
            "Every route authenticates in the application: API keys by hash and OIDC "
            "JWTs (tests/unit/test_api.py walks every route)",
        )
        nag.suppress(
            self.api,
            "AwsSolutions-COG4",
            "Cognito tokens are verified by the application (ASSAY_OIDC_ISSUER) along "
            "with API keys, which a Cognito authorizer could not accept",
        )
        nag.suppress(
            self.api,
            "AwsSolutions-APIG2",
            "Requests are validated by the application against its OpenAPI models, "
            "answering RFC 9457 problems, and by the gateway against OpenAI's shapes",
        )
        if not self.node.try_get_context("assay:waf"):
            nag.suppress(
                self.api,
                "AwsSolutions-APIG3",
                "WAF is opt-in (context assay:waf=true); the stage is throttled and "
                "every caller is rate limited by the application",
            )
        nag.suppress(
            self.api,
            "AwsSolutions-IAM4",
            "API Gateway's account role needs its managed policy to write access logs",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs"
            ],
        )
        for function in functions:
            acknowledge_function(function)


def _visibility(name: str) -> dict[str, Any]:
    return {"cloudWatchMetricsEnabled": True, "metricName": name, "sampledRequestsEnabled": True}


def _managed(priority: int, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "priority": priority,
        "overrideAction": {"none": {}},
        "statement": {"managedRuleGroupStatement": {"vendorName": "AWS", "name": name}},
        "visibilityConfig": _visibility(name),
    }
