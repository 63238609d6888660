"""Uploaded sources: where an archive sent to the API is kept, how its analysis's record names
it, and fetching it back for the intake step (the local worker's and the step Lambda's)."""

from __future__ import annotations

from pathlib import Path

from assay.blobs import BlobStore, tenant_key
from assay.records import Analysis

ARTIFACT_PREFIX = "artifact:"


def source_key(tenant_id: str, analysis_id: str) -> str:
    return tenant_key(tenant_id, "analyses", analysis_id, "source.archive")


def local_target(blobs: BlobStore, analysis: Analysis, scratch: Path) -> str:
    """The analysis's target as intake takes it: an uploaded archive is downloaded under
    `scratch` (intake reads its format from its bytes); a URL is taken as it is."""
    if not analysis.source.startswith(ARTIFACT_PREFIX):
        return analysis.source
    scratch.mkdir(parents=True, exist_ok=True)
    archive = scratch / "source.archive"
    blobs.download(analysis.source[len(ARTIFACT_PREFIX) :], archive)
    return str(archive)
