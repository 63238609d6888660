"""A gateway served over real HTTP (uvicorn on loopback) in front of two scripted upstreams,
`primary` and `backup`, behind the resource `fast` (primary first, backup as fallback)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn

from assay import tenancy
from assay.api import create_app
from assay.config import load_settings
from assay.records import Scope
from assay.wiring import Ports, build_ports
from tests.conftest import _free_port
from tests.support.fake_upstream import FakeUpstream

SECRET = "sk-primary-DO-NOT-LEAK-1234"


class Served:
    app: Any = None  # the FastAPI app, for its gateway's usage writer

    def __init__(
        self,
        base: str,
        ports: Ports,
        primary: FakeUpstream,
        backup: FakeUpstream,
        key: str,
        admin: str,
    ) -> None:
        self.base, self.ports, self.primary, self.backup = base, ports, primary, backup
        self.key, self.admin = key, admin

    def sdk(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base + "/v1", api_key=key or self.key, max_retries=0)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    ports = build_ports(load_settings(home=tmp_path))
    acme = tenancy.create_tenant(ports.records, "Acme")
    key = tenancy.issue_key(ports.records, acme, "app", [Scope.GATEWAY_INVOKE]).key
    admin = tenancy.issue_key(ports.records, acme, "ops", [Scope.ADMIN]).key
    primary, backup = FakeUpstream("primary"), FakeUpstream("backup")
    port = _free_port()
    app = create_app(ports)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {admin}"}
    ids = []
    for name, upstream, secret in (("primary", primary, SECRET), ("backup", backup, "sk-b")):
        made = httpx.post(
            f"{base}/v1/gateway/connections",
            headers=auth,
            json={"name": name, "base_url": upstream.base_url, "api_key": secret},
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    resource = {
        "targets": [
            {"connection_id": ids[0], "model": "gpt-a"},
            {"connection_id": ids[1], "model": "gpt-b"},
        ],
    }
    assert (
        httpx.put(f"{base}/v1/gateway/resources/fast", headers=auth, json=resource).status_code
        == 200
    )
    try:
        result = Served(base, ports, primary, backup, key, admin)
        result.app = app
        yield result
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        primary.close()
        backup.close()
        ports.close()
