from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from assay.errors import DecryptionFailed, StoreUnavailable
from assay.vault.local import LocalVault


def test_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "master.key"
    token = LocalVault(key_file).seal("t1", b"secret")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # A new process (a new vault) reads the same key and opens what the first sealed.
    assert LocalVault(key_file).open("t1", token) == b"secret"


def test_a_damaged_key_file_is_an_error_and_is_not_replaced(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text("not a key\n")
    with pytest.raises(StoreUnavailable, match="damaged") as caught:
        LocalVault(key_file).seal("t1", b"x")
    assert caught.value.fix is not None
    assert "restore" in caught.value.fix
    assert key_file.read_text() == "not a key\n"


def test_an_unreadable_key_file_is_an_error(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.mkdir()  # reading a directory fails even for root
    with pytest.raises(StoreUnavailable, match="cannot read the key file"):
        LocalVault(key_file).ping()
    assert key_file.is_dir()


def test_a_secret_from_another_key_says_so(tmp_path: Path) -> None:
    token = LocalVault(tmp_path / "a.key").seal("t1", b"x")
    with pytest.raises(DecryptionFailed, match="different key file"):
        LocalVault(tmp_path / "b.key").open("t1", token)


def test_nothing_is_created_until_a_secret_is_needed(tmp_path: Path) -> None:
    LocalVault(tmp_path / "keys" / "master.key")
    assert not os.path.exists(tmp_path / "keys")
