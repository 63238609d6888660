"""The secrets port's contract, run against every adapter: local AEAD and KMS (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from assay.errors import DecryptionFailed
from assay.vault import Vault
from tests.conftest import REGION


@pytest.fixture(params=["local", "kms"])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Vault]:
    if request.param == "local":
        from assay.vault.local import LocalVault

        yield LocalVault(tmp_path / "keys" / "master.key")
        return
    from moto import mock_aws

    from assay.vault.kms import KmsVault

    with mock_aws():
        client = boto3.client("kms", region_name=REGION)
        key_id = client.create_key(Description="assay test")["KeyMetadata"]["KeyId"]
        yield KmsVault(key_id, client)


def test_seal_then_open_round_trips(vault: Vault) -> None:
    secret = b"sk-provider-key-\x00\xff"
    token = vault.seal("t1", secret)
    assert secret not in token.encode()
    assert vault.open("t1", token) == secret


def test_each_seal_is_different(vault: Vault) -> None:
    assert vault.seal("t1", b"same") != vault.seal("t1", b"same")


def test_another_tenant_cannot_open(vault: Vault) -> None:
    token = vault.seal("t1", b"mine")
    with pytest.raises(DecryptionFailed):
        vault.open("t2", token)


def test_tampering_is_detected(vault: Vault) -> None:
    token = vault.seal("t1", b"mine")
    head, _, body = token.rpartition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(DecryptionFailed):
        vault.open("t1", f"{head}.{flipped}")
    with pytest.raises(DecryptionFailed):
        vault.open("t1", "garbage")


def test_ping(vault: Vault) -> None:
    vault.ping()
