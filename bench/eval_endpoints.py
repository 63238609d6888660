"""What evaluation adds to the gateway's request path, against the fast mock upstream
(bench/mock_upstream.py) on loopback, one `assay serve` process:

- the judge endpoint (`POST /v1/judges/{name}/chat/completions`, deterministic evaluators, so
  no judge model time) over calling the same target through `/v1/chat/completions`;
- online evaluation at 100% sampling (deterministic evaluators: every request is queued and
  scored off the path) over the same resource without it.

Requests go to the three endpoints in turn, one at a time, so all see the same machine.

    .venv/bin/python bench/eval_endpoints.py [--quick]

Results go to bench/results/eval_endpoints.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_overhead import free_port, percentiles, start_assay

ROOT = Path(__file__).resolve().parent
QUICK = "--quick" in sys.argv
ROUNDS = 500 if QUICK else 3000
EVALUATORS = [
    {"name": "says_ok", "type": "equals", "value": "ok"},
    {"name": "shape", "type": "regex", "pattern": "^[a-z]+$"},
    {"name": "short", "type": "similarity", "value": "ok", "threshold": 0.5},
]
MESSAGES = [{"role": "user", "content": "Say ok."}]


def main() -> None:
    upstream_port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "mock_upstream.py"),
                                 str(upstream_port)])  # fmt: skip
    upstream_url = f"http://127.0.0.1:{upstream_port}/v1"
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores",
        "quick": QUICK,
        "rounds": ROUNDS,
        "evaluators": [e["type"] for e in EVALUATORS],
    }
    processes = [upstream]
    try:
        time.sleep(0.5)
        with tempfile.TemporaryDirectory() as scratch:
            server, base, key = start_assay(upstream_url, Path(scratch))
            processes.append(server)
            auth = {"Authorization": f"Bearer {key}"}
            fast = httpx.get(f"{base}/v1/gateway/resources", headers=auth).json()["items"][0]
            httpx.put(f"{base}/v1/gateway/resources/fast-eval", headers=auth, json={
                "targets": fast["targets"],
                "evaluation": {"sample_rate": 1.0, "evaluators": EVALUATORS}},
            ).raise_for_status()  # fmt: skip
            httpx.put(
                f"{base}/v1/evals/judges/bench",
                headers=auth,
                json={"model": "fast", "evaluators": EVALUATORS},
            ).raise_for_status()
            body = {"messages": MESSAGES, "max_tokens": 5}
            targets = {
                "gateway": (f"{base}/v1/chat/completions", {**body, "model": "fast"}),
                "online_100pct": (f"{base}/v1/chat/completions", {**body, "model": "fast-eval"}),
                "judge_endpoint": (f"{base}/v1/judges/bench/chat/completions", body),
            }
            samples: dict[str, list[float]] = {name: [] for name in targets}
            with httpx.Client(headers=auth, timeout=30) as client:
                for index in range(ROUNDS + 50):
                    for name, (url, payload) in targets.items():
                        started = time.perf_counter()
                        response = client.post(url, json=payload)
                        elapsed = time.perf_counter() - started
                        assert response.status_code == 200, response.text
                        if index >= 50:  # warm connections and caches first
                            samples[name].append(elapsed)
                judged = client.post(targets["judge_endpoint"][0],
                                     json=targets["judge_endpoint"][1]).json()  # fmt: skip
                assert judged["evaluation"]["passed"], judged
            measured = {name: percentiles(found) for name, found in samples.items()}
            results["latency"] = measured
            base_line = measured["gateway"]
            results["judge_endpoint_added_ms"] = {
                k: round(measured["judge_endpoint"][k] - base_line[k], 3) for k in base_line
            }
            results["online_eval_added_ms"] = {
                k: round(measured["online_100pct"][k] - base_line[k], 3) for k in base_line
            }
            time.sleep(1.5)  # the scorer drains its queue
            trend = httpx.get(f"{base}/v1/evals/scores", headers=auth,
                              params={"resource": "fast-eval", "limit": 50_000}).json()  # fmt: skip
            results["online_samples_scored"] = sum(b["samples"] for b in trend)
            results["online_requests_sent"] = ROUNDS + 50
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
    out = ROOT / "results" / "eval_endpoints.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
