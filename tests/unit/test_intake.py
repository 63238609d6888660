"""Intake refuses hostile URLs and archives before writing anything outside the snapshot."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from assay.errors import ValidationFailed
from assay.intake import IntakePolicy, take_snapshot
from assay.intake.urls import check_git_url

STRICT = IntakePolicy()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc", "only https"),
        ("ext::sh -c touch% /tmp/pwned", "remote helpers"),
        ("-uploadpack=touch /tmp/x", "option"),
        ("http://example.com/repo.git", "only https"),
        ("https://127.0.0.1/repo.git", "not a public address"),
        ("https://localhost/repo.git", "not a public address"),
        ("https://10.1.2.3/repo.git", "not a public address"),
        ("https://192.168.0.10/repo.git", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("https://[::1]/repo.git", "not a public address"),
        ("https://user:pw@127.0.0.1/repo.git", "not a public address"),
        ("https://-oProxyCommand=x/repo.git", "malformed"),
        ("https:///repo.git", "malformed"),
        ("git@github.com:org/repo.git", "only https"),
    ],
)
def test_hostile_git_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(ValidationFailed, match=why):
        check_git_url(url, STRICT)


def test_a_public_address_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("140.82.121.4", 443))]
    )
    checked = check_git_url("https://github.com/org/repo.git", STRICT)
    assert checked.address == "140.82.121.4"
    assert checked.port == 443


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([_file("../evil.py", b"x")], "climbs out"),
        ([_file("a/../../evil.py", b"x")], "climbs out"),
        ([_file("/etc/cron.d/evil", b"x")], "absolute path"),
        ([_link("pkg/link", "../../etc/passwd")], "outside the archive"),
        ([_link("pkg/link", "/etc/passwd")], "absolute path"),
        ([_file("a.py", b"x"), _link("hard", "a.py", tarfile.LNKTYPE)], "hard link"),
        ([_link("dev", "", tarfile.CHRTYPE)], "special file"),
    ],
)
def test_hostile_tar_members_are_refused_before_anything_is_written(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], why: str
) -> None:
    archive = _tar(tmp_path / "evil.tar.gz", [_file("ok.py", b"print(1)"), *members])
    destination = tmp_path / "snap"
    with pytest.raises(ValidationFailed, match=why):
        take_snapshot(str(archive), destination)
    assert not (tmp_path / "evil.py").exists()
    assert not destination.exists() or not any(destination.iterdir())


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "bomb.tar.gz", [_file("zeros", b"\0" * 5_000_000)])
    with pytest.raises(ValidationFailed, match="decompression bomb"):
        take_snapshot(str(archive), tmp_path / "snap")


def test_too_many_files_is_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "many.tar.gz", [_file(f"f{i}.py", b"x") for i in range(20)])
    with pytest.raises(ValidationFailed, match="exceed the cap"):
        take_snapshot(str(archive), tmp_path / "snap", policy=IntakePolicy(max_files=10))


def test_a_good_tar_is_extracted_with_internal_symlinks(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "good.tgz",
        [_file("pkg/__init__.py", b""), _file("pkg/mod.py", b"def f():\n    return 1\n"),
         _link("pkg/alias.py", "mod.py")],
    )  # fmt: skip
    snapshot = take_snapshot(str(archive), tmp_path / "snap")
    assert snapshot.kind == "archive"
    assert (tmp_path / "snap" / "pkg" / "mod.py").read_text().startswith("def f")
    assert os.readlink(tmp_path / "snap" / "pkg" / "alias.py") == "mod.py"


def test_a_lone_top_directory_becomes_the_root_unless_it_is_a_package(tmp_path: Path) -> None:
    github = _tar(tmp_path / "repo.tar.gz", [
        _file("repo-1a2b3c/pyproject.toml", b"[project]\n"),
        _file("repo-1a2b3c/repo-1a2b3c/mod.py", b"x = 1\n")])  # fmt: skip
    take_snapshot(str(github), tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["pyproject.toml", "repo-1a2b3c"]
    assert (tmp_path / "a" / "repo-1a2b3c" / "mod.py").is_file()
    package = _tar(tmp_path / "pkg.tar.gz", [_file("pkg/__init__.py", b""),
                                             _file("pkg/mod.py", b"x = 1\n")])  # fmt: skip
    take_snapshot(str(package), tmp_path / "b")
    assert (tmp_path / "b" / "pkg" / "mod.py").is_file()


def test_zip_traversal_and_bombs_are_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../evil.py", "x")
    with pytest.raises(ValidationFailed, match="climbs out"):
        take_snapshot(str(evil), tmp_path / "a")
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * 5_000_000)
    with pytest.raises(ValidationFailed, match="decompression bomb"):
        take_snapshot(str(bomb), tmp_path / "b")
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("src/app.py", "x = 1\n")
    assert take_snapshot(str(good), tmp_path / "c").files == 1


def test_a_corrupt_archive_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValidationFailed, match="not a readable tar archive"):
        take_snapshot(str(broken), tmp_path / "snap")


def test_local_directories_are_copied_without_following_escaping_links(tmp_path: Path) -> None:
    source = tmp_path / "repo"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "mod.py").write_text("x = 1\n")
    (source / ".git").mkdir()
    (source / ".git" / "config").write_text("[core]\n")
    (source / "node_modules").mkdir()
    (tmp_path / "secret.txt").write_text("host secret")
    os.symlink(tmp_path / "secret.txt", source / "pkg" / "secret.txt")
    os.symlink("mod.py", source / "pkg" / "alias.py")
    snapshot = take_snapshot(str(source), tmp_path / "snap")
    assert snapshot.kind == "directory"
    snap = tmp_path / "snap"
    assert (snap / "pkg" / "mod.py").exists()
    assert not (snap / "pkg" / "secret.txt").exists()
    assert os.readlink(snap / "pkg" / "alias.py") == "mod.py"
    assert not (snap / ".git").exists()
    assert not (snap / "node_modules").exists()


def test_unknown_targets_say_what_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValidationFailed, match=r"not a \.tar\.gz"):
        take_snapshot(str(tmp_path / "notes.txt"), tmp_path / "snap")
    with pytest.raises(ValidationFailed, match="does not exist"):
        take_snapshot("no/such/thing", tmp_path / "snap2")


def test_an_uploaded_zip_is_read_as_a_zip_whatever_it_is_stored_as(tmp_path: Path) -> None:
    """Uploads are stored as `source.archive`: intake must read the format from the bytes."""
    import zipfile

    from assay.analysis.uploads import ARTIFACT_PREFIX, local_target, source_key
    from assay.blobs.filesystem import FileBlobStore
    from assay.records import Analysis

    packed = tmp_path / "project.zip"
    with zipfile.ZipFile(packed, "w") as zf:
        zf.writestr("project/app.py", "def add(a, b):\n    return a + b\n")
    blobs = FileBlobStore(tmp_path / "blobs")
    key = source_key("t1", "a1")
    blobs.put(key, packed.read_bytes())
    analysis = Analysis(id="a1", tenant_id="t1", source=ARTIFACT_PREFIX + key)
    target = local_target(blobs, analysis, tmp_path / "scratch")
    assert target.endswith("source.archive")
    snapshot = take_snapshot(target, tmp_path / "snap")
    assert snapshot.kind == "archive"
    assert (tmp_path / "snap" / "app.py").read_text().startswith("def add")


def test_the_git_token_goes_only_to_the_hosts_it_is_for(tmp_path: Path) -> None:
    from assay.cli.analyze import token_for
    from assay.config import load_settings

    settings = load_settings(home=tmp_path, git_token="ghp_secret", git_token_hosts="github.com")
    assert token_for("https://github.com/o/r.git", settings) is not None
    assert token_for("https://GitHub.com/o/r.git", settings) is not None
    assert token_for("https://gitlab.example/o/r.git", settings) is None
    assert token_for("./a/directory", settings) is None


def test_scripts_stay_executable_and_nothing_else_crosses(tmp_path: Path) -> None:
    """A test fixture's script or a build wrapper (gradlew, mvnw) must still run in the
    snapshot; setuid and group or other write never cross."""
    script, plain = _file("tests/fixtures/pm", b"#!/bin/sh\n"), _file("pm.js", b"x\n")
    script[0].mode, plain[0].mode = 0o4777, 0o666
    snapshot = take_snapshot(str(_tar(tmp_path / "a.tgz", [script, plain])), tmp_path / "snap")
    assert snapshot.kind == "archive"
    assert (tmp_path / "snap" / "tests/fixtures/pm").stat().st_mode & 0o7777 == 0o755
    assert (tmp_path / "snap" / "pm.js").stat().st_mode & 0o7777 == 0o644
    source = tmp_path / "repo"
    (source / "tools").mkdir(parents=True)
    (source / "tools" / "run").write_text("#!/bin/sh\n")
    (source / "tools" / "run").chmod(0o4775)
    (source / "tools" / "data.txt").write_text("x")
    take_snapshot(str(source), tmp_path / "snap2")
    assert (tmp_path / "snap2" / "tools" / "run").stat().st_mode & 0o7777 == 0o755
    assert not (tmp_path / "snap2" / "tools" / "data.txt").stat().st_mode & 0o111
