"""The sandbox runner as a Fargate task runs it (`--remote`): the job and workspace come from
a presigned GET, results go back through a presigned PUT, here a real HTTP server on
loopback; the runner needs nothing else. The image's copy is the library's."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "layers" / "core" / "assay" / "sandbox" / "assay_runner.py"


class Bucket:
    """Presigned URLs' stand-in: GET /job answers the archive, PUT /results keeps the body."""

    def __init__(self, job: bytes) -> None:
        self.job = job
        self.results: bytes | None = None
        bucket = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(bucket.job)))
                self.end_headers()
                self.wfile.write(bucket.job)

            def do_PUT(self) -> None:
                bucket.results = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{path}?X-Amz-Signature=x"


def _archive(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


Runner = Callable[[dict[str, str]], tuple[int, "Bucket"]]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Runner]:
    servers: list[Bucket] = []

    def go(files: dict[str, str]) -> tuple[int, Bucket]:
        bucket = Bucket(_archive(files))
        servers.append(bucket)
        environment = {
            "PATH": os.environ.get("PATH", ""), "ASSAY_JOB_URL": bucket.url("job"),
            "ASSAY_RESULTS_URL": bucket.url("results"), "ASSAY_SCRATCH": str(tmp_path),
        }  # fmt: skip
        done = subprocess.run([sys.executable, str(RUNNER), "--remote"], env=environment,
                              capture_output=True, timeout=60, check=False)  # fmt: skip
        return done.returncode, bucket

    yield go
    for bucket in servers:
        bucket.server.shutdown()


def test_a_job_runs_from_a_presigned_archive_and_its_results_go_back(run: Runner) -> None:
    job = {"steps": [
        {"name": "write", "argv": [sys.executable, "-c",
                                   "open('coverage.json','w').write('{\"lines\": 3}')"],
         "timeout_s": 30},
        {"name": "check", "argv": [sys.executable, "-c",
                                   "import sys; sys.exit(open('src/a.py').read() != 'x = 1')"],
         "timeout_s": 30},
    ], "collect": ["coverage.json"], "results": "ignored"}  # fmt: skip
    code, bucket = run({"job.json": json.dumps(job), "src/a.py": "x = 1"})
    assert code == 0
    assert bucket.results is not None
    with tarfile.open(fileobj=io.BytesIO(bucket.results), mode="r:gz") as tar:
        names = sorted(tar.getnames())
        results = json.load(tar.extractfile("results.json"))  # type: ignore[arg-type]
        coverage = json.load(tar.extractfile("coverage.json"))  # type: ignore[arg-type]
    assert names == ["coverage.json", "results.json"]
    assert [s["name"] for s in results["steps"]] == ["write", "check"]
    assert all(s["exit_code"] == 0 for s in results["steps"])
    assert coverage == {"lines": 3}


def test_an_archive_reaching_outside_the_scratch_is_refused(run: Runner) -> None:
    job = {"steps": [], "results": "r"}
    code, bucket = run({"job.json": json.dumps(job), "../escaped.py": "boom"})
    assert code != 0
    assert bucket.results is None


def test_the_images_runner_is_the_librarys() -> None:
    image_copy = ROOT / "sandbox-tasks" / "runner" / "assay_runner.py"
    assert image_copy.read_bytes() == RUNNER.read_bytes()
