"""Registry-only network for dependency installs.

An install job runs without a network (its own empty network namespace). Its only way out is
this HTTPS proxy, reached through a Unix socket in the job's work directory (Unix sockets are
files, so they cross network namespaces); the sandbox runner bridges a loopback port inside the
sandbox to it, and pip uses that port as its proxy. The proxy allows CONNECT to the package
hosts (ASSAY_PACKAGE_HOSTS) on port 443 only; anything else gets 403. The hosts are the
operator's choice, so where they resolve is trusted: registry mirrors often live on private
addresses.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

DEFAULT_PACKAGE_HOSTS = ("pypi.org", "files.pythonhosted.org")
BRIDGE_PORT = 3128
_IDLE_S = 300.0


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        request = self.rfile.readline(4096).decode("latin-1").strip()
        while self.rfile.readline(4096) not in (b"\r\n", b"\n", b""):
            pass  # headers: nothing in them changes the decision
        parts = request.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            self._refuse(405, "only CONNECT (https) is allowed")
            return
        host, _, port = parts[1].rpartition(":")
        if not self.server.allows(host, port):
            self.server.refused.append(parts[1])
            self._refuse(403, f"{parts[1]} is not a package registry")
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=30)
        except OSError:
            self._refuse(502, f"cannot reach {parts[1]}")
            return
        self.server.allowed.append(parts[1])
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        _pipe(self.connection, upstream)

    def _refuse(self, code: int, reason: str) -> None:
        self.wfile.write(f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n\r\n".encode())


def _pipe(left: socket.socket, right: socket.socket) -> None:
    with right:
        sockets = [left, right]
        while True:
            readable, _, _ = select.select(sockets, [], [], _IDLE_S)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (right if source is left else left).sendall(data)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, hosts: tuple[str, ...], any_port: bool) -> None:
        self.hosts = tuple(h.lower().strip(".") for h in hosts)
        self.any_port = any_port
        self.allowed: list[str] = []
        self.refused: list[str] = []
        super().__init__(str(path), _Handler)

    def allows(self, host: str, port: str) -> bool:
        name = host.lower().strip("[]").strip(".")
        if port != "443" and not (self.any_port and port.isdigit()):
            return False
        return any(name == h or name.endswith(f".{h}") for h in self.hosts)


class EgressProxy:
    """Serve the allowlist proxy on `socket_path` while the `running()` block lasts."""

    def __init__(
        self, socket_path: Path, hosts: tuple[str, ...], *, any_port: bool = False
    ) -> None:
        self.socket_path = socket_path
        self.hosts = hosts
        self.any_port = any_port  # tests only: upstreams on ephemeral loopback ports
        self.allowed: list[str] = []
        self.refused: list[str] = []

    @contextlib.contextmanager
    def running(self) -> Iterator[EgressProxy]:
        self.socket_path.unlink(missing_ok=True)
        with _bindable(self.socket_path) as address:
            server = _Server(address, self.hosts, self.any_port)
        self.socket_path.chmod(0o666)  # the job may run under a mapped user
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            self.allowed, self.refused = server.allowed, server.refused
            self.socket_path.unlink(missing_ok=True)


# A Unix socket's address holds at most 107 bytes; a job directory under a long ASSAY_HOME
# (or a test's temporary folder) is longer.
_SUN_PATH_MAX = 100


@contextlib.contextmanager
def _bindable(path: Path) -> Iterator[Path]:
    """An address for binding a socket at `path`: itself, or when too long the same place
    through a short link to its folder (the socket is made in the folder itself)."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield path
        return
    alias = Path(tempfile.mkdtemp(prefix="assay-egress-"))
    try:
        (alias / "d").symlink_to(path.parent, target_is_directory=True)
        yield alias / "d" / path.name
    finally:
        shutil.rmtree(alias, ignore_errors=True)


def proxy_env(port: int = BRIDGE_PORT) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    return {"HTTPS_PROXY": url, "https_proxy": url, "HTTP_PROXY": url, "http_proxy": url,
            "NO_PROXY": "", "no_proxy": ""}  # fmt: skip
