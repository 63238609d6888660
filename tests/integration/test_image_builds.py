"""The sandbox images' build as the deployment runs it (functions/image_builds): a CodeBuild
build started, followed until it ends, and each image's digest read from ECR; on moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import REGION
from tests.support.modules import load

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "image_builds" / "handler.py"
NAMES = ("python", "go")


def _handler() -> Any:
    return load(HANDLER, "assay_image_builds")


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    codebuild = boto3.client("codebuild", region_name=REGION)
    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="assay-sandbox")
    codebuild.create_project(
        name="assay-images", source={"type": "S3", "location": "assets/sandbox-tasks.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                     "computeType": "BUILD_GENERAL1_LARGE", "privilegedMode": True},
        serviceRole="arn:aws:iam::123456789012:role/build",
    )  # fmt: skip
    return codebuild, ecr


def _event(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": kind,
        "ResourceProperties": {"Project": "assay-images", "Source": "abc123",
                               "Repository": "assay-sandbox", "Images": ",".join(NAMES)},
        **extra,
    }  # fmt: skip


def test_a_deploy_builds_the_images_and_answers_their_digests(clients: tuple[Any, Any]) -> None:
    codebuild, ecr = clients
    handler = _handler()
    started = handler.on_event(_event("Create"), codebuild=codebuild)
    assert started["PhysicalResourceId"] == "assay-images:abc123"
    # What the build pushes: one image per name, tagged with the source's hash.
    pushed = {}
    for name in NAMES:
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": f"sha256:{name}"},
        })  # fmt: skip
        image = ecr.put_image(repositoryName="assay-sandbox", imageManifest=manifest,
                              imageTag=f"{name}-abc123")["image"]  # fmt: skip
        pushed[name] = image["imageId"]["imageDigest"]
    answer: dict[str, Any] = {"IsComplete": False}
    for _ in range(20):  # moto moves a build on a phase per look
        answer = handler.is_complete(_event("Create", Data=started["Data"]), codebuild=codebuild,
                                     ecr=ecr)  # fmt: skip
        if answer["IsComplete"]:
            break
    assert answer == {"IsComplete": True, "Data": pushed}
    assert all(digest.startswith("sha256:") for digest in pushed.values())


def test_a_build_without_its_images_fails_the_deployment_and_delete_builds_nothing(
    clients: tuple[Any, Any],
) -> None:
    codebuild, ecr = clients
    handler = _handler()
    started = handler.on_event(_event("Create"), codebuild=codebuild)
    with pytest.raises(RuntimeError, match="did not push every image"):
        handler.is_complete(_event("Create", Data=started["Data"]), codebuild=codebuild, ecr=ecr)
    gone = _event("Delete", PhysicalResourceId="assay-images:abc123")
    assert handler.on_event(gone, codebuild=codebuild) == {
        "PhysicalResourceId": "assay-images:abc123"
    }
    assert handler.is_complete(gone) == {"IsComplete": True}
    assert len(codebuild.list_builds()["ids"]) == 1  # only the first one
