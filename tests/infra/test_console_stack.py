"""Console hosting: a private bucket readable only by its CloudFront distribution (OAC),
served over HTTPS with security headers, with access logs."""

from __future__ import annotations

import json
from typing import Any

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
