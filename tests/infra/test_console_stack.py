"""Console hosting: a private bucket readable only by its CloudFront distribution (OAC),
served over HTTPS with security headers, with access logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import Synthesized


def _one(template: dict[str, Any], kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(k, r["Properties"]) for k, r in template["Resources"].items()
                if r["Type"] == kind]  # fmt: skip
    return found


def test_the_bucket_is_private_and_read_only_by_the_distribution(
    synthesized: Synthesized,
) -> None:
    template = synthesized.console_json
    _, bucket = _one(template, "AWS::S3::Bucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True,
        "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert "LoggingConfiguration" in bucket
    _, policy = _one(template, "AWS::S3::BucketPolicy")
    reads = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(reads) == 1
    assert reads[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert reads[0]["Action"] == "s3:GetObject"
    assert "AWS:SourceArn" in json.dumps(reads[0]["Condition"])
    denials = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denials)
    _, control = _one(template, "AWS::CloudFront::OriginAccessControl")
    assert control["OriginAccessControlConfig"]["SigningBehavior"] == "always"


def test_the_distribution_serves_https_with_security_headers(synthesized: Synthesized) -> None:
    template = synthesized.console_json
    _, distribution = _one(template, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Logging"]["Prefix"] == "console/"
    assert {e["ErrorCode"] for e in config["CustomErrorResponses"]} == {403, 404}
    _, headers = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")
    security = headers["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ContentTypeOptions"]["Override"] is True


def test_the_api_shares_the_console_host_uncached(synthesized: Synthesized) -> None:
    """/v1/* goes to the API: same origin (no CORS), nothing cached, Authorization forwarded."""
    template = synthesized.console_json
    _, distribution = _one(template, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    (api,) = config["CacheBehaviors"]
    assert api["PathPattern"] == "/v1/*"
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert {"POST", "PUT", "PATCH", "DELETE"} <= set(api["AllowedMethods"])
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    # AllViewerExceptHostHeader: with caching off it forwards Authorization, not Host.
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    (origin,) = [o for o in config["Origins"] if o["Id"] == api["TargetOriginId"]]
    assert "execute-api" in json.dumps(origin["DomainName"])
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


def test_the_console_has_a_content_security_policy(synthesized: Synthesized) -> None:
    _, headers = _one(synthesized.console_json, "AWS::CloudFront::ResponseHeadersPolicy")
    security = headers["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    policy = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "amazoncognito.com" in policy  # the hosted sign-in's token endpoint


def test_deploys_publish_the_built_files_and_their_config(synthesized: Synthesized) -> None:
    template = synthesized.console_json
    _, publish = _one(template, "Custom::CDKBucketDeployment")
    assert len(publish["SourceObjectKeys"]) == 2  # the built files, and config.json
    markers = json.dumps(publish["SourceMarkers"])
    assert "cognito-idp." in markers and "AssayAuth" in markers  # issuer and client id
    assert publish["DistributionPaths"] == ["/*"]
    assert publish["Prune"] is not False
    # The deployment's function logs to a group with a retention.
    groups = [r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert groups and all(g["Properties"]["RetentionInDays"] > 0 for g in groups)


def test_synthesis_refuses_an_unbuilt_console(tmp_path: Path, layer: Path) -> None:
    from stacks.assay_app import AssayStacks, new_app
    from stacks.console_stack import CONSOLE_CONTEXT
    from stacks.lambdas import LAYER_CONTEXT

    app = new_app(outdir=str(tmp_path / "out"),
                  context={LAYER_CONTEXT: str(layer), CONSOLE_CONTEXT: str(tmp_path)})  # fmt: skip
    with pytest.raises(FileNotFoundError, match="make console"):
        AssayStacks(app)
