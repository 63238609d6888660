"""API keys: minted once, stored only as a hash, scoped, revocable.

A key reads ``assay_<32 base62 random chars><6 base62 checksum chars>``: the fixed prefix and the
checksum let secret scanners (GitHub's, trufflehog) spot a leaked key without false positives, and
let Assay reject a mistyped key before any lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from assay.clock import utcnow
from assay.store.record import TenantRecord

PREFIX = "assay_"
_ALPHABET = string.digits + string.ascii_letters  # base62
_RANDOM_LEN = 32  # 32 base62 chars = 190 bits
_CHECK_LEN = 6


class Scope(StrEnum):
    ANALYSES_READ = "analyses:read"
    ANALYSES_WRITE = "analyses:write"
    GATEWAY_INVOKE = "gateway:invoke"
    EVALS_READ = "evals:read"
    EVALS_WRITE = "evals:write"
    ADMIN = "admin"


def _checksum(random_part: str) -> str:
    digest = int.from_bytes(hashlib.sha256(random_part.encode()).digest()[:8], "big")
    out = []
    for _ in range(_CHECK_LEN):
        digest, rem = divmod(digest, 62)
        out.append(_ALPHABET[rem])
    return "".join(out)


def mint_key() -> str:
    """A new API key in plain text. Show it once; store only `hash_key(key)`."""
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LEN))
    return f"{PREFIX}{random_part}{_checksum(random_part)}"


def key_problem(key: str) -> str | None:
    """What is wrong with a key's shape, in words; None when it is well formed (no store access
    needed)."""
    if not key.startswith(PREFIX):
        return f"it does not start with {PREFIX}"
    body = key[len(PREFIX) :]
    if len(body) != _RANDOM_LEN + _CHECK_LEN:
        return f"it has {len(body)} characters after {PREFIX}, not {_RANDOM_LEN + _CHECK_LEN}"
    if any(ch not in _ALPHABET for ch in body):
        return f"it has characters other than letters and digits after {PREFIX}"
    random_part, check = body[:_RANDOM_LEN], body[_RANDOM_LEN:]
    if not hmac.compare_digest(check, _checksum(random_part)):
        return "its checksum (the last 6 characters) is wrong: mistyped, or not minted by Assay"
    return None


def is_well_formed(key: str) -> bool:
    """True when the key has Assay's shape and a valid checksum (no store access needed)."""
    return key_problem(key) is None


def hash_key(key: str) -> str:
    # The key carries 190 random bits, so a plain SHA-256 is enough: no dictionary to attack.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(TenantRecord):
    kind: ClassVar[str] = "apikey"
    lookup_field: ClassVar[str | None] = "key_hash"

    name: str = Field(min_length=1, max_length=120)
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    # The first characters, safe to show in listings so people can tell keys apart.
    hint: str = Field(max_length=16)
    scopes: list[Scope] = Field(min_length=1)
    created_by: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def issue(
        cls, tenant_id: str, name: str, scopes: list[Scope], **extra: object
    ) -> tuple[ApiKey, str]:
        """Mint a key and its record; the plain key is returned once and never stored."""
        key = mint_key()
        record = cls(
            tenant_id=tenant_id,
            name=name,
            key_hash=hash_key(key),
            hint=key[: len(PREFIX) + 4],
            scopes=scopes,
            **extra,
        )
        return record, key

    def is_active(self, now: datetime | None = None) -> bool:
        moment = now or utcnow()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > moment

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes
