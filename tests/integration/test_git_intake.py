"""A real clone over HTTP from a git server on loopback (allowed only by an explicit policy)."""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from pydantic import SecretStr

from assay.errors import ValidationFailed
from assay.intake import IntakePolicy, take_snapshot

LOOPBACK_POLICY = IntakePolicy(allow_private_hosts=True, allow_http=True)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _smart_http(root: Path) -> Callable[..., Iterable[bytes]]:
    """git's smart HTTP protocol through `git http-backend` (a CGI program) as a WSGI app."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cgi = {
            "GIT_PROJECT_ROOT": str(root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": environ["PATH_INFO"],
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
            "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""),
            "REMOTE_ADDR": "127.0.0.1",
            "PATH": "/usr/bin:/bin",
        }
        out = subprocess.run(
            ["git", "http-backend"], input=body, env=cgi, capture_output=True, check=False
        ).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = "200 OK", []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = value
            elif name:
                headers.append((name, value))
        start_response(status, headers)
        return [payload]

    return app


def _basic_auth(app: Callable[..., Iterable[bytes]], user: str, password: str) -> Any:
    """A private repository: 401 with a challenge unless the right Basic credentials come."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"authentication required"]
        return app(environ, start_response)

    return guarded


@pytest.fixture(params=["public"])
def served_repo(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    work = tmp_path / "work"
    work.mkdir()
    _git("init", "-q", "-b", "main", cwd=work)
    (work / "app.py").write_text("def add(a, b):\n    return a + b\n")
    (work / ".gitmodules").write_text(
        '[submodule "evil"]\n\tpath = evil\n\turl = https://127.0.0.1/evil.git\n'
    )
    _git("add", ".", cwd=work)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", cwd=work)
    bare = tmp_path / "srv" / "repo.git"
    _git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)

    app = _smart_http(tmp_path / "srv")
    if request.param == "private":
        app = _basic_auth(app, "alice", "s3cr3t-pw")
    server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repo.git"
    finally:
        server.shutdown()
        server.server_close()


def test_clone_over_http_gives_the_files_without_git_data_or_submodules(
    served_repo: str, tmp_path: Path
) -> None:
    snapshot = take_snapshot(served_repo, tmp_path / "snap", policy=LOOPBACK_POLICY)
    assert snapshot.kind == "git"
    assert (tmp_path / "snap" / "app.py").read_text().startswith("def add")
    assert not (tmp_path / "snap" / ".git").exists()
    assert not (tmp_path / "snap" / "evil").exists()


def test_the_default_policy_refuses_the_same_loopback_url(served_repo: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="only https"):
        take_snapshot(served_repo, tmp_path / "snap")


def test_a_clone_over_the_size_cap_is_stopped_and_removed(served_repo: str, tmp_path: Path) -> None:
    tiny = LOOPBACK_POLICY.model_copy(update={"max_bytes": 10})
    with pytest.raises(ValidationFailed):
        take_snapshot(served_repo, tmp_path / "snap", policy=tiny)
    assert not (tmp_path / "snap").exists()


def test_a_missing_repository_is_a_clear_error(served_repo: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"git clone of .* failed"):
        take_snapshot(
            served_repo.replace("repo.git", "nope.git"), tmp_path / "s", policy=LOOPBACK_POLICY
        )


@pytest.mark.parametrize("served_repo", ["private"], indirect=True)
def test_a_private_repository_is_cloned_with_credentials_that_are_never_shown(
    served_repo: str, tmp_path: Path
) -> None:
    with_userinfo = served_repo.replace("http://", "http://alice:s3cr3t-pw@")
    snapshot = take_snapshot(with_userinfo, tmp_path / "a", policy=LOOPBACK_POLICY)
    assert (tmp_path / "a" / "app.py").is_file()
    assert snapshot.source == served_repo  # without the user information
    from_setting = LOOPBACK_POLICY.model_copy(
        update={"git_credential": SecretStr("alice:s3cr3t-pw")}
    )
    take_snapshot(served_repo, tmp_path / "b", policy=from_setting)
    assert "s3cr3t" not in repr(from_setting) and "s3cr3t" not in from_setting.model_dump_json()
    wrong = served_repo.replace("http://", "http://alice:wrong-s3cr3t@")
    with pytest.raises(ValidationFailed) as refused:
        take_snapshot(wrong, tmp_path / "c", policy=LOOPBACK_POLICY)
    assert "s3cr3t" not in str(refused.value) and "failed" in str(refused.value)
    with pytest.raises(ValidationFailed):  # no credentials: git may not prompt
        take_snapshot(served_repo, tmp_path / "d", policy=LOOPBACK_POLICY)


def test_user_information_is_redacted_wherever_a_url_appears() -> None:
    from assay.intake.credentials import redact, split_credentials

    text = "fatal: unable to access 'https://bob:hunter2@git.example/x.git/': 403"
    assert redact(text) == "fatal: unable to access 'https://***@git.example/x.git/': 403"
    clean, secret = split_credentials("https://tok%40en@git.example:8443/o/r.git")
    assert clean == "https://git.example:8443/o/r.git"
    assert secret is not None and secret.get_secret_value() == "tok@en"
    assert split_credentials("./some/dir") == ("./some/dir", None)
    # Unencoded #, ? and / in a password would read as fragment, query or path to urlsplit.
    for password in ("pa#ss", "pa?ss", "pa/ss", "p@ss"):
        clean, secret = split_credentials(f"https://alice:{password}@git.example/r.git")
        assert clean == "https://git.example/r.git"
        assert secret is not None and secret.get_secret_value() == f"alice:{password}"
    assert split_credentials("https://git.example/org/repo@v1.git")[1] is None
