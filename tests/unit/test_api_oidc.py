"""OIDC JWTs against a real issuer on loopback: accepted when right, every forgery refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assay import tenancy
from assay.api import create_app, oidc
from assay.api.oidc import check_url, scopes_from
from assay.config import load_settings
from assay.errors import ConfigError
from assay.records import Scope
from assay.wiring import Ports, build_ports
from tests.support.oidc_issuer import OidcIssuer


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    idp = OidcIssuer()
    yield idp
    idp.close()


@pytest.fixture
def ports(tmp_path: Path, issuer: OidcIssuer) -> Iterator[Ports]:
    built = build_ports(
        load_settings(home=tmp_path, oidc_issuer=issuer.url, oidc_audience=issuer.audience)
    )
    tenancy.create_tenant(built.records, "Acme")
    tenancy.create_tenant(built.records, "Globex")
    yield built
    built.close()


@pytest.fixture
def client(ports: Ports) -> Iterator[TestClient]:
    with TestClient(create_app(ports), raise_server_exceptions=False) as test_client:
        yield test_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_acts_in_its_tenant_with_its_scopes(
    client: TestClient, issuer: OidcIssuer, ports: Ports
) -> None:
    token = issuer.token(scope="openid assay/analyses:read")
    assert client.get("/v1/analyses", headers=_bearer(token)).status_code == 200
    # Reading is allowed, writing is not: the token names only analyses:read.
    denied = client.post("/v1/analyses", headers=_bearer(token), json={"source": "https://x/y"})
    assert denied.status_code == 403
    assert "analyses:write" in denied.json()["detail"]


def test_submissions_record_the_subject(client: TestClient, issuer: OidcIssuer) -> None:
    token = issuer.token(sub="alice@example.com")
    made = client.post(
        "/v1/analyses", headers=_bearer(token), json={"source": "https://example.com/r.git"}
    )
    assert made.status_code == 202, made.text
    assert made.json()["created_by"] == "oidc:alice@example.com"


def test_tenants_are_fenced_for_tokens_too(
    client: TestClient, issuer: OidcIssuer, ports: Ports
) -> None:
    made = client.post(
        "/v1/analyses",
        headers=_bearer(issuer.token(**{"custom:tenant": "globex"})),
        json={"source": "https://example.com/r.git"},
    )
    assert made.status_code == 202
    theirs = made.json()["id"]
    acme = _bearer(issuer.token())
    assert client.get(f"/v1/analyses/{theirs}", headers=acme).status_code == 404
    assert client.get("/v1/analyses", headers=acme).json()["items"] == []


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda idp: idp.unsigned_token(), "'none'"),
        (lambda idp: idp.hs256_with_public_key(), "'HS256'"),
        (lambda idp: idp.token(exp=1_600_000_000, iat=1_599_999_000), "expired"),
        (lambda idp: idp.token(aud="someone-else"), "audience"),
        (lambda idp: idp.token(iss="https://evil.example"), "issuer"),
        (lambda idp: idp.token(exp=None), "exp"),
        (lambda idp: idp.token(**{"custom:tenant": None}), "custom:tenant"),
        (lambda idp: idp.token(**{"custom:tenant": "initech"}), "unknown"),
        (lambda idp: idp.token()[:-6] + "AAAAAA", "signature"),
        (lambda idp: "not.a.jwt", "neither"),
    ],
    ids=["alg-none", "hs256-with-rsa-public-key", "expired", "wrong-audience", "wrong-issuer",
         "no-exp", "no-tenant", "unknown-tenant", "tampered", "garbage"],
)  # fmt: skip
def test_forged_or_wrong_tokens_are_refused(
    client: TestClient, issuer: OidcIssuer, forge: object, reason: str
) -> None:
    token = forge(issuer)  # type: ignore[operator]
    response = client.get("/v1/analyses", headers=_bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert reason in response.json()["detail"]


def test_a_key_the_issuer_never_published_is_refused(
    client: TestClient, issuer: OidcIssuer
) -> None:
    stranger = OidcIssuer()
    try:
        token = stranger.token(iss=issuer.url)  # right claims, signed by someone else's k1
    finally:
        stranger.close()
    response = client.get("/v1/analyses", headers=_bearer(token))
    assert response.status_code == 401
    assert "signature" in response.json()["detail"]


def test_keys_are_cached_and_an_unknown_kid_cannot_flood_the_issuer(
    client: TestClient, issuer: OidcIssuer
) -> None:
    for _ in range(5):
        assert client.get("/v1/analyses", headers=_bearer(issuer.token())).status_code == 200
    issuer.add_key("k2")
    for _ in range(3):  # within the refresh cooldown: refused without refetching
        assert (
            client.get("/v1/analyses", headers=_bearer(issuer.token(kid="k2"))).status_code == 401
        )
    assert issuer.jwks_fetches == 1


def test_a_rotated_key_is_fetched_after_the_cooldown(
    client: TestClient, issuer: OidcIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc, "REFRESH_COOLDOWN_S", 0.0)
    assert client.get("/v1/analyses", headers=_bearer(issuer.token())).status_code == 200
    issuer.add_key("k2")
    assert client.get("/v1/analyses", headers=_bearer(issuer.token(kid="k2"))).status_code == 200
    assert issuer.jwks_fetches == 2


def test_an_unreachable_issuer_is_a_503_not_a_401(ports: Ports, issuer: OidcIssuer) -> None:
    token = issuer.token()
    issuer.close()
    with TestClient(create_app(ports), raise_server_exceptions=False) as client:
        response = client.get("/v1/analyses", headers=_bearer(token))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "Retry-After" in response.headers


def test_api_keys_keep_working_beside_oidc(client: TestClient, ports: Ports) -> None:
    acme = tenancy.resolve_tenant(ports.records, "acme")
    key = tenancy.issue_key(ports.records, acme, "ci", [Scope.ANALYSES_READ]).key
    assert client.get("/v1/analyses", headers=_bearer(key)).status_code == 200


def test_symmetric_algorithms_cannot_be_configured(tmp_path: Path) -> None:
    settings = load_settings(
        home=tmp_path,
        oidc_issuer="https://idp.example",
        oidc_audience="a",
        oidc_algorithms="RS256,HS256",
    )
    built = build_ports(settings)
    try:
        with pytest.raises(ConfigError, match="algorithms"):
            create_app(built)
    finally:
        built.close()


def test_an_issuer_needs_an_audience(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ASSAY_OIDC_AUDIENCE"):
        load_settings(home=tmp_path, oidc_issuer="https://idp.example")


def test_scope_claims_and_urls() -> None:
    assert scopes_from("openid assay/analyses:read admin") == [Scope.ADMIN, Scope.ANALYSES_READ]
    assert scopes_from(["gateway:invoke", 3, "other/thing"]) == [Scope.GATEWAY_INVOKE]
    assert scopes_from(None) == []
    assert check_url("https://idp.example/x") == "https://idp.example/x"
    assert check_url("http://127.0.0.1:9/x") == "http://127.0.0.1:9/x"
    with pytest.raises(ValueError, match="https"):
        check_url("http://idp.example/jwks.json")
