"""Cold start of the gateway Lambda's entry point (`functions/gateway/app.py`):

- module import time in a fresh interpreter (what Lambda's init phase runs before the Web
  Adapter's readiness check), median and max of several runs, for the local profile and for
  the aws profile (adapters are built on first use, so no AWS endpoint is contacted), with
  the peak RSS after import; the full API handler (`functions/api/handler.py`) for reference;
- what that defers: from process start to the first answered chat completion through
  `functions/gateway/run.sh` (uvicorn start, readiness, first request building its adapters),
  against the mock upstream on loopback.

    .venv/bin/python bench/gateway_cold_start.py

Results go to bench/results/gateway_cold_start.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from assay import tenancy
from assay.config import load_settings
from assay.records import GatewayConnection, GatewayResource, RouteTarget, Scope
from assay.wiring import build_ports

ROOT = Path(__file__).resolve().parent
FUNCTIONS = ROOT.parent / "functions"
RUNS = 9
PROBE = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
print(elapsed * 1000, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
AWS = {  # what the deploy sets; nothing is contacted at import
    "ASSAY_PROFILE": "aws",
    "ASSAY_AWS_REGION": "us-east-1",
    "ASSAY_TABLE_NAME": "assay-bench",
    "ASSAY_ARTIFACTS_BUCKET": "assay-bench",
    "ASSAY_KMS_KEY_ID": "alias/assay-bench",
    "ASSAY_REDIS_URL": "redis://127.0.0.1:1/0",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "AWS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def import_time(folder: Path, module: str, env: dict[str, str]) -> dict[str, float]:
    times, peaks = [], []
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(module=module), str(folder)],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        elapsed, peak = (float(x) for x in done.stdout.split()[-2:])
        times.append(elapsed)
        peaks.append(peak)
    return {
        "median_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
        "peak_rss_mb": round(statistics.median(peaks), 1),
    }


def first_answer(home: Path, upstream_url: str) -> dict[str, float]:
    ports = build_ports(load_settings(home=home))
    tenant = tenancy.create_tenant(ports.records, "Bench")
    key = tenancy.issue_key(ports.records, tenant, "bench", [Scope.GATEWAY_INVOKE]).key
    connection = GatewayConnection(
        tenant_id=tenant.id, name="mock", provider="openai", base_url=upstream_url
    ).with_credentials(ports.vault, "sk-bench")
    ports.records.create(connection)
    ports.records.create(GatewayResource(
        id="fast", tenant_id=tenant.id, name="fast",
        targets=[RouteTarget(connection_id=connection.id, model="gpt-bench")],
    ))  # fmt: skip
    ports.close()
    port = free_port()
    body = {"model": "fast", "messages": [{"role": "user", "content": "Say ok."}]}
    client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(FUNCTIONS / "gateway" / "run.sh")],
        env=clean_env(ASSAY_HOME=str(home), AWS_LWA_PORT=str(port)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if client.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.005)
        ready = time.perf_counter()
        client.post(base + "/v1/chat/completions", json=body).raise_for_status()
        first = time.perf_counter()
        second_started = time.perf_counter()
        client.post(base + "/v1/chat/completions", json=body).raise_for_status()
        second = time.perf_counter() - second_started
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=15)
    return {
        "start_to_ready_ms": round((ready - started) * 1000, 1),
        "first_request_ms": round((first - ready) * 1000, 1),
        "start_to_first_answer_ms": round((first - started) * 1000, 1),
        "warm_request_ms": round(second * 1000, 1),
    }


def main() -> None:
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "runs": RUNS,
                               "python": sys.version.split()[0]}  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        results["gateway_import_local"] = import_time(
            FUNCTIONS / "gateway", "app", clean_env(ASSAY_HOME=str(home / "local"))
        )
        results["gateway_import_aws"] = import_time(
            FUNCTIONS / "gateway", "app", clean_env(ASSAY_HOME=str(home / "aws"), **AWS)
        )
        results["api_handler_import_local"] = import_time(
            FUNCTIONS / "api", "handler", clean_env(ASSAY_HOME=str(home / "api"))
        )
        upstream_port = free_port()
        upstream = subprocess.Popen(
            [sys.executable, str(ROOT / "mock_upstream.py"), str(upstream_port)]
        )
        try:
            time.sleep(0.5)
            results["gateway_first_answer_local"] = first_answer(
                home / "first", f"http://127.0.0.1:{upstream_port}/v1"
            )
        finally:
            upstream.terminate()
            upstream.wait(timeout=15)
    out = ROOT / "results" / "gateway_cold_start.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
