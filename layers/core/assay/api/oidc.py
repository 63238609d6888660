"""JWTs from a configured OpenID Connect issuer (Cognito in AWS, and any IdP federated into it).

Only what configuration allows is accepted: the signing algorithms are fixed by
`ASSAY_OIDC_ALGORITHMS` (asymmetric ones only, so a public key can never double as an HMAC
secret), the header's `alg` is checked against them before any key is looked up, and `iss`,
`aud`, `exp` and `sub` are required. Keys come from the issuer's JWKS, found through its
discovery document and cached; a token naming an unknown `kid` refetches them (key rotation),
at most once per `REFRESH_COOLDOWN_S`.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from assay.errors import AssayError
from assay.records import Scope

if TYPE_CHECKING:
    import jwt

# Asymmetric algorithms only: HS* would let a published RSA/EC public key sign tokens.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
JWKS_TTL_S = 600
# An unknown `kid` refetches the JWKS at most this often, so junk tokens cannot flood the issuer.
REFRESH_COOLDOWN_S = 30.0
LEEWAY_S = 30
HTTP_TIMEOUT_S = 5.0


class InvalidToken(AssayError):
    status = 401
    code = "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="assay", error="invalid_token"'}


class IssuerUnavailable(AssayError):
    status = 503
    code = "issuer_unavailable"
    headers = {"Retry-After": "5"}


class OidcConfig(BaseModel):
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256",)
    jwks_url: str | None = None
    tenant_claim: str = "custom:tenant"
    scopes_claim: str = "scope"


class Identity(BaseModel):
    """What a verified token says: who, in which tenant, allowed what."""

    subject: str
    tenant: str
    scopes: list[Scope]


def check_url(url: str) -> str:
    """HTTPS, or plain HTTP to a loopback host (a local IdP in development and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if loopback:
            return url
    raise ValueError(f"{url!r} must be an https:// URL (http:// only for loopback hosts)")


def scopes_from(value: object) -> list[Scope]:
    """Assay scopes named by a claim: a space-separated string or a list. Cognito resource
    server scopes (`assay/analyses:read`) count by their last segment; unknown names are
    ignored, so an IdP may carry scopes for other applications in the same token."""
    names = value.split() if isinstance(value, str) else value if isinstance(value, list) else []
    known = {scope.value: scope for scope in Scope}
    last = (n.rsplit("/", 1)[-1] for n in names if isinstance(n, str))
    return sorted({known[name] for name in last if name in known}, key=lambda s: s.value)


class OidcVerifier:
    def __init__(self, config: OidcConfig) -> None:
        bad = set(config.algorithms) - ALLOWED_ALGORITHMS
        if bad or not config.algorithms:
            raise ValueError(f"OIDC algorithms must be among {sorted(ALLOWED_ALGORITHMS)}")
        self.config = config
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _jwks_client(self) -> jwt.PyJWKClient:
        import jwt

        with self._lock:
            if self._jwks is None:
                url = self.config.jwks_url or self._discover_jwks_url()
                self._jwks = jwt.PyJWKClient(
                    check_url(url),
                    cache_jwk_set=True,
                    lifespan=JWKS_TTL_S,
                    timeout=HTTP_TIMEOUT_S,
                    cooldown_duration=REFRESH_COOLDOWN_S,
                )
            return self._jwks

    def _discover_jwks_url(self) -> str:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(check_url(url), timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
                document: dict[str, Any] = json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise IssuerUnavailable(f"cannot read the OIDC discovery document at {url}") from exc
        if document.get("issuer") != self.config.issuer:
            raise IssuerUnavailable(
                f"the discovery document at {url} names issuer {document.get('issuer')!r}, "
                f"not {self.config.issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IssuerUnavailable(f"the discovery document at {url} has no jwks_uri")
        return jwks_uri

    def verify(self, token: str) -> Identity:
        import jwt  # on first use: PyJWT and cryptography cost ~40 ms of a cold start

        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError as exc:
            raise InvalidToken("the bearer token is neither an API key nor a JWT") from exc
        if alg not in self.config.algorithms:
            raise InvalidToken(f"tokens signed with {alg!r} are not accepted")
        try:
            key = self._jwks_client().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise IssuerUnavailable("cannot fetch the OIDC issuer's signing keys") from exc
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(
                "the token is signed with a key the issuer does not publish"
            ) from exc
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(self.config.algorithms),
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken("the token is meant for another audience") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("the token comes from another issuer") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        tenant = claims.get(self.config.tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise InvalidToken(f"the token carries no '{self.config.tenant_claim}' claim")
        return Identity(
            subject=str(claims["sub"]),
            tenant=tenant,
            scopes=scopes_from(claims.get(self.config.scopes_claim)),
        )
