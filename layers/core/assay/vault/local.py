"""Local AEAD vault: ChaCha20-Poly1305 under a 256-bit key kept in a file (local profile).

The key file is created on first use (mode 0600, exclusive create, so two processes starting at
once cannot both write one) and is never overwritten: a damaged or unreadable key file is an
error that names the fix, because replacing it would make every sealed secret unreadable.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from assay.errors import DecryptionFailed, StoreUnavailable
from assay.vault.port import Vault, associated_data, b64d, b64e

_KEY_BYTES = 32
_NONCE_BYTES = 12
_HEADER = "assay-key-v1:"


def load_or_create_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_key(path)  # another process won the race; use its key
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the key file {path}: {exc.strerror}",
                fix="check that ASSAY_HOME is writable",
            ) from None
        with os.fdopen(fd, "w") as out:
            out.write(_HEADER + b64e(key) + "\n")
        return key
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot read the key file {path}: {exc.strerror}",
            fix=f"make it readable by this user (chmod 600 {path}); do not delete it, "
            "secrets sealed with it would be lost",
        ) from None
    try:
        if not text.startswith(_HEADER):
            raise ValueError
        key = b64d(text[len(_HEADER) :])
        if len(key) != _KEY_BYTES:
            raise ValueError
    except (ValueError, binascii.Error):
        raise StoreUnavailable(
            f"the key file {path} is damaged (not an Assay key)",
            fix="restore it from a backup; Assay will not replace it",
        ) from None
    return key


class LocalVault(Vault):
    def __init__(self, key_file: Path) -> None:
        self._key_file = key_file
        self._aead: ChaCha20Poly1305 | None = None
        self._kid = ""

    def _cipher(self) -> ChaCha20Poly1305:
        # Loaded lazily: a command that never touches secrets never creates the key file.
        if self._aead is None:
            key = load_or_create_key(self._key_file)
            self._aead = ChaCha20Poly1305(key)
            self._kid = hashlib.sha256(key).hexdigest()[:8]
        return self._aead

    def seal(self, tenant_id: str, plaintext: bytes) -> str:
        aead = self._cipher()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext, associated_data(tenant_id))
        return f"v1.local.{self._kid}.{b64e(nonce + sealed)}"

    def open(self, tenant_id: str, token: str) -> bytes:
        aead = self._cipher()
        parts = token.split(".")
        if len(parts) != 4 or parts[:2] != ["v1", "local"]:
            raise DecryptionFailed("not a secret sealed by the local vault")
        if parts[2] != self._kid:
            raise DecryptionFailed(
                "this secret was sealed with a different key file",
                fix=f"restore the key file that sealed it to {self._key_file}",
            )
        try:
            raw = b64d(parts[3])
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated_data(tenant_id))
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionFailed(
                "the secret does not open for this tenant or was altered"
            ) from None

    def ping(self) -> None:
        self._cipher()
