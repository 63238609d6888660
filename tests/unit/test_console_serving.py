"""How `assay serve` serves the console: its files with a strict CSP, its config, and a clear
page when it has not been built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from assay import console
from assay.api import create_app
from assay.config import load_settings
from assay.wiring import build_ports


def _client(home: Path, static: Path, **settings: Any) -> TestClient:
    ports = build_ports(load_settings(home=home, **settings))
    app = create_app(ports)
    console.mount(app, ports.settings, static=static)
    return TestClient(app)


def test_the_files_come_with_a_strict_policy_and_the_api_still_answers(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><title>Assay</title>")
    (static / "assets" / "app.js").write_text("console.log(1)")
    with _client(tmp_path, static, oidc_issuer="https://idp.example.com",
                 oidc_audience="console-client") as client:  # fmt: skip
        page = client.get("/")
        assert page.status_code == 200 and "<title>Assay</title>" in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "connect-src 'self' https://idp.example.com" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        assert client.get("/assets/app.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/config.json").json() == {
            "api_url": "",
            "oidc": {"issuer": "https://idp.example.com", "client_id": "console-client",
                     "scope": "openid email profile"},
        }  # fmt: skip
        # The API's routes win over the files.
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/v1/analyses").status_code == 401
        assert client.get("/nope.js").status_code == 404


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    with _client(tmp_path, tmp_path / "missing") as client:
        page = client.get("/")
        assert page.status_code == 503
        assert "make console" in page.text
        assert client.get("/config.json").json() == {"api_url": "", "oidc": None}
