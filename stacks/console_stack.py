"""Console hosting: a private S3 bucket behind CloudFront with origin access control.

The console is static files that talk only to the public API; this stack is where they are
served from (the console issue publishes the built files and the API's URL here). The bucket
is reachable only through the distribution (OAC, signed requests), served over HTTPS with
security headers (HSTS, no sniffing, frame denial, a strict referrer policy), and both the
distribution and the bucket log access.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import nag
from stacks.data_stack import DataStack


class ConsoleStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, data: DataStack, **kwargs: Any
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
            ),
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
