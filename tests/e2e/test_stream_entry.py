"""The Lambda Web Adapter entry point (`functions/api_stream/run.sh`), run locally as the
adapter would run it: events arrive one by one while the stream is open, correlation ids come
from the request context the adapter forwards."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assay import tenancy
from assay.config import load_settings
from assay.records import Analysis, AnalysisEvent, AnalysisStatus, Scope
from assay.wiring import Ports, build_ports
from tests.conftest import _free_port

RUN = Path(__file__).resolve().parents[2] / "functions" / "api_stream" / "run.sh"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, Ports]]:
    ports = build_ports(load_settings(home=tmp_path))
    yield tmp_path, ports
    ports.close()


@pytest.fixture
def adapter_port(home: tuple[Path, Ports]) -> Iterator[int]:
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment.update({
        "ASSAY_HOME": str(home[0]), "AWS_LWA_PORT": str(port),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}",
    })  # fmt: skip
    process = subprocess.Popen([str(RUN)], env=environment, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:  # what the adapter's readiness check does
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"run.sh did not start: {process.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _event(ports: Ports, analysis: Analysis, seq: int, kind: str) -> None:
    ports.records.create(AnalysisEvent(tenant_id=analysis.tenant_id, analysis_id=analysis.id,
                                       seq=seq, type=kind, data={"n": seq}))  # fmt: skip


def test_events_stream_through_the_adapter_entry_point_as_they_happen(
    home: tuple[Path, Ports], adapter_port: int
) -> None:
    _, ports = home
    tenant = tenancy.create_tenant(ports.records, "Acme")
    key = tenancy.issue_key(ports.records, tenant, "ci", [Scope.ANALYSES_READ]).key
    analysis = ports.records.create(Analysis(tenant_id=tenant.id, source="https://x/y.git",
                                             status=AnalysisStatus.RUNNING))  # fmt: skip
    _event(ports, analysis, 1, "intake")
    _event(ports, analysis, 2, "detect")

    received: queue.Queue[tuple[str, str]] = queue.Queue()
    headers = {
        "Authorization": f"Bearer {key}",
        "x-amzn-request-context": json.dumps({"requestId": "apigw-req-42", "stage": "prod"}),
    }
    answer: dict[str, str] = {}

    def listen() -> None:
        url = f"http://127.0.0.1:{adapter_port}/v1/analyses/{analysis.id}/events"
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60)) as stream:
            answer.update(stream.headers)
            current = ""
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    current = line.removeprefix("id: ")
                elif line.startswith("event: "):
                    received.put((current, line.removeprefix("event: ")))
                    if line == "event: end":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert received.get(timeout=20) == ("1", "intake")
    assert received.get(timeout=20) == ("2", "detect")
    assert received.empty()
    # Written while the stream is open: it arrives on the same connection.
    _event(ports, analysis, 3, "install")
    assert received.get(timeout=20) == ("3", "install")
    ports.records.update(analysis.evolve(status=AnalysisStatus.SUCCEEDED))
    assert received.get(timeout=20)[1] == "end"
    listener.join(timeout=10)
    assert answer["content-type"].startswith("text/event-stream")
    assert answer["x-request-id"] == "apigw-req-42"


def test_the_entry_point_answers_problems_like_the_buffered_one(adapter_port: int) -> None:
    response = httpx.get(f"http://127.0.0.1:{adapter_port}/v1/analyses/x/events")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
