"""Hostile code in the process sandbox: each case is itself bounded, must end within its limits
with a clear ending, and must leave nothing behind."""

from __future__ import annotations

import os
import socket
import sys
import threading
import uuid
from pathlib import Path

import pytest

from assay.sandbox import Job, Limits, Outcome
from assay.sandbox.port import Ending
from assay.sandbox.process import ProcessSandbox

PYTHON_PATHS = sorted({Path(sys.prefix), Path(sys.base_prefix)})


@pytest.fixture(scope="module")
def sandbox() -> ProcessSandbox:
    box = ProcessSandbox()
    if not box.isolated:
        pytest.fail("this machine cannot create namespaces; the sandbox cannot be tested")
    return box


def run_python(
    box: ProcessSandbox,
    workdir: Path,
    code: str,
    env: dict[str, str] | None = None,
    **limits: object,
) -> Outcome:
    job = Job(
        argv=[sys.executable, "-c", code],
        workdir=workdir,
        readonly=PYTHON_PATHS,
        env=env or {},
        limits=Limits(**limits),
    )
    return box.run(job)


def _alive_with(marker: str) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    alive.append(int(entry.name))
            except OSError:
                continue
    return alive


def test_a_well_behaved_job_runs_and_writes_its_workdir(
    sandbox: ProcessSandbox, tmp_path: Path
) -> None:
    outcome = run_python(sandbox, tmp_path, "open('result.txt', 'w').write('42'); print('hello')")
    assert outcome.ok, outcome
    assert outcome.stdout.strip() == "hello"
    assert (tmp_path / "result.txt").read_text() == "42"


def test_an_endless_loop_hits_the_cpu_limit(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    outcome = run_python(sandbox, tmp_path, "while True: pass", cpu_s=1, wall_s=20)
    assert outcome.ending in (Ending.CPU_LIMIT, Ending.KILLED)
    assert outcome.duration_s < 10


def test_a_sleeper_hits_the_wall_clock_limit(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    outcome = run_python(sandbox, tmp_path, "import time; time.sleep(600)", wall_s=1.5)
    assert outcome.ending is Ending.TIMEOUT
    assert "wall-clock" in outcome.reason
    assert outcome.duration_s < 10


def test_a_memory_hog_is_refused_memory(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    outcome = run_python(sandbox, tmp_path, "x = bytearray(4 * 1024**3)", memory_mb=256)
    assert not outcome.ok
    assert "MemoryError" in outcome.stderr


def test_huge_output_is_capped_and_stopped(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    outcome = run_python(
        sandbox, tmp_path, "while True: print('x' * 1000)", output_bytes=100_000, wall_s=20
    )
    assert outcome.ending is Ending.OUTPUT_LIMIT
    assert outcome.truncated
    assert len(outcome.stdout) + len(outcome.stderr) <= 100_000
    assert outcome.duration_s < 10


def test_a_fork_bomb_is_contained_and_cleaned_up(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    marker = f"forkbomb-{uuid.uuid4().hex}"
    code = (
        f"# {marker}\nimport os, time\n"
        "for _ in range(100000):\n"
        "    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n"
    )
    outcome = run_python(sandbox, tmp_path, code, processes=32, wall_s=3, cpu_s=5)
    assert outcome.ending in (Ending.TIMEOUT, Ending.KILLED, Ending.CPU_LIMIT, Ending.EXITED)
    assert outcome.duration_s < 15
    assert _alive_with(marker) == []


def test_a_daemon_left_behind_is_killed(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    marker = f"daemon-{uuid.uuid4().hex}"
    code = (
        f"# {marker}\nimport os, time\n"
        "if os.fork() == 0:\n    os.setsid()\n"
        "    if os.fork() == 0:\n        time.sleep(60)\n    os._exit(0)\n"
        "print('parent done')\n"
    )
    outcome = run_python(sandbox, tmp_path, code, wall_s=10)
    assert outcome.ok
    assert _alive_with(marker) == []


def test_writes_outside_the_workdir_do_not_reach_the_host(
    sandbox: ProcessSandbox, tmp_path: Path
) -> None:
    workdir = tmp_path / "work"
    outside = tmp_path / "outside.txt"
    # /etc lies on the read-only root wherever the checkout is (a clone under /tmp is covered
    # by the sandbox's private /tmp instead).
    project_file = Path("/etc") / f"assay-planted-{uuid.uuid4().hex}.txt"
    code = (
        "import sys\n"
        f"for path in [{str(outside)!r}, {str(project_file)!r}]:\n"
        "    try:\n        open(path, 'w').write('pwned')\n"
        "    except OSError as exc:\n        print('refused', path, exc.strerror)\n"
    )
    outcome = run_python(sandbox, workdir, code)
    assert outcome.ok, outcome
    assert not outside.exists()
    assert not project_file.exists()
    assert "Read-only file system" in outcome.stdout


def test_host_secrets_are_not_visible(tmp_path: Path) -> None:
    secrets = Path(__file__).parent / f".planted-secrets-{uuid.uuid4().hex}"
    secrets.mkdir()
    try:
        (secrets / "credentials").write_text("aws_secret_access_key=hunter2")
        box = ProcessSandbox(hidden=(secrets,))
        os.environ["ASSAY_TEST_PLANTED_SECRET"] = "hunter2"
        code = (
            "import os, pathlib\n"
            "print(sorted(k for k in os.environ if 'SECRET' in k or k.startswith('AWS')))\n"
            f"print(pathlib.Path({str(secrets / 'credentials')!r}).exists())\n"
            "print(sorted(p.name for p in pathlib.Path('/root').iterdir()))\n"
        )
        outcome = run_python(box, tmp_path / "work", code)
    finally:
        os.environ.pop("ASSAY_TEST_PLANTED_SECRET", None)
        (secrets / "credentials").unlink()
        secrets.rmdir()
    assert outcome.ok, outcome
    env_keys, exists, root_listing = outcome.stdout.splitlines()
    assert env_keys == "[]"
    assert exists == "False"
    # Only what was bound back (the interpreter, when it lives under /root) is visible there.
    visible = {p.relative_to("/root").parts[0] for p in PYTHON_PATHS if p.is_relative_to("/root")}
    assert root_listing == str(sorted(visible))
    assert "hunter2" not in outcome.stdout


class _Listener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_no_network_unless_allowed(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    listener = _Listener()
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {listener.port}), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as exc:\n    print('blocked', type(exc).__name__)\n"
    )
    try:
        isolated = run_python(sandbox, tmp_path / "a", code)
        allowed = run_python(sandbox, tmp_path / "b", code, network=True)
    finally:
        listener.close()
    assert isolated.stdout.startswith("blocked"), isolated
    assert allowed.stdout.startswith("connected"), allowed
    assert listener.accepted == 1  # only the job that was allowed the network got through


def test_unisolated_machines_are_refused_without_the_unsafe_flag(tmp_path: Path) -> None:
    from assay.sandbox import SandboxUnavailable

    box = ProcessSandbox()
    box.isolated = False
    with pytest.raises(SandboxUnavailable, match="cannot isolate"):
        run_python(box, tmp_path, "print(1)")
