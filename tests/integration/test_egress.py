"""Dependency installs reach the package registry and nothing else: inside a sandbox without a
network, the runner's bridge leads only to the allowlist proxy."""

from __future__ import annotations

import json
import socket
import sys
import threading
from importlib.resources import files
from pathlib import Path

from assay.sandbox import Job, Limits
from assay.sandbox.egress import BRIDGE_PORT, EgressProxy
from assay.sandbox.process import ProcessSandbox

PROBE = """
import socket, sys
def through_proxy(target):
    s = socket.create_connection(("127.0.0.1", {port}), timeout=5)
    s.sendall(f"CONNECT {{target}} HTTP/1.1\\r\\nHost: {{target}}\\r\\n\\r\\n".encode())
    head = s.recv(200).decode().split("\\r\\n")[0]
    if head.endswith("established"):
        s.sendall(b"ping")
        head += " / echo=" + s.recv(10).decode()
    return head
print(through_proxy("127.0.0.1:{upstream}"))
print(through_proxy("evil.example:443"))
try:
    socket.create_connection(("127.0.0.1", {upstream}), timeout=2)
    print("direct: connected")
except OSError as exc:
    print("direct: blocked")
"""


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(10)
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_only_allowlisted_hosts_are_reachable_from_an_install_job(tmp_path: Path) -> None:
    server, upstream = _echo_server()
    runner = tmp_path / "runner.py"
    runner.write_text((files("assay.sandbox") / "assay_runner.py").read_text())
    proxy = EgressProxy(tmp_path / "egress.sock", ("127.0.0.1",), any_port=True)
    job = {
        "steps": [{"name": "probe", "argv": [sys.executable, "-c",
                   PROBE.format(port=BRIDGE_PORT, upstream=upstream)]}],
        "results": str(tmp_path / "results.json"),
        "bridge": {"port": BRIDGE_PORT, "socket": str(proxy.socket_path)},
    }  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(job))
    try:
        with proxy.running():
            outcome = ProcessSandbox().run(
                Job(
                    argv=[sys.executable, str(runner), str(tmp_path / "job.json")],
                    workdir=tmp_path,
                    readonly=sorted({Path(sys.prefix), Path(sys.base_prefix)}),
                    limits=Limits(network=False, wall_s=60),
                )
            )
    finally:
        server.close()
    assert outcome.ok, outcome
    output = json.loads((tmp_path / "results.json").read_text())["steps"][0]["output"]
    allowed, refused, direct = output.strip().splitlines()
    assert allowed == "HTTP/1.1 200 Connection established / echo=ping"
    assert refused.startswith("HTTP/1.1 403")
    assert direct == "direct: blocked"
    assert proxy.refused == ["evil.example:443"]
    assert proxy.allowed == [f"127.0.0.1:{upstream}"]


def test_the_proxy_refuses_other_ports_and_plain_http(tmp_path: Path) -> None:
    proxy = EgressProxy(tmp_path / "p.sock", ("pypi.org",))
    with proxy.running():
        answers = []
        for request in (b"CONNECT pypi.org:22 HTTP/1.1\r\n\r\n",
                        b"GET http://pypi.org/simple/ HTTP/1.1\r\n\r\n",
                        b"CONNECT pypi.org.evil.example:443 HTTP/1.1\r\n\r\n"):  # fmt: skip
            client = socket.socket(socket.AF_UNIX)
            client.connect(str(proxy.socket_path))
            client.sendall(request)
            answers.append(client.recv(200).decode().split("\r\n")[0])
            client.close()
    assert answers[0].startswith("HTTP/1.1 403")
    assert answers[1].startswith("HTTP/1.1 405")
    assert answers[2].startswith("HTTP/1.1 403")


def test_the_proxy_serves_from_a_folder_too_deep_for_a_socket_address(tmp_path: Path) -> None:
    """A Unix socket address holds 107 bytes; a job folder under a long ASSAY_HOME is deeper."""
    import os

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    proxy = EgressProxy(deep / ".egress.sock", ("pypi.org",))
    with proxy.running():
        assert (deep / ".egress.sock").is_socket()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        here = os.getcwd()
        os.chdir(deep)  # as the runner does: by its name, from the job's folder
        try:
            client.connect(".egress.sock")
        finally:
            os.chdir(here)
        client.sendall(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
        assert b"403" in client.recv(200)
        client.close()
    assert not (deep / ".egress.sock").exists()
