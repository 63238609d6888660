"""The artifacts port: named byte blobs under slash-separated keys."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from assay.errors import ValidationFailed

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")
MAX_KEY = 1024


class BlobInfo(BaseModel):
    key: str
    size: int


def check_key(key: str) -> str:
    """Keys are relative, slash-separated, and cannot climb out (`..`) or hide (`.x`)."""
    parts = key.split("/")
    if not key or len(key) > MAX_KEY or not all(_SEGMENT.match(p) for p in parts):
        raise ValidationFailed(
            f"invalid artifact key {key[:80]!r}",
            fix="use segments of letters, digits and ._=+- separated by '/'",
        )
    return key


def check_prefix(prefix: str) -> str:
    if prefix == "":
        return prefix
    check_key(prefix.rstrip("/"))
    return prefix


def tenant_key(tenant_id: str, *parts: str) -> str:
    """Every tenant's artifacts live under `tenants/<id>/`, which IAM and S3 prefixes can fence."""
    return check_key("/".join(("tenants", tenant_id, *parts)))


class BlobStore(ABC):
    """Contract (tests/contract/test_blobs_contract.py runs it against every adapter):
    `put` replaces atomically (a reader sees the old or the new bytes, never a mix); `get` of a
    missing key raises `NotFound`; `delete` of a missing key is a no-op; `list` yields keys under
    a prefix in lexical order."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> BlobInfo: ...

    @abstractmethod
    def put_file(self, key: str, path: Path) -> BlobInfo:
        """Upload a file without reading it all into memory."""

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def download(self, key: str, path: Path) -> BlobInfo: ...

    @abstractmethod
    def head(self, key: str) -> BlobInfo | None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]: ...

    @abstractmethod
    def ping(self) -> None: ...
