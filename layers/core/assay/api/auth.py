"""Who is calling: API keys as Bearer tokens, checked against the records store.

Keys are looked up by their SHA-256 hash and the stored hash is compared in constant time. A
successful lookup is cached for `CACHE_TTL_S` seconds, so a revoked key stops working within
that time on every server.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable

from fastapi import Depends, Request
from pydantic import BaseModel

from assay import tenancy
from assay.errors import AssayError
from assay.limits import Algorithm
from assay.records import ApiKey, Scope
from assay.records.api_keys import hash_key
from assay.wiring import Ports

CACHE_TTL_S = 30.0
CACHE_MAX = 10_000


class Unauthorized(AssayError):
    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="assay"'}


class TooManyRequests(AssayError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float, limit: int) -> None:
        super().__init__(message)
        self.headers = {
            "Retry-After": str(max(1, math.ceil(retry_after_s))),
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": "0",
        }


class Forbidden(AssayError):
    status = 403
    code = "forbidden"


class Principal(BaseModel):
    tenant_id: str
    key_id: str
    scopes: list[Scope]

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


class KeyCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> ApiKey | None:
        with self._lock:
            hit = self._entries.get(digest)
            if hit is None or hit[0] < time.monotonic():
                return None
            return hit[1]

    def put(self, digest: str, record: ApiKey) -> None:
        with self._lock:
            if len(self._entries) >= CACHE_MAX:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + CACHE_TTL_S, record)


def ports(request: Request) -> Ports:
    found: Ports = request.app.state.ports
    return found


def principal(request: Request, store: Ports = Depends(ports)) -> Principal:  # noqa: B008
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send an API key as 'Authorization: Bearer assay_...'")
    digest = hash_key(token.strip())
    cache: KeyCache = request.app.state.key_cache
    record = cache.get(digest)
    if record is None:
        record = tenancy.authenticate(store.records, token.strip())
        if record is None:
            raise Unauthorized("the API key is not valid, has expired or was revoked")
        cache.put(digest, record)
    if not hmac.compare_digest(record.key_hash, digest) or not record.is_active():
        raise Unauthorized("the API key is not valid, has expired or was revoked")
    request.state.tenant_id = record.tenant_id
    limit = store.settings.api_rate_limit
    decision = store.limits.hit(
        f"api:{record.id}", limit=limit, window_s=60, algorithm=Algorithm.SLIDING
    )
    if not decision.allowed:
        raise TooManyRequests(
            f"this key may make {limit} requests a minute",
            retry_after_s=decision.retry_after_s,
            limit=limit,
        )
    return Principal(tenant_id=record.tenant_id, key_id=record.id, scopes=record.scopes)


def require(scope: Scope) -> Callable[..., Principal]:
    """A dependency: the caller, who must hold `scope` (or admin)."""

    def check(caller: Principal = Depends(principal)) -> Principal:  # noqa: B008
        if not caller.allows(scope):
            raise Forbidden(f"this key lacks the '{scope.value}' scope")
        return caller

    return check
