"""Console hosting: a private S3 bucket behind CloudFront with origin access control.

The console is static files (built by `make console` into the package) that talk only to the
public API. The distribution serves them from the bucket and sends `/v1/*` to the API, so the
page and the API share one origin: no CORS, and a content security policy that allows
`'self'` plus the sign-in provider. At deploy time the files and a `config.json` naming the
API and the Cognito issuer and client are published to the bucket. The bucket is reachable
only through the distribution (OAC, signed requests), served over HTTPS with security
headers (HSTS, CSP, no sniffing, frame denial, a strict referrer policy), and both the
distribution and the bucket log access.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as deployment
from constructs import Construct

from stacks import nag
from stacks.auth_stack import AuthStack
from stacks.data_stack import DataStack

CONSOLE_FILES = Path(__file__).resolve().parent.parent / "layers/core/assay/console/static"
CONSOLE_CONTEXT = "assay:consoleFiles"


def content_security_policy(region: str) -> str:
    """The page's own files, the API on the same origin, and Cognito for sign-in (the issuer's
    discovery and keys, and the hosted domain's token endpoint)."""
    cognito = (
        f"https://cognito-idp.{region}.amazonaws.com https://*.auth.{region}.amazoncognito.com"
    )
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {cognito}; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )


class ConsoleStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataStack,
        api: apigw.RestApi,
        auth: AuthStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        logs = data.buckets.access_logs
        self.bucket = s3.Bucket(
            self,
            "Files",
            encryption=s3.BucketEncryption.S3_MANAGED,  # CloudFront OAC reads SSE-S3 as is
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=logs,
            server_access_logs_prefix="console-bucket/",
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=False,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))],
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365),
                    include_subdomains=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(self.region), override=True
                ),
            ),
        )
        # The API behind the same host: nothing cached, every viewer header (Authorization,
        # Last-Event-ID, Idempotency-Key) but Host forwarded, streamed answers passed through.
        to_api = cloudfront.BehaviorOptions(
            origin=origins.RestApiOrigin(api, read_timeout=Duration.seconds(60)),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Assay console",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
            additional_behaviors={"/v1/*": to_api},
            # A single-page app: unknown paths are the app's own routes.
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=404, response_http_status=200, response_page_path="/index.html"
                ),
                cloudfront.ErrorResponse(
                    http_status=403, response_http_status=200, response_page_path="/index.html"
                ),
            ],
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=logs,
            log_file_prefix="console/",
        )
        self._publish(auth)
        CfnOutput(self, "ConsoleUrl", value=f"https://{self.distribution.domain_name}")
        CfnOutput(self, "ConsoleBucket", value=self.bucket.bucket_name)
        nag.suppress(
            self.distribution,
            "AwsSolutions-CFR1",
            "The console is for a company's own users wherever they are; access is "
            "controlled by sign-in, not geography",
        )
        nag.suppress(
            self.distribution,
            "AwsSolutions-CFR2",
            "Static files only: every request that matters goes to the API, which has "
            "its own throttling and optional WAF",
        )
        nag.suppress(
            self.distribution,
            "AwsSolutions-CFR4",
            "With CloudFront's default certificate viewers may negotiate TLS 1.0; a "
            "custom domain with its certificate raises it to TLS 1.2",
        )

    def _publish(self, auth: AuthStack) -> None:
        """The built files and their `config.json`, replaced on every deploy (old files are
        pruned) and invalidated in the distribution's cache."""
        files = Path(self.node.try_get_context(CONSOLE_CONTEXT) or CONSOLE_FILES)
        if not (files / "index.html").is_file():
            raise FileNotFoundError(
                f"the console is not built ({files} has no index.html): run `make console`"
            )
        config = {
            "api_url": "",  # the API is on this origin: the distribution routes /v1/* to it
            "oidc": {
                "issuer": auth.issuer,
                "client_id": auth.console_client.user_pool_client_id,
                "scope": "openid email profile",
            },
        }
        log_group = logs_.LogGroup(
            self,
            "PublishLogs",
            retention=logs_.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        deployment.BucketDeployment(
            self,
            "Publish",
            sources=[
                deployment.Source.asset(str(files)),
                deployment.Source.json_data("config.json", config),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
            log_group=log_group,
        )
        # CDK's own deployment function (a singleton in this stack) copies the files once per
        # deploy; it is not Assay's code, so its findings are acknowledged, each with why.
        (copier,) = [c for c in self.node.children
                     if c.node.id.startswith("Custom::CDKBucketDeployment")]  # fmt: skip
        nag.suppress(
            copier,
            "AwsSolutions-IAM4",
            "CDK's deployment function logs through the basic execution role; it runs only "
            "during a deploy",
            findings=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                      "AWSLambdaBasicExecutionRole"],
        )  # fmt: skip
        nag.suppress(
            copier,
            "AwsSolutions-IAM5",
            "CDK grants its deployment function read on the staged asset and read/write on "
            "the console bucket's objects (it replaces and prunes them), and invalidation of "
            "this distribution, which CloudFront's API cannot scope by resource",
            findings=[
                "Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*",
                "Action::s3:GetObject*", "Action::s3:List*", "Resource::*",
                "Resource::<Files8E6940B8.Arn>/*",
                "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
                "<AWS::Region>/*",
            ],
        )  # fmt: skip
        nag.suppress(
            copier,
            "AwsSolutions-L1",
            "CDK pins the runtime of its deployment function to what its bundled AWS CLI "
            "layer supports; it is upgraded with aws-cdk-lib",
        )
