"""Signing the evidence checkpoint: the Signer port, and verification.

The signers themselves (an Ed25519 key file locally, a KMS key in AWS) are adapters in
evidence/signers.py. Verification needs only the public key, in PEM, and works offline for
both algorithms.
"""

from __future__ import annotations

import base64
import hashlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pydantic import BaseModel

if TYPE_CHECKING:
    pass

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


def key_algorithm(public_key_pem: str) -> str | None:
    """The signing algorithm a public key is for, as checkpoints name it."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except (ValueError, UnsupportedAlgorithm):
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
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return False
