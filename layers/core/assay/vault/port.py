"""The secrets port: seal bytes for one tenant, open them only for that tenant.

A sealed value is a printable token, safe to store in a record. The tenant id is bound to the
ciphertext (AEAD associated data locally, the KMS encryption context in AWS), so a token copied
into another tenant's record does not open there.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod


class Vault(ABC):
    """Contract (tests/contract/test_vault_contract.py runs it against every adapter):
    `open(t, seal(t, x)) == x`; opening with another tenant, or a modified token, raises
    `DecryptionFailed`; two seals of the same value differ."""

    @abstractmethod
    def seal(self, tenant_id: str, plaintext: bytes) -> str: ...

    @abstractmethod
    def open(self, tenant_id: str, token: str) -> bytes: ...

    @abstractmethod
    def ping(self) -> None: ...


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def associated_data(tenant_id: str) -> bytes:
    return f"assay/v1/tenant={tenant_id}".encode()
