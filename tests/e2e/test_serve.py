"""`assay serve` over real HTTP on a loopback port."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from assay.records.api_keys import mint_key
from tests.conftest import _free_port
from tests.e2e.test_cli import ASSAY
from tests.integration.conftest import EXAMPLE, REGISTRY


@contextmanager
def serving(home: Path, *args: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment.update({"ASSAY_HOME": str(home), **env})
    process = subprocess.Popen(
        [ASSAY, "serve", "--port", str(port), *args],
        env=environment,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"assay serve did not start: {process.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_bootstrap_key_from_the_environment_works(tmp_path: Path) -> None:
    key = mint_key()
    with serving(tmp_path, ASSAY_BOOTSTRAP_API_KEY=key) as (base, _):
        ok = httpx.get(f"{base}/v1/analyses", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        assert ok.json() == {"items": [], "next_cursor": None}
        denied = httpx.get(f"{base}/v1/analyses", headers={"Authorization": f"Bearer {mint_key()}"})
        assert denied.status_code == 401
        assert denied.headers["content-type"] == "application/problem+json"


def test_the_first_start_prints_a_key_once(tmp_path: Path) -> None:
    with serving(tmp_path) as (base, process):
        time.sleep(0.2)
    output = process.stdout.read() if process.stdout else ""
    key = output.strip().splitlines()[-1]
    assert key.startswith("assay_")
    with serving(tmp_path) as (base, again):
        response = httpx.get(f"{base}/v1/analyses", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200
    assert "assay_" not in (again.stdout.read() if again.stdout else "")


def test_settings_can_come_from_a_config_file(tmp_path: Path) -> None:
    key = mint_key()
    config = tmp_path / "assay.env"
    config.write_text(f"# the server's settings\nASSAY_BOOTSTRAP_API_KEY={key}\n")
    with serving(tmp_path, "--config", str(config)) as (base, _):
        ok = httpx.get(f"{base}/v1/analyses", headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
    config.write_text("ASSAY_BOOTSTRAP_API_KEYS=oops\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment["ASSAY_HOME"] = str(tmp_path)
    for args in (["--config", str(config)], ["--config", str(tmp_path / "missing.env")]):
        done = subprocess.run(
            [ASSAY, "serve", "--port", str(_free_port()), *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
    assert "no configuration file" in done.stderr


def test_a_malformed_bootstrap_key_is_a_clear_error(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment.update({"ASSAY_HOME": str(tmp_path), "ASSAY_BOOTSTRAP_API_KEY": "hunter2"})
    done = subprocess.run(
        [ASSAY, "serve", "--port", str(_free_port())],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "ASSAY_BOOTSTRAP_API_KEY is not an Assay key: it does not start with" in done.stderr
    assert "Traceback" not in done.stderr


def _example_archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(EXAMPLE, arcname="shop")
    return buffer.getvalue()


def _follow(
    base: str,
    analysis_id: str,
    headers: dict[str, str],
    *,
    after: int = 0,
    until: Callable[[str, int], bool] | None = None,
) -> list[tuple[int, str]]:
    """(id, type) of each SSE event, to the end or until `until(type, id)` says stop."""
    seen: list[tuple[int, str]] = []
    with httpx.stream(
        "GET",
        f"{base}/v1/analyses/{analysis_id}/events",
        headers={**headers, "Last-Event-ID": str(after)},
        timeout=httpx.Timeout(600, connect=5),
    ) as stream:
        event_id = after
        for line in stream.iter_lines():
            if line.startswith("id: "):
                event_id = int(line.removeprefix("id: "))
            elif line.startswith("event: "):
                kind = line.removeprefix("event: ")
                seen.append((event_id, kind))
                if kind == "end" or (until is not None and until(kind, event_id)):
                    break
    return seen


@REGISTRY
def test_upload_the_example_and_fetch_a_verified_report(tmp_path: Path) -> None:
    from assay.evidence import verify_dir

    key = mint_key()
    headers = {"Authorization": f"Bearer {key}"}
    with serving(tmp_path, ASSAY_BOOTSTRAP_API_KEY=key) as (base, _):
        submitted = httpx.post(
            f"{base}/v1/analyses/archive?engine=offline&budget_s=60",
            content=_example_archive(),
            headers={**headers, "Content-Type": "application/gzip"},
        )
        assert submitted.status_code == 202, submitted.text
        analysis_id = submitted.json()["id"]
        # Follow the live stream until the server says it is over.
        kinds = [kind for _, kind in _follow(base, analysis_id, headers)]
        assert kinds[0] == "intake"
        assert {"detect", "install", "baseline", "plan", "select", "report"} <= set(kinds)
        assert kinds[-1] == "end"
        status = httpx.get(f"{base}/v1/analyses/{analysis_id}", headers=headers).json()
        assert status["status"] == "succeeded", status
        report = httpx.get(f"{base}/v1/analyses/{analysis_id}/report", headers=headers).json()
        verdict = httpx.post(f"{base}/v1/analyses/{analysis_id}/verify", headers=headers).json()
        bundle = httpx.get(f"{base}/v1/analyses/{analysis_id}/bundle", headers=headers).content
        public_key = httpx.get(f"{base}/v1/signing-key", headers=headers).json()["public_key_pem"]
    assert report["funnel"]["kept"] >= 1
    assert report["coverage"]["after"]["line_pct"] > report["coverage"]["before"]["line_pct"]
    assert verdict["ok"] and verdict["trusted_key"], verdict
    out = tmp_path / "downloaded"
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        tar.extractall(out, filter="data")
    assert json.loads((out / "report.json").read_text())["analysis_id"] == analysis_id
    assert verify_dir(out, public_key).ok


@REGISTRY
def test_a_server_killed_mid_analysis_resumes_it_on_restart(tmp_path: Path) -> None:
    """kill -9 while the model is answering; the next start resumes from the last completed
    step and the analysis finishes with evidence that verifies."""
    from assay.client import AssayClient
    from tests.integration.test_pipeline import CART_REPAIRED, PRICING_TESTS
    from tests.support.fake_llm import ScriptedLLM

    key = mint_key()
    headers = {"Authorization": f"Bearer {key}"}
    llm = ScriptedLLM(
        [("Module `shop/pricing.py`", PRICING_TESTS), ("Module `shop/cart.py`", CART_REPAIRED)]
    )
    llm.delay_s = 30.0
    with llm.serve() as model_base:
        env = {
            "ASSAY_BOOTSTRAP_API_KEY": key,
            "ASSAY_MODEL": "openai/gpt-4o-mini",
            "ASSAY_OPENAI_API_BASE": model_base,
            "ASSAY_OPENAI_API_KEY": "sk-scripted",
            "ASSAY_REPAIR_TURNS": "0",
            "ASSAY_RERUNS": "2",
        }
        with serving(tmp_path, **env) as (base, process):
            made = httpx.post(
                f"{base}/v1/analyses/archive?engine=llm",
                content=_example_archive(),
                headers={**headers, "Content-Type": "application/gzip"},
            )
            assert made.status_code == 202, made.text
            analysis_id = made.json()["id"]
            before = _follow(base, analysis_id, headers, until=lambda kind, _: kind == "plan")
            deadline = time.monotonic() + 60
            while not llm.requests and time.monotonic() < deadline:
                time.sleep(0.1)  # the Map has started: a model call is in flight
            assert llm.requests, "the analysis never asked the model"
            process.kill()
            process.wait(timeout=10)
        llm.delay_s = 0.0
        with serving(tmp_path, **env) as (base, _), AssayClient(base, key) as sdk:
            after = _follow(base, analysis_id, headers, after=before[-1][0])
            final = sdk.get(analysis_id)
            verdict = sdk.verify(analysis_id)
            out = sdk.download(analysis_id, tmp_path / "out")
            public_key = sdk.signing_key().public_key_pem
    assert final.status == "succeeded", final
    kinds = [kind for _, kind in before + after]
    assert kinds.count("intake") == kinds.count("baseline") == kinds.count("plan") == 1
    assert "resume" in kinds and kinds[-1] == "end"
    ids = [event_id for event_id, kind in before + after if kind != "end"]
    assert ids == list(range(1, len(ids) + 1))  # nothing lost, nothing repeated
    assert verdict.ok, verdict
    (out / "key.pem").write_text(public_key)
    from tests.e2e.test_cli import run

    checked = run(tmp_path, "verify", str(out), "--public-key", str(out / "key.pem"))
    assert checked.returncode == 0, checked.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["funnel"]["kept"] == 2, (
        kinds,
        [r["messages"][-1]["content"][:80] for r in llm.requests],
    )


def test_the_sdk_follows_an_analysis_to_its_end(tmp_path: Path) -> None:
    from assay.client import AssayClient

    key = mint_key()
    with serving(tmp_path, ASSAY_BOOTSTRAP_API_KEY=key) as (base, _), AssayClient(base, key) as sdk:
        made = sdk.submit("https://assay-test.invalid/repo.git", engine="offline")
        kinds = [event.type for event in sdk.events(made.id)]
        final = sdk.get(made.id)
        assert made.id in {a.id for a in sdk.list()}
    assert final.status == "failed"
    assert final.reason is not None
    assert "resolve" in final.reason
    assert kinds[-1] == "report"  # the failed report is written and sealed


def test_analyze_can_submit_to_a_server(tmp_path: Path) -> None:
    import json

    from tests.e2e.test_cli import run

    key = mint_key()
    project = tmp_path / "my-project"
    project.mkdir()
    (project / "README").write_text("nothing to analyze\n")
    with serving(tmp_path / "server", ASSAY_BOOTSTRAP_API_KEY=key) as (base, server):
        out = tmp_path / "out"
        result = run(
            tmp_path / "client",
            "analyze",
            "https://bob:s3cr3t-pw@assay-test.invalid/repo.git",
            "--engine",
            "offline",
            "--server",
            base,
            "--out",
            str(out),
            ASSAY_API_KEY=key,
        )
        uploaded = run(tmp_path / "client", "analyze", str(project), "--server", base,
                       "--engine", "offline", ASSAY_API_KEY=key)  # fmt: skip
        keyless = run(tmp_path / "client", "analyze", ".", "--server", base)
        listed = httpx.get(f"{base}/v1/analyses", headers={"Authorization": f"Bearer {key}"})
    assert result.returncode == 1, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed"
    assert report["target"] == "https://assay-test.invalid/repo.git"
    assert "report" in result.stderr  # progress streamed from the server
    assert keyless.returncode == 2
    assert "ASSAY_API_KEY" in keyless.stderr
    # The URL's password was used for the clone only: no answer, record, log or file has it.
    logs = (server.stdout.read() if server.stdout else "") + (
        server.stderr.read() if server.stderr else ""
    )
    assert "s3cr3t" not in result.stdout + result.stderr + listed.text + logs
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or b"s3cr3t" not in path.read_bytes(), path
    # An uploaded directory is listed under its own name.
    assert uploaded.returncode == 1, uploaded.stderr
    names = {a["source_name"] for a in listed.json()["items"]}
    assert "my-project" in names


def test_a_litellm_proxy_config_works_unchanged(tmp_path: Path) -> None:
    """`model_list` from a LiteLLM proxy config: the official SDK calls its model_name,
    the first deployment failing hands over to the second."""
    import openai

    from tests.support.fake_upstream import FakeUpstream

    key = mint_key()
    first, second = FakeUpstream("first"), FakeUpstream("second")
    config = tmp_path / "litellm.yaml"
    config.write_text(f"""
model_list:
  - model_name: team-model
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {first.base_url}
      api_key: os.environ/FIRST_KEY
      rpm: 100
  - model_name: team-model
    litellm_params:
      model: gpt-4o
      api_base: {second.base_url}
      api_key: sk-second
litellm_settings:
  drop_params: true
settings:
  ASSAY_BOOTSTRAP_API_KEY: {key}
""")
    try:
        with serving(tmp_path, "--config", str(config), FIRST_KEY="sk-first-secret") as (base, _):
            sdk = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
            answer = sdk.chat.completions.create(
                model="team-model", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content == "first heard: hi"
            assert first.requests[-1]["model"] == "gpt-4o-mini"
            assert first.authorizations[-1] == "Bearer sk-first-secret"
            first.fail_next = [503] * 3
            answer = sdk.chat.completions.create(
                model="team-model", messages=[{"role": "user", "content": "again"}]
            )
            assert answer.choices[0].message.content == "second heard: again"
            assert second.requests[-1]["model"] == "gpt-4o"
            assert [m.id for m in sdk.models.list()] == ["team-model"]
        # Applying the same file again updates, never duplicates.
        with serving(tmp_path, "--config", str(config), FIRST_KEY="sk-first-secret") as (base, _):
            listed = httpx.get(
                f"{base}/v1/gateway/connections", headers={"Authorization": f"Bearer {key}"}
            ).json()["items"]
            assert len(listed) == 2
            assert "sk-first-secret" not in json.dumps(listed)
    finally:
        first.close()
        second.close()


@REGISTRY
def test_analyses_call_models_through_the_servers_own_gateway(tmp_path: Path) -> None:
    """An analysis whose model is a gateway resource of its tenant: every model call goes
    through the gateway, so it shows in the gateway's usage and audit."""
    from tests.integration.test_pipeline import CART_REPAIRED, PRICING_TESTS
    from tests.support.fake_llm import ScriptedLLM

    key = mint_key()
    auth = {"Authorization": f"Bearer {key}"}
    llm = ScriptedLLM(
        [("Module `shop/pricing.py`", PRICING_TESTS), ("Module `shop/cart.py`", CART_REPAIRED)]
    )
    with (
        llm.serve() as model_base,
        serving(
            tmp_path, ASSAY_BOOTSTRAP_API_KEY=key, ASSAY_REPAIR_TURNS="0", ASSAY_RERUNS="2"
        ) as (base, _),
    ):
        made = httpx.post(
            f"{base}/v1/gateway/connections",
            headers=auth,
            json={"name": "scripted", "base_url": model_base, "api_key": "sk-s"},
        )
        assert made.status_code == 201, made.text
        httpx.put(
            f"{base}/v1/gateway/resources/analysis-model",
            headers=auth,
            json={"targets": [{"connection_id": made.json()["id"], "model": "gpt-4o-mini"}]},
        ).raise_for_status()
        submitted = httpx.post(
            f"{base}/v1/analyses/archive?engine=llm&model=analysis-model",
            content=_example_archive(),
            headers={**auth, "Content-Type": "application/gzip"},
        )
        assert submitted.status_code == 202, submitted.text
        analysis_id = submitted.json()["id"]
        _follow(base, analysis_id, auth)
        final = httpx.get(f"{base}/v1/analyses/{analysis_id}", headers=auth).json()
        report = httpx.get(f"{base}/v1/analyses/{analysis_id}/report", headers=auth).json()
        deadline = time.monotonic() + 10
        while True:  # usage is written off the request path
            trail = httpx.get(
                f"{base}/v1/gateway/requests", headers=auth, params={"resource": "analysis-model"}
            ).json()["items"]
            if len(trail) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert final["status"] == "succeeded", final
    assert report["funnel"]["kept"] == 2
    assert len(trail) == len(llm.requests) == 2
    assert {e["model"] for e in trail} == {"scripted/gpt-4o-mini"}
    assert all(e["status"] == "ok" and e["prompt_tokens"] == 900 for e in trail)
    assert {r["model"] for r in llm.requests} == {"gpt-4o-mini"}
