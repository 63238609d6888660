"""KMS envelope encryption (aws profile).

Each seal asks KMS for a fresh data key under the tenant's encryption context, encrypts locally
with AES-256-GCM and stores the wrapped data key beside the ciphertext. KMS logs every unwrap in
CloudTrail with the tenant in the context, and a key policy can require that context. Unwrapped
data keys are cached briefly so a hot path (the gateway opening a provider key) does not call
KMS on every request.
"""

from __future__ import annotations

import binascii
import secrets
import threading
import time
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from assay.errors import DecryptionFailed, StoreUnavailable
from assay.vault.port import Vault, associated_data, b64d, b64e

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

_NONCE_BYTES = 12
CACHE_TTL_S = 300.0
CACHE_MAX = 1024


class KmsVault(Vault):
    def __init__(self, key_id: str, client: KMSClient) -> None:
        self._key_id = key_id
        self._kms = client
        self._cache: dict[tuple[str, bytes], tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _context(tenant_id: str) -> dict[str, str]:
        return {"tenant": tenant_id}

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"KMS key {self._key_id} cannot be used: {exc}",
            fix="check ASSAY_KMS_KEY_ID, AWS_REGION and this role's kms permissions",
        )

    def seal(self, tenant_id: str, plaintext: bytes) -> str:
        try:
            key = self._kms.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=self._context(tenant_id)
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(key["Plaintext"]).encrypt(nonce, plaintext, associated_data(tenant_id))
        return f"v1.kms.{b64e(key['CiphertextBlob'])}.{b64e(nonce + sealed)}"

    def _unwrap(self, tenant_id: str, wrapped: bytes) -> bytes:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((tenant_id, wrapped))
            if hit is not None and hit[0] > now:
                return hit[1]
        try:
            response = self._kms.decrypt(
                CiphertextBlob=wrapped, EncryptionContext=self._context(tenant_id)
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"InvalidCiphertextException", "IncorrectKeyException"}:
                raise DecryptionFailed(
                    "the secret does not open for this tenant or was altered"
                ) from None
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None
        key = response["Plaintext"]
        with self._lock:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[(tenant_id, wrapped)] = (now + CACHE_TTL_S, key)
        return key

    def open(self, tenant_id: str, token: str) -> bytes:
        parts = token.split(".")
        if len(parts) != 4 or parts[:2] != ["v1", "kms"]:
            raise DecryptionFailed("not a secret sealed by the KMS vault")
        try:
            wrapped, raw = b64d(parts[2]), b64d(parts[3])
        except (ValueError, binascii.Error):
            raise DecryptionFailed("the secret token is damaged") from None
        key = self._unwrap(tenant_id, wrapped)
        try:
            return AESGCM(key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated_data(tenant_id)
            )
        except (InvalidTag, ValueError):
            raise DecryptionFailed(
                "the secret does not open for this tenant or was altered"
            ) from None

    def ping(self) -> None:
        try:
            self._kms.describe_key(KeyId=self._key_id)
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None
