"""`assay serve` over real HTTP on a loopback port."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from assay.records.api_keys import mint_key
from tests.conftest import _free_port
from tests.e2e.test_cli import ASSAY


@contextmanager
def serving(home: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment.update({"ASSAY_HOME": str(home), **env})
    process = subprocess.Popen(
        [ASSAY, "serve", "--port", str(port)], env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
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


def test_a_malformed_bootstrap_key_is_a_clear_error(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment.update({"ASSAY_HOME": str(tmp_path), "ASSAY_BOOTSTRAP_API_KEY": "hunter2"})
    done = subprocess.run([ASSAY, "serve", "--port", str(_free_port())], env=environment,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "ASSAY_BOOTSTRAP_API_KEY is not an Assay key" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", "pypi.org", "files.pythonhosted.org"])
def test_upload_the_example_and_fetch_a_verified_report(tmp_path: Path) -> None:
    import io
    import json
    import tarfile

    from assay.evidence import verify_dir

    example = Path(__file__).resolve().parents[2] / "examples" / "shop"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(example, arcname="shop")
    key = mint_key()
    headers = {"Authorization": f"Bearer {key}"}
    with serving(tmp_path, ASSAY_BOOTSTRAP_API_KEY=key) as (base, _):
        submitted = httpx.post(
            f"{base}/v1/analyses/archive?engine=offline&budget_s=300",
            content=buffer.getvalue(),
            headers={**headers, "Content-Type": "application/gzip"},
        )
        assert submitted.status_code == 202, submitted.text
        analysis_id = submitted.json()["id"]
        # Follow the live stream until the server says it is over.
        kinds = []
        with httpx.stream("GET", f"{base}/v1/analyses/{analysis_id}/events", headers=headers,
                          timeout=httpx.Timeout(600, connect=5)) as stream:  # fmt: skip
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kinds.append(line.removeprefix("event: "))
                    if kinds[-1] == "end":
                        break
        assert kinds[0] == "intake"
        assert {"detect", "install", "baseline", "plan", "select", "report"} <= set(kinds)
        assert kinds[-1] == "end"
        status = httpx.get(f"{base}/v1/analyses/{analysis_id}", headers=headers).json()
        assert status["status"] == "succeeded", status
        report = httpx.get(f"{base}/v1/analyses/{analysis_id}/report", headers=headers).json()
    assert report["funnel"]["kept"] >= 1
    assert report["coverage"]["after"]["line_pct"] > report["coverage"]["before"]["line_pct"]
    out = tmp_path / "analyses" / analysis_id
    assert json.loads((out / "report.json").read_text())["analysis_id"] == analysis_id
    assert verify_dir(out).ok


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
    with serving(tmp_path / "server", ASSAY_BOOTSTRAP_API_KEY=key) as (base, _):
        out = tmp_path / "out"
        result = run(tmp_path / "client", "analyze", "https://assay-test.invalid/repo.git",
                     "--engine", "offline", "--server", base, "--out", str(out),
                     ASSAY_API_KEY=key)  # fmt: skip
        keyless = run(tmp_path / "client", "analyze", ".", "--server", base)
    assert result.returncode == 1, result.stderr
    assert json.loads((out / "report.json").read_text())["status"] == "failed"
    assert "report" in result.stderr  # progress streamed from the server
    assert keyless.returncode == 2
    assert "ASSAY_API_KEY" in keyless.stderr
