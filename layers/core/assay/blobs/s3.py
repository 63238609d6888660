"""Artifacts in an S3 bucket (aws profile). The bucket's default SSE-KMS encrypts every object."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from assay.blobs.port import BlobInfo, BlobStore, check_key, check_prefix
from assay.errors import NotFound, StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3BlobStore(BlobStore):
    def __init__(self, bucket: str, client: S3Client) -> None:
        self._bucket = bucket
        self._s3 = client

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"S3 bucket {self._bucket} cannot be used: {exc}",
            fix="check ASSAY_ARTIFACTS_BUCKET, AWS_REGION and this role's permissions",
        )

    def put(self, key: str, data: bytes) -> BlobInfo:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=check_key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None
        return BlobInfo(key=key, size=len(data))

    def put_file(self, key: str, path: Path) -> BlobInfo:
        try:
            # upload_file switches to multipart for large files.
            self._s3.upload_file(str(path), self._bucket, check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None
        return BlobInfo(key=key, size=path.stat().st_size)

    def get(self, key: str) -> bytes:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFound(f"artifact {key} does not exist") from None
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None
        return response["Body"].read()

    def download(self, key: str, path: Path) -> BlobInfo:
        if self.head(key) is None:
            raise NotFound(f"artifact {key} does not exist")
        try:
            self._s3.download_file(self._bucket, key, str(path))
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None
        return BlobInfo(key=key, size=path.stat().st_size)

    def head(self, key: str) -> BlobInfo | None:
        try:
            response = self._s3.head_object(Bucket=self._bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None
        return BlobInfo(key=key, size=response["ContentLength"])

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self._bucket, Key=check_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None

    def list(self, prefix: str = "") -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self._bucket, Prefix=check_prefix(prefix)):
                for obj in page.get("Contents", []):
                    yield obj["Key"]
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None

    def ping(self) -> None:
        try:
            self._s3.head_bucket(Bucket=self._bucket)
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None
