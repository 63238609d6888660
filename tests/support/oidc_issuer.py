"""A real OpenID Connect issuer on loopback: discovery document, JWKS, token minting, and the
authorization-code flow with PKCE for browser sign-in.

Serves `/.well-known/openid-configuration` and `/jwks.json` over HTTP from a thread, signs
RS256 tokens with keys it can rotate, and counts JWKS fetches so caching can be observed.
`/authorize` signs in `sign_in_as` at once (no login page) and redirects back with a code;
`/token` trades the code for an ID token only with the right verifier (S256), client and
redirect URI, once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OidcIssuer:
    def __init__(self, audience: str = "assay-console") -> None:
        self.audience = audience
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.jwks_fetches = 0
        self.codes: dict[str, dict[str, str]] = {}
        self.token_exchanges = 0
        self.sign_in_as: dict[str, Any] = {}  # claims of whoever signs in at /authorize
        self.add_key("k1")
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Access-Control-Allow-Origin", "*")  # browsers read these
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, {
                        "issuer": issuer.url, "jwks_uri": issuer.url + "/jwks.json",
                        "authorization_endpoint": issuer.url + "/authorize",
                        "token_endpoint": issuer.url + "/token",
                    })  # fmt: skip
                elif parts.path == "/jwks.json":
                    issuer.jwks_fetches += 1
                    self._json(200, issuer.jwks())
                elif parts.path == "/authorize":
                    self._authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
                else:
                    self.send_error(404)

            def _authorize(self, query: dict[str, str]) -> None:
                if (query.get("response_type") != "code"
                        or query.get("code_challenge_method") != "S256"
                        or query.get("client_id") != issuer.audience):  # fmt: skip
                    self._json(400, {"error": "invalid_request"})
                    return
                code = secrets.token_urlsafe(16)
                issuer.codes[code] = query
                back = urlencode({"code": code, "state": query.get("state", "")})
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{back}")
                self.end_headers()

            def do_POST(self) -> None:
                if self.path != "/token":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                asked = issuer.codes.pop(form.get("code", ""), None)  # a code works once
                verifier = form.get("code_verifier", "")
                challenge = _b64(hashlib.sha256(verifier.encode()).digest())
                if (asked is None or form.get("grant_type") != "authorization_code"
                        or challenge != asked["code_challenge"]
                        or form.get("client_id") != asked["client_id"]
                        or form.get("redirect_uri") != asked["redirect_uri"]):  # fmt: skip
                    self._json(400, {"error": "invalid_grant"})
                    return
                issuer.token_exchanges += 1
                token = issuer.token(**issuer.sign_in_as)
                self._json(200, {"id_token": token, "access_token": token,
                                 "token_type": "Bearer", "expires_in": 300})  # fmt: skip

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def public_pem(self, kid: str = "k1") -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.url,
            "aud": self.audience,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "custom:tenant": "acme",
            "scope": "openid assay/analyses:read assay/analyses:write",
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        return jwt.encode(self.claims(**overrides), self.keys[kid], "RS256", headers={"kid": kid})

    def unsigned_token(self, **overrides: Any) -> str:
        """`alg: none`: a token with no signature at all."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
        return f"{header}.{_b64(json.dumps(self.claims(**overrides)).encode())}."

    def hs256_with_public_key(self, **overrides: Any) -> str:
        """The algorithm-confusion forgery: HMAC-SHA256 keyed with the issuer's public key."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
        body = _b64(json.dumps(self.claims(**overrides)).encode())
        signature = hmac.new(self.public_pem(), f"{header}.{body}".encode(), hashlib.sha256)
        return f"{header}.{body}.{_b64(signature.digest())}"
