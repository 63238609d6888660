"""Extract .tar.gz/.tgz/.tar/.zip archives into a snapshot, refusing anything hostile.

Every member is checked before anything is written: no absolute paths, no `..`, no links that
point outside the snapshot, no hard links, devices or fifos, and caps on file count, total size
and compression ratio (zip bombs). Extraction then writes only regular files and directories
(and symlinks that stay inside), with safe permissions.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from assay.errors import ValidationFailed
from assay.intake.policy import IntakePolicy

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


class Member(BaseModel):
    name: str
    kind: str  # file | dir | symlink
    size: int
    link: str | None = None
    executable: bool = False  # its mode lets it run (a fixture's script, a build wrapper)


SNIFF_BYTES = 262  # a tar header's "ustar" magic ends here; gzip's and zip's come first


def is_archive(path: Path) -> bool:
    """By its name, or else by its first bytes (an upload is stored as `source.archive`)."""
    if path.name.lower().endswith(ARCHIVE_SUFFIXES):
        return True
    try:
        return _format(path) is not None
    except OSError:
        return False


def sniff(head: bytes) -> str | None:
    """gzip, zip or tar by the magic bytes at the start of `head` (at least SNIFF_BYTES of it
    for a plain tar), or None."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a zip's first entry, or an empty zip
        return "zip"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def _format(path: Path) -> str | None:
    """A file's archive format by its bytes, not its name: an upload is stored under one name
    whatever its format."""
    with path.open("rb") as handle:
        return sniff(handle.read(SNIFF_BYTES))


def _is_zip(archive: Path) -> bool:
    return _format(archive) == "zip"


def _refuse(archive: Path, why: str) -> ValidationFailed:
    return ValidationFailed(f"refusing archive {archive.name}: {why}")


def _safe_name(archive: Path, name: str) -> str:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _refuse(archive, f"member {name!r} has an absolute path")
    clean = posixpath.normpath(name.replace("\\", "/"))
    if clean == ".." or clean.startswith("../") or "/../" in f"/{clean}/":
        raise _refuse(archive, f"member {name!r} climbs out with '..'")
    return clean


def _check_link(archive: Path, member: str, target: str) -> None:
    if target.startswith("/"):
        raise _refuse(archive, f"link {member!r} points at an absolute path")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member), target))
    if resolved == ".." or resolved.startswith("../"):
        raise _refuse(archive, f"link {member!r} points outside the archive")


def _scan_tar(archive: Path) -> list[Member]:
    members = []
    try:
        with tarfile.open(archive) as tar:
            for info in tar:
                name = _safe_name(archive, info.name)
                if info.isdir():
                    members.append(Member(name=name, kind="dir", size=0))
                elif info.isreg():
                    members.append(Member(name=name, kind="file", size=info.size,
                                          executable=bool(info.mode & 0o111)))  # fmt: skip
                elif info.issym():
                    _check_link(archive, name, info.linkname)
                    members.append(Member(name=name, kind="symlink", size=0, link=info.linkname))
                else:
                    raise _refuse(archive, f"member {info.name!r} is a hard link or special file")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise _refuse(archive, f"it is not a readable tar archive ({exc})") from None
    return members


def _scan_zip(archive: Path) -> list[Member]:
    members = []
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = _safe_name(archive, info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    target = zf.read(info).decode(errors="replace")
                    _check_link(archive, name, target)
                    members.append(Member(name=name, kind="symlink", size=0, link=target))
                elif info.is_dir():
                    members.append(Member(name=name, kind="dir", size=0))
                else:
                    members.append(Member(name=name, kind="file", size=info.file_size,
                                          executable=bool(mode & 0o111)))  # fmt: skip
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(archive, f"it is not a readable zip archive ({exc})") from None
    return members


def scan(archive: Path, policy: IntakePolicy) -> list[Member]:
    """Check every member against the policy without writing anything."""
    members = _scan_zip(archive) if _is_zip(archive) else _scan_tar(archive)
    if len(members) > policy.max_files:
        raise _refuse(archive, f"{len(members)} members exceed the cap of {policy.max_files}")
    total = sum(m.size for m in members)
    if total > policy.max_bytes:
        raise _refuse(archive, f"{total} bytes unpacked exceed the cap of {policy.max_bytes}")
    compressed = max(archive.stat().st_size, 1)
    if total / compressed > policy.max_ratio:
        raise _refuse(
            archive,
            f"it expands {total / compressed:.0f} times (cap {policy.max_ratio:.0f}): "
            "a decompression bomb?",
        )
    return members


def extract(archive: Path, destination: Path, policy: IntakePolicy) -> int:
    """Extract into `destination` (which must be empty); return the number of files."""
    members = scan(archive, policy)
    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    written = 0
    budget = policy.max_bytes
    if _is_zip(archive):
        with zipfile.ZipFile(archive) as zf:
            for member, zinfo in zip(members, zf.infolist(), strict=True):
                written += _write(root, member, lambda i=zinfo: zf.open(i), budget)
    else:
        with tarfile.open(archive) as tar:
            for member, tinfo in zip(members, list(tar), strict=True):
                written += _write(root, member, lambda i=tinfo: tar.extractfile(i), budget)
    _hoist_single_root(root)
    return written


def _hoist_single_root(root: Path) -> None:
    """`repo-1a2b3c/...` (GitHub tarballs, `git archive --prefix`, a zipped folder): the
    project is that one directory, so its contents become the snapshot's root. A lone Python
    package (it holds `__init__.py`) is left in place: its name is part of its imports."""
    entries = list(root.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return
    if (entries[0] / "__init__.py").exists():
        return
    staging = root / ".assay-hoist"
    entries[0].rename(staging)
    for child in staging.iterdir():
        child.rename(root / child.name)
    staging.rmdir()


def _write(root: Path, member: Member, opener: object, budget: int) -> int:
    target = root.joinpath(*PurePosixPath(member.name).parts)
    if not target.resolve().is_relative_to(root) and member.kind != "symlink":
        raise ValidationFailed(f"refusing archive member {member.name!r}: outside the snapshot")
    if member.kind == "dir":
        target.mkdir(parents=True, exist_ok=True)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    if member.kind == "symlink":
        assert member.link is not None
        os.symlink(member.link, target)
        return 0
    source = opener()  # type: ignore[operator]
    if source is None:
        return 0
    with source, target.open("wb") as out:
        # Copy at most the declared size + 1: a member that lies about its size is cut and caught.
        shutil.copyfileobj(_Capped(source, min(member.size, budget) + 1), out)
    if target.stat().st_size > member.size:
        raise ValidationFailed(f"refusing archive member {member.name!r}: larger than declared")
    target.chmod(0o755 if member.executable else 0o644)
    return 1


class _Capped:
    def __init__(self, source: object, limit: int) -> None:
        self._source, self._left = source, limit

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size < 0 else min(size, self._left)
        data: bytes = self._source.read(want)  # type: ignore[attr-defined]
        self._left -= len(data)
        return data
