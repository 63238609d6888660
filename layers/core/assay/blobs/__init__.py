"""Artifacts: repository snapshots, generated tests, logs and reports, behind one port."""

from assay.blobs.port import BlobInfo, BlobStore, tenant_key

__all__ = ["BlobInfo", "BlobStore", "tenant_key"]
