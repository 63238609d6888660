"""The sandbox images' build, as a CloudFormation custom resource (the CDK Provider framework):
`on_event` starts the CodeBuild project that builds every image from the uploaded
`sandbox-tasks/` folder and pushes it to ECR; `is_complete` is asked every half minute until
the build ends, then answers each image's digest, which the task definitions pin. So a deploy
needs no container engine where it runs, and a task never runs an image other than the one this
deployment built.

Self-contained (boto3 only): it runs before the Assay layer matters, in the sandbox stack.
"""

from __future__ import annotations

from typing import Any

import boto3

TAG = "{name}-{source}"  # one tag per image and source: a new source is a new tag


def _properties(event: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = event["ResourceProperties"]
    return properties


def on_event(
    event: dict[str, Any], _context: Any = None, *, codebuild: Any = None
) -> dict[str, Any]:
    """Create and Update start a build of this source; Delete leaves the images to the
    repository's own removal."""
    props = _properties(event)
    physical = f"{props['Project']}:{props['Source']}"
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", physical)}
    client = codebuild or boto3.client("codebuild")
    started = client.start_build(projectName=props["Project"])
    return {"PhysicalResourceId": physical, "Data": {"BuildId": started["build"]["id"]}}


def is_complete(
    event: dict[str, Any], _context: Any = None, *, codebuild: Any = None, ecr: Any = None
) -> dict[str, Any]:
    """Done when the build succeeded: each image's digest, by name. A failed build fails the
    deployment with where to read its log."""
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    props = _properties(event)
    build_id = event["Data"]["BuildId"]
    client = codebuild or boto3.client("codebuild")
    (build,) = client.batch_get_builds(ids=[build_id])["builds"]
    status = build["buildStatus"]
    if status == "IN_PROGRESS":
        return {"IsComplete": False}
    if status != "SUCCEEDED":
        logs = build.get("logs", {}).get("deepLink", "the CodeBuild console")
        raise RuntimeError(f"the sandbox images' build {build_id} ended {status}: see {logs}")
    registry = ecr or boto3.client("ecr")
    names = [n for n in str(props["Images"]).split(",") if n]
    wanted = [{"imageTag": TAG.format(name=n, source=props["Source"])} for n in names]
    try:
        found = registry.describe_images(repositoryName=props["Repository"], imageIds=wanted)
    except registry.exceptions.ImageNotFoundException as exc:
        message = f"the build {build_id} succeeded but did not push every image: {exc}"
        raise RuntimeError(message) from None
    digests = {}
    for detail in found["imageDetails"]:
        for tag in detail.get("imageTags", []):
            digests[tag] = detail["imageDigest"]
    data = {n: digests[TAG.format(name=n, source=props["Source"])] for n in names}
    return {"IsComplete": True, "Data": data}
