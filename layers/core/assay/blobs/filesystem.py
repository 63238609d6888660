"""Artifacts as files under a directory (local profile). Writes are atomic: temp file + rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from assay.blobs.port import BlobInfo, BlobStore, check_key, check_prefix
from assay.errors import NotFound, StoreUnavailable


class FileBlobStore(BlobStore):
    def __init__(self, root: Path) -> None:
        self._root = root
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot create the artifacts directory {root}: {exc.strerror}",
                fix="check that ASSAY_HOME is writable",
            ) from None

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*check_key(key).split("/"))

    def _write(self, key: str, fill: object) -> BlobInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(fill, bytes):
                    out.write(fill)
                else:
                    with Path(str(fill)).open("rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return BlobInfo(key=key, size=target.stat().st_size)

    def put(self, key: str, data: bytes) -> BlobInfo:
        return self._write(key, data)

    def put_file(self, key: str, path: Path) -> BlobInfo:
        return self._write(key, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"artifact {key} does not exist") from None

    def download(self, key: str, path: Path) -> BlobInfo:
        source = self._path(key)
        if not source.is_file():
            raise NotFound(f"artifact {key} does not exist")
        shutil.copyfile(source, path)
        return BlobInfo(key=key, size=path.stat().st_size)

    def head(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        return BlobInfo(key=key, size=path.stat().st_size) if path.is_file() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        keys = []
        for dirpath, dirnames, filenames in os.walk(self._root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self._root)
            for name in filenames:
                if name.startswith("."):
                    continue
                key = (rel / name).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def ping(self) -> None:
        if not os.access(self._root, os.W_OK):
            raise StoreUnavailable(
                f"the artifacts directory {self._root} is not writable",
                fix="fix its permissions or point ASSAY_HOME elsewhere",
            )
