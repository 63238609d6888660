"""Evals through the HTTP API of a real server (uvicorn on loopback) whose gateway reaches
scripted models: datasets, runs executed by the eval worker and followed over SSE, failing
items first, comparison, named judges behind an OpenAI-compatible endpoint, and online
evaluation of live traffic turned into a dataset."""

from __future__ import annotations

import json
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
from assay.evals.worker import EvalWorker
from assay.records import EvalSample, Scope
from assay.wiring import build_ports
from tests.conftest import _free_port
from tests.support.eval_models import CAPITALS, EvalModels


class Server:
    def __init__(self, base: str, admin: str, app_key: str, worker: EvalWorker, app: Any,
                 models: EvalModels) -> None:  # fmt: skip
        self.base, self.admin, self.app_key, self.worker = base, admin, app_key, worker
        self.app, self.models = app, models

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    models = EvalModels()
    with models.serve() as upstream:
        ports = build_ports(load_settings(home=tmp_path))
        acme = tenancy.create_tenant(ports.records, "Acme")
        admin = tenancy.issue_key(ports.records, acme, "ops", [Scope.ADMIN]).key
        app_key = tenancy.issue_key(ports.records, acme, "app", [Scope.GATEWAY_INVOKE]).key
        app = create_app(ports)
        port = _free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not uv.started and time.monotonic() < deadline:
            time.sleep(0.02)
        served = Server(f"http://127.0.0.1:{port}", admin, app_key,
                        EvalWorker(ports.settings, ports), app, models)  # fmt: skip
        made = served.call("POST", "/v1/gateway/connections",
                           json={"name": "scripted", "base_url": upstream})  # fmt: skip
        assert made.status_code == 201, made.text
        for model in ("capital-bot", "broken-bot", "fair-judge", "garbled-judge"):
            target = {"targets": [{"connection_id": made.json()["id"], "model": model}]}
            assert (
                served.call("PUT", f"/v1/gateway/resources/{model}", json=target).status_code == 200
            )
        try:
            yield served
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
            ports.close()


def _dataset(server: Server) -> None:
    lines = "".join(json.dumps({"id": c.lower(), "input": {"country": c}, "expected": city}) + "\n"
                    for c, city in CAPITALS.items())  # fmt: skip
    made = server.call("POST", "/v1/evals/datasets/capitals/upload", content=lines,
                       headers={"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["version"] == 1 and made.json()["items"] == 6


def _suite(model: str) -> dict[str, Any]:
    return {
        "name": "capitals", "dataset": "capitals",
        "target": {"model": model, "messages": [
            {"role": "user", "content": "What is the capital of {{country}}?"}]},
        "evaluators": [{"name": "exact", "type": "equals", "ignore_case": True},
                       {"name": "judge", "type": "llm_judge", "model": "fair-judge",
                        "rubric": "Is it {{expected}}?"}],
        "pass": {"min_score": 0.5},
    }  # fmt: skip


def _run(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    submitted = server.call("POST", "/v1/evals/runs", json=body)
    assert submitted.status_code == 202, submitted.text
    run_id = submitted.json()["id"]
    assert submitted.json()["status"] == "queued"
    done = server.worker.run_one()
    assert done is not None and done.id == run_id, done
    found: dict[str, Any] = server.call("GET", f"/v1/evals/runs/{run_id}").json()
    assert found["status"] == "succeeded", found
    return found


def test_a_run_through_the_api_is_scored_followed_and_compared(server: Server) -> None:
    _dataset(server)
    csv = "id,country,expected,metadata.source\n1,France,Paris,atlas\n2,Peru,Lima,atlas\n"
    again = server.call("POST", "/v1/evals/datasets/capitals/upload", content=csv,
                        headers={"Content-Type": "text/csv"})  # fmt: skip
    assert again.status_code == 201 and again.json()["version"] == 2
    listed = server.call("GET", "/v1/evals/datasets/capitals").json()
    assert [v["version"] for v in listed["versions"]] == [2, 1] and listed["latest"] == 2
    items = server.call("GET", "/v1/evals/datasets/capitals/versions/2/items").json()
    assert items["items"][0] == {"id": "1", "input": {"country": "France"}, "expected": "Paris",
                                 "metadata": {"source": "atlas"}}  # fmt: skip
    good = _run(server, {"suite": _suite("capital-bot"), "dataset_version": 1})
    assert good["gate_held"] and good["summary"]["passed"] == 6
    broken = _run(server, {"suite": _suite("broken-bot"), "dataset_version": 1,
                           "baseline_run_id": good["id"]})  # fmt: skip
    assert broken["comparison"]["regressions"] == 2
    ranked = server.call("GET", f"/v1/evals/runs/{broken['id']}/items").json()
    assert [i["passed"] for i in ranked["items"][:3]] == [False, False, True]  # failing first
    assert sum(ranked["score_histogram"]["exact"]) == 6
    compared = server.call("GET", f"/v1/evals/runs/{broken['id']}/compare/{good['id']}").json()
    assert sorted(c["id"] for c in compared["regressions"]) == ["kenya", "peru"]
    events = server.call("GET", f"/v1/evals/runs/{broken['id']}/events").text
    assert "event: started" in events and "event: finished" in events and "event: end" in events
    junit = server.call("GET", f"/v1/evals/runs/{broken['id']}/files/junit.xml")
    assert junit.status_code == 200 and junit.text.count("<testcase") == 6
    runs = server.call("GET", "/v1/evals/runs", params={"status": "succeeded"}).json()["items"]
    assert [r["id"] for r in runs] == [broken["id"], good["id"]]


def test_a_wrong_run_is_refused_and_nothing_is_queued(server: Server) -> None:
    _dataset(server)
    unknown = server.call("POST", "/v1/evals/runs", json={"suite": _suite("nobody")})
    assert unknown.status_code == 400 and "nobody" in unknown.json()["detail"]
    suite = _suite("capital-bot")
    suite["target"]["messages"][0]["content"] = "{{nation}}?"
    missing = server.call("POST", "/v1/evals/runs", json={"suite": suite})
    assert missing.status_code == 400 and "nation" in missing.json()["detail"]
    typo = server.call("POST", "/v1/evals/runs", json={"suite": {**suite, "evaluators": []}})
    assert typo.status_code == 422 and "suite.evaluators" in typo.text
    dup = server.call("POST", "/v1/evals/datasets/d/upload", content='{"id":"a"}\n{"id":"a"}\n')
    assert dup.status_code == 400 and "repeated" in dup.json()["detail"]
    assert server.call("GET", "/v1/evals/runs").json()["items"] == []
    assert server.worker.run_one() is None


def test_a_named_judge_answers_with_its_scores(server: Server) -> None:
    judge = {
        "model": "capital-bot",
        "threshold": 1.0,
        "evaluators": [
            {"name": "exact", "type": "equals", "value": "{{expected}}"},
            {"name": "judge", "type": "llm_judge", "model": "fair-judge", "rubric": "Correct?"},
        ],
    }
    assert server.call("PUT", "/v1/evals/judges/capitals", json=judge).status_code == 200
    sdk = openai.OpenAI(base_url=f"{server.base}/v1/judges/capitals", api_key=server.app_key,
                        max_retries=0)  # fmt: skip
    answer = sdk.chat.completions.create(
        model="ignored",
        messages=[{"role": "user", "content": "What is the capital of Peru?"}],
        extra_body={"assay_eval": {"expected": "Lima"}},
    )
    extra = answer.model_extra or {}
    assert answer.choices[0].message.content == "Lima"
    assert [r["name"] for r in extra["evaluator_results"]] == ["exact", "judge"]
    assert extra["evaluation"]["passed"] is True
    wrong = sdk.chat.completions.create(
        model="x",
        messages=[{"role": "user", "content": "What is the capital of Peru?"}],
        extra_body={"assay_eval": {"expected": "Cusco"}},
    )
    assert (wrong.model_extra or {})["evaluation"]["passed"] is False
    bad = {"model": "m", "evaluators": [{"name": "c", "type": "python", "code": "x"}]}
    refused = server.call("PUT", "/v1/evals/judges/code", json=bad)
    assert refused.status_code == 422 and "evaluators" in refused.text
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=f"{server.base}/v1/judges/none", api_key=server.app_key,
                      max_retries=0).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}])  # fmt: skip


def test_online_evaluation_scores_live_traffic_off_the_path_and_feeds_datasets(
    server: Server,
) -> None:
    current = server.call("GET", "/v1/gateway/resources").json()["items"]
    bot = next(r for r in current if r["name"] == "capital-bot")
    rule = {
        "sample_rate": 1.0,
        "evaluators": [
            {"name": "shape", "type": "regex", "pattern": "^[A-Z][a-z]+$"},
            {"name": "judge", "type": "llm_judge", "model": "fair-judge", "rubric": "A capital?"},
            {"name": "broken", "type": "llm_judge", "model": "garbled-judge", "rubric": "?"},
        ],
    }
    put = server.call("PUT", "/v1/gateway/resources/capital-bot",
                      json={"targets": bot["targets"], "evaluation": rule})  # fmt: skip
    assert put.status_code == 200, put.text
    sdk = openai.OpenAI(base_url=f"{server.base}/v1", api_key=server.app_key, max_retries=0)
    for country in ("France", "Atlantis"):
        sdk.chat.completions.create(
            model="capital-bot",
            messages=[{"role": "user", "content": f"What is the capital of {country}?"}],
        )
    scorer = server.app.state.gateway.online
    assert scorer.flush(30)
    samples = server.app.state.ports.records.list(EvalSample, _tenant(server), limit=10).items
    assert len(samples) == 2  # the judges' own calls were not sampled
    paris = next(s for s in samples if s.output == "Paris")
    assert paris.scores == {"shape": 1.0, "judge": 1.0}
    assert "malformed JSON twice" in paris.errors["broken"]
    trend = server.call("GET", "/v1/evals/scores", params={"resource": "capital-bot"}).json()
    assert trend[0]["samples"] == 2 and trend[0]["mean_scores"]["judge"] == 0.5
    made = server.call("POST", "/v1/evals/datasets/production/from-gateway",
                       json={"resource": "capital-bot", "min_score": 0.9})  # fmt: skip
    assert made.status_code == 201 and made.json()["items"] == 1
    bad_rule = {"sample_rate": 1, "evaluators": [{"name": "x", "type": "pairwise",
                                                  "model": "m", "rubric": "r"}]}  # fmt: skip
    refused = server.call("PUT", "/v1/gateway/resources/capital-bot",
                          json={"targets": bot["targets"], "evaluation": bad_rule})  # fmt: skip
    assert refused.status_code == 422 and "evaluation.evaluators" in refused.text


def _tenant(server: Server) -> str:
    return str(server.call("GET", "/v1/me").json()["tenant_id"])


def test_the_sdk_submits_a_suite_file_and_follows_the_run(server: Server, tmp_path: Path) -> None:
    import asyncio

    import yaml

    from assay.client import AssayClient, AsyncAssayClient

    rows = "".join(json.dumps({"id": c, "input": {"country": c}, "expected": city}) + "\n"
                   for c, city in CAPITALS.items())  # fmt: skip
    (tmp_path / "capitals.jsonl").write_text(rows)
    suite = {**_suite("capital-bot"), "dataset": "capitals.jsonl"}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    server.worker.start()
    try:
        with AssayClient(server.base, server.admin) as client:
            made = client.submit_eval(tmp_path / "suite.yaml")
            assert made["dataset"] == "capitals" and made["dataset_version"] == 1
            seen = [event.type for event in client.eval_events(made["id"])]
            assert seen[0] == "started" and seen[-1] == "finished" and "progress" in seen
            done = client.eval_run(made["id"])
            assert done["status"] == "succeeded" and done["gate_held"]
            assert b"<testcase" in client.eval_file(made["id"], "junit.xml")

        async def follow() -> dict[str, Any]:
            async with AsyncAssayClient(server.base, server.admin) as client:
                again = await client.submit_eval(tmp_path / "suite.yaml",
                                                 baseline_run_id=made["id"])  # fmt: skip
                finished = await client.wait_eval(again["id"])
                compared = await client.compare_evals(again["id"], made["id"])
                assert compared["verdict"] == "no change"
                return finished

        finished = asyncio.run(follow())
        assert finished["status"] == "succeeded" and finished["dataset_version"] == 2
    finally:
        server.worker.stop()


def test_the_cli_runs_a_suite_through_a_servers_gateway(server: Server, tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    import yaml

    rows = "".join(json.dumps({"id": c, "input": {"country": c}, "expected": city}) + "\n"
                   for c, city in CAPITALS.items())  # fmt: skip
    (tmp_path / "capitals.jsonl").write_text(rows)
    suite = {**_suite("capital-bot"), "dataset": "capitals.jsonl"}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    assay = shutil.which("assay", path=str(Path(sys.executable).parent)) or "assay"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "OPENAI"))}
    env.update({"ASSAY_HOME": str(tmp_path / "home"), "ASSAY_API_KEY": server.app_key})
    command = [assay, "eval", "run", str(tmp_path / "suite.yaml"), "--server", server.base,
               "--out", str(tmp_path / "out")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6/6 passed" in done.stdout
    server.app.state.gateway.usage.flush()
    trail = server.call("GET", "/v1/gateway/requests").json()["items"]
    assert {e["resource"] for e in trail} >= {"capital-bot", "fair-judge"}
    wrong = subprocess.run([*command[:-2], "--out", str(tmp_path / "no")], capture_output=True,
                           text=True, env={**env, "ASSAY_API_KEY": "assay_wrong"}, timeout=60,
                           check=False)  # fmt: skip
    assert wrong.returncode == 2 and "error:" in wrong.stderr and not (tmp_path / "no").exists()
