"""A finished analysis's output directory in the artifacts port (a directory here, S3 in AWS).

It is published as one gzipped tarball, the bundle, so every file keeps its exact name and
bytes (the evidence log names them by path and digest), plus `report.json` beside it for
quick reads. The API serves single files out of the bundle and verifies it on request.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from assay.blobs import BlobStore, tenant_key
from assay.errors import NotFound, ValidationFailed

BUNDLE = "output.tar.gz"
REPORT = "report.json"
MAX_FILE_BYTES = 50 * 1024 * 1024


KEPT_DIR = "tests"


def kept_test_path(project_path: str, *, in_tests_dir: bool = True) -> str:
    """Where a kept test is written in the output directory: always under tests/. A runtime
    whose tests live under the project's tests/ (Python, JavaScript, Rust) keeps the same path;
    for the others (Go's beside their package, Java's under src/test/java) the project path goes
    below tests/, so `cp -r OUT/tests/. PROJECT/` puts them back (and a Go package that is
    itself named tests/ cannot collide with the root package)."""
    clean = PurePosixPath(project_path)
    if in_tests_dir and clean.parts and clean.parts[0] == KEPT_DIR:
        return clean.as_posix()
    return (PurePosixPath(KEPT_DIR) / clean).as_posix()


class OutputFile(BaseModel):
    path: str
    size: int


def _key(tenant_id: str, analysis_id: str, name: str) -> str:
    return tenant_key(tenant_id, "analyses", analysis_id, name)


def publish(blobs: BlobStore, tenant_id: str, analysis_id: str, out: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(p for p in out.rglob("*") if p.is_file() and not p.is_symlink()):
            tar.add(path, arcname=path.relative_to(out).as_posix(), recursive=False)
    blobs.put(_key(tenant_id, analysis_id, BUNDLE), buffer.getvalue())
    if (out / REPORT).is_file():
        blobs.put(_key(tenant_id, analysis_id, REPORT), (out / REPORT).read_bytes())


def report(blobs: BlobStore, tenant_id: str, analysis_id: str) -> bytes | None:
    key = _key(tenant_id, analysis_id, REPORT)
    return blobs.get(key) if blobs.head(key) is not None else None


def bundle(blobs: BlobStore, tenant_id: str, analysis_id: str) -> bytes:
    key = _key(tenant_id, analysis_id, BUNDLE)
    if blobs.head(key) is None:
        raise NotFound(f"analysis {analysis_id} has no published output")
    return blobs.get(key)


def _members(data: bytes) -> tuple[tarfile.TarFile, list[tarfile.TarInfo]]:
    tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 - returned open
    return tar, [m for m in tar.getmembers() if m.isfile()]


def files(data: bytes) -> list[OutputFile]:
    tar, members = _members(data)
    with tar:
        return [OutputFile(path=m.name, size=m.size) for m in members]


def read_file(data: bytes, path: str) -> bytes:
    clean = PurePosixPath(path)
    if clean.is_absolute() or ".." in clean.parts:
        raise ValidationFailed(f"invalid output path {path!r}")
    tar, members = _members(data)
    with tar:
        for member in members:
            if member.name == clean.as_posix():
                handle = tar.extractfile(member)
                if handle is None or member.size > MAX_FILE_BYTES:
                    break
                return handle.read()
    raise NotFound(f"no output file {path!r}")


def unpack(data: bytes, dest: Path) -> None:
    """Extract with tarfile's `data` filter: no links, devices or paths outside `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
