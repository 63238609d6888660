"""Reading what a sandboxed job wrote: its files are untrusted (no links followed, sizes
capped) and its JSON may be anything."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MAX_RESULT_BYTES = 50 * 1024 * 1024


def read_inside(root: Path, rel: str, limit: int = MAX_RESULT_BYTES) -> bytes | None:
    """Read a file the sandboxed code may have planted: no symlinks followed, size capped."""
    path = root / rel
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not os.path.isfile(f"/proc/self/fd/{handle.fileno()}") and not path.is_file():
            return None
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


def json_or_none(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None
