from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import DecryptionFailed, NotFound
from assay.records import GatewayConnection
from assay.store.sqlite import SqliteStore
from assay.vault.local import LocalVault


def test_provider_credentials_are_stored_sealed(tmp_path: Path) -> None:
    vault = LocalVault(tmp_path / "master.key")
    store = SqliteStore(tmp_path / "assay.db")
    connection = GatewayConnection(tenant_id="t1", name="openai", provider="openai")
    stored = store.create(connection.with_credentials(vault, "sk-live-123456"))

    raw = (tmp_path / "assay.db").read_bytes() + (tmp_path / "assay.db-wal").read_bytes()
    assert b"sk-live-123456" not in raw
    fetched = store.get(GatewayConnection, "t1", stored.id)
    assert fetched is not None
    assert fetched.credentials(vault) == "sk-live-123456"

    # Copied into another tenant's record, the sealed value does not open.
    stolen = fetched.evolve(tenant_id="t2")
    with pytest.raises(DecryptionFailed):
        stolen.credentials(vault)
    store.close()


def test_a_connection_without_credentials_says_so(tmp_path: Path) -> None:
    connection = GatewayConnection(tenant_id="t1", name="local", provider="openai")
    with pytest.raises(NotFound, match="no credentials"):
        connection.credentials(LocalVault(tmp_path / "k"))


def test_usage_is_priced_from_the_bundled_price_list() -> None:
    from decimal import Decimal

    from assay.gateway.usage import price

    usd, known = price("gpt-4o-mini", 1_000_000, 1_000_000)
    assert known and usd == Decimal("0.15") + Decimal("0.6")
    assert price("openai/gpt-4o-mini", 10, 0)[1]
    assert price("made-up-model", 10, 10) == (Decimal(0), False)
