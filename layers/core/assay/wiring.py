"""The composition root: the one place that turns `Settings` into adapters.

Profiles differ only here. Everything else receives ports and never asks which profile it is in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.blobs import BlobStore
from assay.config import Profile, Settings
from assay.evidence.signing import Signer
from assay.limits import Limiter
from assay.store import RecordStore
from assay.vault import Vault

if TYPE_CHECKING:
    import boto3


def _session(settings: Settings) -> boto3.session.Session:
    import boto3

    return boto3.session.Session(region_name=settings.aws_region)


def _client(settings: Settings, service: str) -> Any:
    return _session(settings).client(service, endpoint_url=settings.aws_endpoint_url)  # type: ignore[call-overload]


def make_records(settings: Settings) -> RecordStore:
    if settings.profile is Profile.AWS:
        from assay.store.dynamodb import DynamoStore

        assert settings.aws_region is not None  # guaranteed by Settings validation
        return DynamoStore(
            settings.table_name, region=settings.aws_region, endpoint_url=settings.aws_endpoint_url
        )
    from assay.store.sqlite import SqliteStore

    return SqliteStore(settings.database_path, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def make_blobs(settings: Settings) -> BlobStore:
    if settings.profile is Profile.AWS:
        from assay.blobs.s3 import S3BlobStore

        assert settings.artifacts_bucket is not None
        return S3BlobStore(settings.artifacts_bucket, _client(settings, "s3"))
    from assay.blobs.filesystem import FileBlobStore

    return FileBlobStore(settings.artifacts_dir)


def make_vault(settings: Settings) -> Vault:
    if settings.profile is Profile.AWS:
        from assay.vault.kms import KmsVault

        assert settings.kms_key_id is not None
        return KmsVault(settings.kms_key_id, _client(settings, "kms"))
    from assay.vault.local import LocalVault

    return LocalVault(settings.key_file)


def make_limiter(settings: Settings) -> Limiter:
    if settings.redis_url:
        from assay.limits.redis import RedisLimiter

        return RedisLimiter(settings.redis_url)
    from assay.limits.memory import MemoryLimiter

    return MemoryLimiter()


def make_signer(settings: Settings) -> Signer:
    if settings.profile is Profile.AWS and settings.signing_key_id:
        from assay.evidence.signing import KmsSigner

        return KmsSigner(settings.signing_key_id, _client(settings, "kms"))
    from assay.evidence.signing import LocalSigner

    return LocalSigner(settings.signing_key_file)


@dataclass(frozen=True)
class Ports:
    settings: Settings
    records: RecordStore
    blobs: BlobStore
    vault: Vault
    limits: Limiter

    def close(self) -> None:
        self.records.close()
        self.limits.close()


def build_ports(settings: Settings) -> Ports:
    return Ports(
        settings=settings,
        records=make_records(settings),
        blobs=make_blobs(settings),
        vault=make_vault(settings),
        limits=make_limiter(settings),
    )
