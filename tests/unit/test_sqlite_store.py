"""What only the SQLite adapter can get wrong: files, locks, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from assay.errors import StoreUnavailable
from assay.records import Tenant
from assay.store import SYSTEM_TENANT
from assay.store.migrations import MIGRATIONS
from assay.store.sqlite import SqliteStore


def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "assay.db"
    first = SqliteStore(path)
    tenant = first.create(Tenant(name="Acme", slug="acme"))
    first.close()
    second = SqliteStore(path)
    assert second.get(Tenant, SYSTEM_TENANT, tenant.id) == tenant
    second.close()


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "assay.db"
    SqliteStore(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()


def test_a_corrupt_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "assay.db"
    garbage = b"definitely not sqlite " * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreUnavailable, match="corrupt or not a SQLite file") as caught:
        SqliteStore(path)
    assert caught.value.fix is not None
    assert "mv" in caught.value.fix
    assert path.read_bytes() == garbage


def test_a_locked_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "assay.db"
    store = SqliteStore(path, busy_timeout_ms=100)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable, match="locked by another process"):
            store.create(Tenant(name="Acme", slug="acme"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Once the lock is gone the same store works, and nothing was half-written.
    store.create(Tenant(name="Acme", slug="acme"))
    assert len(store.list(Tenant, SYSTEM_TENANT).items) == 1
    store.close()


def test_a_database_from_a_newer_assay_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "assay.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(StoreUnavailable, match="newer Assay"):
        SqliteStore(path)


def test_an_unwritable_home_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((StoreUnavailable, OSError)):
        SqliteStore(blocker / "assay.db")
