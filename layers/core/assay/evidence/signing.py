"""Signing the evidence checkpoint.

Locally an Ed25519 key file (created on first use, 0600, never replaced); in AWS a KMS asymmetric
key (ECDSA P-256), so the private key never leaves KMS. Verification needs only the public key,
in PEM, and works offline for both algorithms.
"""

from __future__ import annotations

import base64
import hashlib
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import BaseModel

from assay.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

ED25519 = "ed25519"
ECDSA_P256 = "ecdsa-p256-sha256"


class Signature(BaseModel):
    algorithm: str
    key_id: str  # fingerprint of the public key: sha256 of its DER, first 16 hex chars
    public_key_pem: str
    value: str  # base64


def fingerprint(public_key_pem: str) -> str:
    key = serialization.load_pem_public_key(public_key_pem.encode())
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


class Signer(ABC):
    algorithm: str

    @abstractmethod
    def public_key_pem(self) -> str: ...

    @abstractmethod
    def _sign(self, message: bytes) -> bytes: ...

    def key_id(self) -> str:
        return fingerprint(self.public_key_pem())

    def sign(self, message: bytes) -> Signature:
        pem = self.public_key_pem()
        return Signature(
            algorithm=self.algorithm,
            key_id=fingerprint(pem),
            public_key_pem=pem,
            value=base64.b64encode(self._sign(message)).decode(),
        )


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


def key_algorithm(public_key_pem: str) -> str | None:
    """The signing algorithm a public key is for, as checkpoints name it."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except ValueError:
        return None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECDSA_P256
    return None


def verify_signature(signature: Signature, message: bytes, public_key_pem: str) -> bool:
    """True when `signature` over `message` was made by the holder of `public_key_pem`."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
        raw = base64.b64decode(signature.value, validate=True)
        if signature.algorithm == ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(raw, message)
            return True
        if signature.algorithm == ECDSA_P256 and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False
