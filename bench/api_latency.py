"""API speed: requests per second and p50/p99 latency of GET /v1/analyses/{id} and of key
authentication (an unknown key, looked up every time), at concurrency 1 and 32, against
`assay serve` on loopback; and the Lambda handler module's import time and peak memory."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from assay.records.api_keys import mint_key

ROOT = Path(__file__).resolve().parent
REQUESTS = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load(url: str, headers: dict[str, str], concurrency: int, expect: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_worker = REQUESTS // concurrency

    def worker() -> None:
        with httpx.Client(headers=headers, timeout=30) as client:
            for _ in range(per_worker):
                started = time.perf_counter()
                status = client.get(url).status_code
                elapsed = time.perf_counter() - started
                assert status == expect, status
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "rps": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
    }


HANDLER = ROOT.parent / "functions" / "api" / "handler.py"


def handler_cold_start() -> dict[str, float]:
    code = (
        "import time, resource, importlib.util, sys\n"
        "t = time.perf_counter()\n"
        f"spec = importlib.util.spec_from_file_location('h', {str(HANDLER)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    runs = []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "ASSAY_HOME": home, "POWERTOOLS_TRACE_DISABLED": "true"}
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True).stdout.split()  # fmt: skip
            runs.append((float(out[0]), int(out[1])))
    return {
        "import_s_median": round(statistics.median(r[0] for r in runs), 3),
        "peak_rss_mb": round(max(r[1] for r in runs) / 1024, 1),
    }


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="assay-bench-api-"))
    key, port = mint_key(), free_port()
    env = {**os.environ, "ASSAY_HOME": str(home), "ASSAY_BOOTSTRAP_API_KEY": key,
           "ASSAY_API_RATE_LIMIT": "100000000"}  # fmt: skip
    assay = str(Path(sys.executable).parent / "assay")
    server = subprocess.Popen([assay, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {key}"}
        made = httpx.post(f"{base}/v1/analyses", headers=auth, timeout=10,
                          json={"source": "https://bench.invalid/r.git"}).json()  # fmt: skip
        url = f"{base}/v1/analyses/{made['id']}"
        unknown = {"Authorization": f"Bearer {mint_key()}"}
        figures = {
            "get_analysis": [load(url, auth, c, 200) for c in (1, 32)],
            "key_auth_miss": [load(f"{base}/v1/analyses", unknown, c, 401) for c in (1, 32)],
            "lambda_handler_cold_start": handler_cold_start(),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(json.dumps(figures, indent=2))
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "api_latency.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
