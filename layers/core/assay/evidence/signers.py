"""The evidence signers: locally an Ed25519 key file (created on first use, 0600, never
replaced); in AWS a KMS asymmetric key (ECDSA P-256), so the private key never leaves KMS.
Built only by the composition root (wiring.make_signer)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from assay.errors import StoreUnavailable
from assay.evidence.signing import ECDSA_P256, ED25519, Signer

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class LocalSigner(Signer):
    """Ed25519 with a private key in a PEM file under ASSAY_HOME/keys."""

    algorithm = ED25519

    def __init__(self, key_file: Path) -> None:
        self._key_file = key_file
        self._key: ed25519.Ed25519PrivateKey | None = None

    def _private(self) -> ed25519.Ed25519PrivateKey:
        if self._key is None:
            self._key = self._load_or_create()
        return self._key

    def _load_or_create(self) -> ed25519.Ed25519PrivateKey:
        path = self._key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = ed25519.Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return self._load_or_create()
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            path.with_suffix(".pub").write_text(self._pem_of(key.public_key()))
            return key
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot read the evidence signing key {path}: {exc.strerror}",
                fix=f"make it readable by this user (chmod 600 {path})",
            ) from None
        except ValueError:
            raise StoreUnavailable(
                f"the evidence signing key {path} is damaged",
                fix="restore it from a backup; Assay will not replace it",
            ) from None
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise StoreUnavailable(f"the evidence signing key {path} is not an Ed25519 key")
        return loaded

    @staticmethod
    def _pem_of(public: ed25519.Ed25519PublicKey) -> str:
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def public_key_pem(self) -> str:
        return self._pem_of(self._private().public_key())

    def _sign(self, message: bytes) -> bytes:
        return self._private().sign(message)


class KmsSigner(Signer):
    """ECDSA P-256 with a KMS asymmetric key (KeySpec ECC_NIST_P256, usage SIGN_VERIFY)."""

    algorithm = ECDSA_P256

    def __init__(self, key_id: str, client: KMSClient) -> None:
        self._key_id = key_id
        self._kms = client
        self._pem: str | None = None

    def public_key_pem(self) -> str:
        if self._pem is None:
            der = self._kms.get_public_key(KeyId=self._key_id)["PublicKey"]
            key = serialization.load_der_public_key(der)
            self._pem = key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
        return self._pem

    def _sign(self, message: bytes) -> bytes:
        response = self._kms.sign(
            KeyId=self._key_id,
            Message=message,
            MessageType="RAW",
            SigningAlgorithm="ECDSA_SHA_256",
        )
        return response["Signature"]
