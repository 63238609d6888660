"""The gateway Lambda's entry point (`functions/gateway/run.sh`), run locally as the Lambda Web
Adapter runs it: the official SDK gets answers and streams through it, API Gateway's request
id becomes the correlation id, a shutdown stores pending usage, and its import loads none of
what a pass-through gateway does not need."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from assay import tenancy
from assay.config import load_settings
from assay.records import GatewayConnection, GatewayResource, RouteTarget, Scope, UsageEntry
from assay.wiring import Ports, build_ports
from tests.conftest import _free_port
from tests.support.fake_upstream import FakeUpstream

FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "gateway"


SECRET = "sk-entry-secret-DO-NOT-LEAK"


class World:
    def __init__(
        self, home: Path, ports: Ports, tenant_id: str, key: str, upstream: FakeUpstream
    ) -> None:
        self.home, self.ports, self.tenant_id, self.key = home, ports, tenant_id, key
        self.upstream = upstream


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    ports = build_ports(load_settings(home=tmp_path))
    upstream = FakeUpstream("primary")
    tenant = tenancy.create_tenant(ports.records, "Acme")
    key = tenancy.issue_key(ports.records, tenant, "app", [Scope.GATEWAY_INVOKE]).key
    connection = GatewayConnection(
        tenant_id=tenant.id, name="primary", provider="openai", base_url=upstream.base_url
    ).with_credentials(ports.vault, SECRET)
    ports.records.create(connection)
    ports.records.create(GatewayResource(
        id="fast", tenant_id=tenant.id, name="fast",
        targets=[RouteTarget(connection_id=connection.id, model="gpt-a")],
    ))  # fmt: skip
    try:
        yield World(tmp_path, ports, tenant.id, key, upstream)
    finally:
        upstream.close()
        ports.close()


def _environment(world: World, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment.update({
        "ASSAY_HOME": str(world.home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}",
        **extra,
    })  # fmt: skip
    return environment


@pytest.fixture
def adapter(world: World) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = _free_port()
    process = subprocess.Popen(
        [str(FUNCTION / "run.sh")],
        env=_environment(world, AWS_LWA_PORT=str(port)),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # the adapter's readiness check
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"run.sh did not start: {process.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield port, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


def test_the_sdk_works_through_the_gateway_entry_point(
    world: World, adapter: tuple[int, subprocess.Popen[str]]
) -> None:
    port, process = adapter
    base = f"http://127.0.0.1:{port}"
    context = json.dumps({"requestId": "apigw-req-42", "stage": "prod"})
    client = openai.OpenAI(
        base_url=f"{base}/v1", api_key=world.key, max_retries=0,
        default_headers={"x-amzn-request-context": context},
    )  # fmt: skip

    raw = client.chat.completions.with_raw_response.create(
        model="fast", messages=[{"role": "user", "content": "hello"}]
    )
    assert raw.headers["x-request-id"] == "apigw-req-42"
    assert float(raw.headers["x-assay-overhead-ms"]) >= 0
    answer = raw.parse()
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.total_tokens > 0

    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "stream please"}], stream=True
        )
        if chunk.choices
    ]
    assert len(pieces) > 1 and "".join(pieces)

    assert [m.id for m in client.models.list()] == ["fast"]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert missing.value.code == "model_not_found"

    world.upstream.fail_next = [500, 500, 500]  # every attempt fails: logged, answered 502
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="fast", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502
    assert world.upstream.authorizations[-1] == f"Bearer {SECRET}"
    assert SECRET not in str(failed.value.body)

    elsewhere = httpx.get(f"{base}/v1/analyses", headers={"Authorization": f"Bearer {world.key}"})
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "not_found"  # the API is not served here

    # Shutdown (what Lambda's SIGTERM does) stores the usage still queued.
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)  # uvicorn re-raises the signal once it has shut down
    logged = process.stderr.read()  # type: ignore[union-attr]
    assert "Application shutdown complete" in logged
    assert "every target failed" in logged and SECRET not in logged
    stored = world.ports.records.list(UsageEntry, world.tenant_id, limit=50).items
    assert sorted(e.status for e in stored) == ["error:404", "error:502", "ok", "ok"]
    assert all(SECRET not in e.model_dump_json() for e in stored)
    assert {e.model for e in stored if e.status == "ok"} == {"primary/gpt-a"}


def test_importing_the_entry_point_loads_only_what_passing_through_needs(world: World) -> None:
    """FastAPI, the analysis pipeline, LiteLLM, boto3, PyJWT and redis-py stay unloaded until a
    request needs them: the cold start pays for the gateway alone."""
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import app; "
        "print(sorted(m for m in ('fastapi', 'litellm', 'boto3', 'jwt', 'redis', "
        "'assay.analysis', 'assay.api.app') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe, str(FUNCTION)],
        env=_environment(world, ASSAY_REDIS_URL="redis://127.0.0.1:1/0"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
