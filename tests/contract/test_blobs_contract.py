"""The artifacts port's contract, run against every adapter: filesystem and S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from assay.blobs import BlobStore, tenant_key
from assay.errors import NotFound, ValidationFailed
from tests.conftest import REGION


@pytest.fixture(params=["filesystem", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "filesystem":
        from assay.blobs.filesystem import FileBlobStore

        yield FileBlobStore(tmp_path / "artifacts")
        return
    from moto import mock_aws

    from assay.blobs.s3 import S3BlobStore

    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(
            Bucket="assay-artifacts", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield S3BlobStore("assay-artifacts", client)


def test_put_then_get_round_trips_bytes(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 10
    info = blobs.put("tenants/t1/reports/r.json", data)
    assert info.size == len(data)
    assert blobs.get("tenants/t1/reports/r.json") == data
    head = blobs.head("tenants/t1/reports/r.json")
    assert head is not None and head.size == len(data)


def test_put_replaces_existing(blobs: BlobStore) -> None:
    blobs.put("a/b", b"old")
    blobs.put("a/b", b"new!")
    assert blobs.get("a/b") == b"new!"


def test_missing_key(blobs: BlobStore) -> None:
    with pytest.raises(NotFound):
        blobs.get("nope/nothing")
    assert blobs.head("nope/nothing") is None
    blobs.delete("nope/nothing")  # a no-op, not an error


def test_delete_removes(blobs: BlobStore) -> None:
    blobs.put("x/y", b"1")
    blobs.delete("x/y")
    assert blobs.head("x/y") is None


def test_files_stream_in_and_out(blobs: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "snapshot.tar.gz"
    source.write_bytes(b"\x1f\x8b" + b"z" * 300_000)
    blobs.put_file("tenants/t1/snap.tar.gz", source)
    target = tmp_path / "copy"
    info = blobs.download("tenants/t1/snap.tar.gz", target)
    assert target.read_bytes() == source.read_bytes()
    assert info.size == source.stat().st_size
    with pytest.raises(NotFound):
        blobs.download("tenants/t1/absent", tmp_path / "absent")


def test_list_by_prefix_in_order(blobs: BlobStore) -> None:
    for key in ("tenants/t2/b", "tenants/t1/z", "tenants/t1/a/1", "other/x"):
        blobs.put(key, b".")
    assert list(blobs.list("tenants/t1/")) == ["tenants/t1/a/1", "tenants/t1/z"]
    assert list(blobs.list()) == sorted(
        ["tenants/t2/b", "tenants/t1/z", "tenants/t1/a/1", "other/x"]
    )


@pytest.mark.parametrize("key", ["", "../etc/passwd", "/abs", "a//b", "a/../b", ".hidden", "a b"])
def test_keys_that_could_escape_are_refused(blobs: BlobStore, key: str) -> None:
    with pytest.raises(ValidationFailed):
        blobs.put(key, b"x")


def test_tenant_keys_are_fenced_under_the_tenant() -> None:
    assert tenant_key("t1", "analyses", "a1", "report.json") == "tenants/t1/analyses/a1/report.json"
    with pytest.raises(ValidationFailed):
        tenant_key("t1", "..", "t2")


def test_ping(blobs: BlobStore) -> None:
    blobs.ping()
