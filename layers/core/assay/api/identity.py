"""Who is calling: API keys or OIDC JWTs as Bearer tokens, without FastAPI.

Keys are looked up by their SHA-256 hash and the stored hash is compared in constant time. A
successful lookup is cached for `CACHE_TTL_S` seconds, so a revoked key stops working within
that time on every server. Anything else is treated as a JWT when an OIDC issuer is configured
(`oidc.py`). Either way the caller gets a per-principal request rate limit.

The API's FastAPI dependencies (`auth.py`) and the gateway's plain ASGI endpoints both call
`Authenticator.authenticate`; keeping FastAPI out of this module keeps it out of the gateway
Lambda's cold start.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from functools import partial

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assay import tenancy
from assay.api.oidc import OidcConfig, OidcVerifier
from assay.config import Settings
from assay.errors import AssayError, ConfigError
from assay.limits import Algorithm
from assay.records import ApiKey, Scope, Tenant, TenantStatus
from assay.records.api_keys import PREFIX, hash_key
from assay.store import SYSTEM_TENANT
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
    actor: str  # an API key id, or `oidc:<sub>` for a JWT's subject
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


def oidc_verifier(settings: Settings) -> OidcVerifier | None:
    if not settings.oidc_issuer or not settings.oidc_audience:
        return None
    algorithms = tuple(a.strip() for a in settings.oidc_algorithms.split(",") if a.strip())
    try:
        return OidcVerifier(
            OidcConfig(
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience,
                algorithms=algorithms,
                jwks_url=settings.oidc_jwks_url,
                tenant_claim=settings.oidc_tenant_claim,
                scopes_claim=settings.oidc_scopes_claim,
            )
        )
    except ValueError as exc:
        raise ConfigError(str(exc), fix="set ASSAY_OIDC_ALGORITHMS to e.g. RS256") from exc


class Authenticator:
    """Turns an `Authorization` header into a Principal, or raises Unauthorized/TooManyRequests."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports
        self.keys = KeyCache()
        self.oidc = oidc_verifier(ports.settings)

    def _lookup_key(self, digest: str, token: str) -> ApiKey:
        record = tenancy.authenticate(self.ports.records, token)
        if record is None:
            raise Unauthorized("the API key is not valid, has expired or was revoked")
        self.keys.put(digest, record)
        return record

    async def _from_key(self, token: str) -> Principal:
        """A cached key costs no store read and no thread hop; a miss reads the store off the
        event loop."""
        digest = hash_key(token)
        record = self.keys.get(digest)
        if record is None:
            record = await run_in_threadpool(self._lookup_key, digest, token)
        if not hmac.compare_digest(record.key_hash, digest) or not record.is_active():
            raise Unauthorized("the API key is not valid, has expired or was revoked")
        return Principal(tenant_id=record.tenant_id, actor=record.id, scopes=record.scopes)

    def _from_jwt(self, verifier: OidcVerifier, token: str) -> Principal:
        identity = verifier.verify(token)
        records = self.ports.records
        tenant = records.get(Tenant, SYSTEM_TENANT, identity.tenant) or records.lookup(
            Tenant, identity.tenant
        )
        if tenant is None or tenant.status is not TenantStatus.ACTIVE:
            raise Unauthorized(f"the token's tenant {identity.tenant!r} is unknown or suspended")
        return Principal(
            tenant_id=tenant.id, actor=f"oidc:{identity.subject}", scopes=identity.scopes
        )

    async def authenticate(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send an API key or an OIDC token as 'Authorization: Bearer ...'")
        if token.startswith(PREFIX) or self.oidc is None:
            caller = await self._from_key(token)
        else:  # may fetch the issuer's keys
            caller = await run_in_threadpool(self._from_jwt, self.oidc, token)
        limits = self.ports.limits
        limit = self.ports.settings.api_rate_limit
        hit = partial(limits.hit, f"api:{caller.actor}", limit=limit, window_s=60,
                      algorithm=Algorithm.SLIDING)  # fmt: skip
        decision = await run_in_threadpool(hit) if limits.blocking else hit()
        if not decision.allowed:
            raise TooManyRequests(
                f"each caller may make {limit} requests a minute",
                retry_after_s=decision.retry_after_s,
                limit=limit,
            )
        return caller
