"""Gateway speed against a fast mock upstream on loopback (bench/mock_upstream.py):

- added latency at concurrency 1: gateway p50/p99 minus direct p50/p99 (pass-through chat),
  the two measured alternately request by request so both see the same machine;
- added time to first chunk when streaming;
- the highest request rate with p99 under 1 s (a concurrency sweep), for Assay's gateway and,
  when `LITELLM_PROXY` names a `litellm` executable (litellm[proxy] in its own venv), for
  LiteLLM's proxy in the same run;
- the gateway's memory idle and after load.

    .venv/bin/python bench/gateway_overhead.py [--quick]

Results go to bench/results/gateway_overhead.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from assay.records.api_keys import mint_key

ROOT = Path(__file__).resolve().parent
QUICK = "--quick" in sys.argv
SEQUENTIAL = 500 if QUICK else 3000
SWEEP = [4, 16, 64] if QUICK else [4, 8, 16, 32, 64, 128, 256]
SWEEP_S = 3.0 if QUICK else 6.0
MASTER_KEY = "sk-" + "5" * 64  # LiteLLM's proxy refuses to start without one
BODY = {"model": "fast", "messages": [{"role": "user", "content": "Say ok."}], "max_tokens": 5}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 3),
    }


def paired(
    direct: tuple[str, dict[str, Any]], gateway: tuple[str, dict[str, str], dict[str, Any]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Concurrency 1, direct and through the gateway alternately, so both see the same
    machine (2 shared cores drift by tenths of a millisecond over a run)."""
    direct_url, direct_body = direct
    gateway_url, headers, gateway_body = gateway
    plain, through = [], []
    with httpx.Client(timeout=30) as one, httpx.Client(headers=headers, timeout=30) as other:
        for index in range(SEQUENTIAL + 50):
            started = time.perf_counter()
            one.post(direct_url, json=direct_body).raise_for_status()
            middle = time.perf_counter()
            other.post(gateway_url, json=gateway_body).raise_for_status()
            ended = time.perf_counter()
            if index >= 50:  # warm connections and caches first
                plain.append(middle - started)
                through.append(ended - middle)
    return percentiles(plain), percentiles(through)


def sequential(url: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, float]:
    samples = []
    with httpx.Client(headers=headers, timeout=30) as client:
        for _ in range(50):  # warm connections and caches
            client.post(url, json=body)
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            response = client.post(url, json=body)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return percentiles(samples)


def _first_chunk_s(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    with client.stream("POST", url, json=body) as response:
        chunks = response.iter_raw()
        next(chunks)
        elapsed = time.perf_counter() - started
        for _ in chunks:
            pass
    return elapsed


def first_chunks(
    direct_url: str, gateway_url: str, headers: dict[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Time to the first streamed chunk, direct and through the gateway alternately."""
    plain, through = [], []
    direct_body = {**BODY, "model": "gpt-bench", "stream": True}
    with httpx.Client(timeout=30) as one, httpx.Client(headers=headers, timeout=30) as other:
        for index in range(SEQUENTIAL // 3 + 20):
            first = _first_chunk_s(one, direct_url, direct_body)
            second = _first_chunk_s(other, gateway_url, {**BODY, "stream": True})
            if index >= 20:
                plain.append(first)
                through.append(second)
    return percentiles(plain), percentiles(through)


async def _sweep_one(url: str, headers: dict[str, str], concurrency: int) -> dict[str, float]:
    """`concurrency` workers posting back to back for SWEEP_S. The load comes from aiohttp:
    httpx's async client tops out near 1,000 requests a second here and collapses above 16
    concurrent requests, which would measure the client instead of the gateway."""
    samples: list[float] = []
    errors = 0
    stop = time.monotonic() + SWEEP_S
    body = json.dumps(BODY).encode()
    sent = {**headers, "Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=sent) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                samples.append(time.perf_counter() - started)
                errors += not ok

        began = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.monotonic() - began
    return {
        "concurrency": concurrency,
        "rps": round(len(samples) / wall, 1),
        "errors": errors,
        **percentiles(samples),
    }


def sweep(url: str, headers: dict[str, str]) -> dict[str, Any]:
    runs = [asyncio.run(_sweep_one(url, headers, c)) for c in SWEEP]
    good = [r for r in runs if r["p99_ms"] < 1000 and r["errors"] == 0]
    return {"runs": runs, "max_rps_p99_under_1s": max((r["rps"] for r in good), default=0.0)}


def start_assay(upstream: str, home: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    key = mint_key()
    port = free_port()
    env = {
        **os.environ,
        "ASSAY_HOME": str(home),
        "ASSAY_BOOTSTRAP_API_KEY": key,
        "ASSAY_API_RATE_LIMIT": str(10**9),
        "ASSAY_LOG_LEVEL": "WARNING",
    }
    assay = str(Path(sys.executable).parent / "assay")
    server = subprocess.Popen(
        [assay, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base + "/healthz", server)
    auth = {"Authorization": f"Bearer {key}"}
    made = httpx.post(
        f"{base}/v1/gateway/connections",
        headers=auth,
        json={"name": "mock", "base_url": upstream, "api_key": "sk-bench"},
    )
    made.raise_for_status()
    httpx.put(
        f"{base}/v1/gateway/resources/fast",
        headers=auth,
        json={"targets": [{"connection_id": made.json()["id"], "model": "gpt-bench"}]},
    ).raise_for_status()
    return server, base, key


def start_litellm(
    executable: str, upstream: str, home: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = home / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: fast\n    litellm_params:\n      model: openai/gpt-bench\n"
        f"      api_base: {upstream}\n      api_key: sk-bench\n"
    )
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MASTER_KEY": MASTER_KEY,
    }
    server = subprocess.Popen(
        [executable, "--config", str(config), "--port", str(port), "--num_workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base + "/health/liveliness", server, timeout_s=180)
    return server, base


def main() -> None:
    upstream_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(ROOT / "mock_upstream.py"), str(upstream_port)]
    )
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores", "quick": QUICK}
    processes = [upstream]
    try:
        time.sleep(0.5)
        direct_url = upstream_url + "/chat/completions"
        with tempfile.TemporaryDirectory() as scratch:
            server, base, key = start_assay(upstream_url, Path(scratch))
            processes.append(server)
            headers = {"Authorization": f"Bearer {key}"}
            gateway_url = base + "/v1/chat/completions"
            results["gateway_rss_idle_mb"] = rss_mb(server.pid)
            direct, through = paired(
                (direct_url, {**BODY, "model": "gpt-bench"}), (gateway_url, headers, BODY)
            )
            results["c1_direct"] = direct
            results["c1_gateway"] = through
            results["c1_added_ms"] = {k: round(through[k] - direct[k], 3) for k in direct}
            ttfc_direct, ttfc_gateway = first_chunks(direct_url, gateway_url, headers)
            results["first_chunk_direct"] = ttfc_direct
            results["first_chunk_gateway"] = ttfc_gateway
            results["first_chunk_added_ms"] = {
                k: round(ttfc_gateway[k] - ttfc_direct[k], 3) for k in ttfc_direct
            }
            overheads = []
            with httpx.Client(headers=headers) as client:
                for _ in range(300):
                    response = client.post(gateway_url, json=BODY)
                    overheads.append(float(response.headers["x-assay-overhead-ms"]) / 1000)
            results["reported_overhead"] = percentiles(overheads)
            results["assay_sweep"] = sweep(gateway_url, headers)
            results["gateway_rss_after_load_mb"] = rss_mb(server.pid)
            litellm = os.environ.get("LITELLM_PROXY")
            if litellm:
                proxy, proxy_base = start_litellm(litellm, upstream_url, Path(scratch))
                processes.append(proxy)
                proxy_headers = {"Authorization": f"Bearer {MASTER_KEY}"}
                proxy_url = proxy_base + "/v1/chat/completions"
                results["litellm_c1"] = sequential(proxy_url, proxy_headers, BODY)
                results["litellm_c1_added_ms"] = {
                    k: round(results["litellm_c1"][k] - direct[k], 3) for k in direct
                }
                results["litellm_sweep"] = sweep(proxy_url, proxy_headers)
                results["rate_ratio_assay_over_litellm"] = round(
                    results["assay_sweep"]["max_rps_p99_under_1s"]
                    / max(results["litellm_sweep"]["max_rps_p99_under_1s"], 1e-9),
                    2,
                )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
    out = ROOT / "results" / "gateway_overhead.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
