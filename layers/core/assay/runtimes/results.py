"""Reading what a sandboxed job wrote: its files are untrusted (no links followed, sizes
capped) and its JSON or XML may be anything."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from defusedxml import ElementTree

MAX_RESULT_BYTES = 50 * 1024 * 1024


def read_inside(root: Path, rel: str, limit: int = MAX_RESULT_BYTES) -> bytes | None:
    """Read a file the sandboxed code may have planted: no symlinks followed, size capped, and
    never outside `root` (names in its reports are the sandbox's: `../`, absolute paths and
    linked folders on the way are refused)."""
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts:
        return None
    path = root / rel
    try:
        if not path.parent.resolve().is_relative_to(root.resolve()):
            return None
    except OSError:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not os.path.isfile(f"/proc/self/fd/{handle.fileno()}") and not path.is_file():
            return None
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


@cache
def _error_pattern(kinds: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"^(?:E\s+|\s*)(\w+(?:\.\w+)*(?:{'|'.join(kinds)})): (.+)$", re.M)


def error_lines(text: str, kinds: tuple[str, ...] = ("Error", "Exception", "Exit")) -> list[str]:
    """The lines of a tool's output that name an exception whose class ends in one of `kinds`,
    as `Kind: message`, in order (pytest's `E   ` marker in front is dropped)."""
    return [f"{m[1]}: {m[2].strip()}" for m in _error_pattern(kinds).finditer(text)]


def json_or_none(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


class JUnitCase(NamedTuple):
    classname: str
    name: str
    outcome: str  # passed | xfailed | failed | error | skipped
    thrown: str | None  # the failure's `type` attribute (an exception class), if any
    message: str | None
    detail: str | None


def junit_cases(data: bytes | None) -> list[JUnitCase]:
    """The test cases of a JUnit XML report (pytest's, the JUnit console launcher's)."""
    if not data:
        return []
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return []
    cases = []
    for case in root.iter("testcase"):
        outcome, thrown, message, detail = "passed", None, None, None
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                thrown, message = node.get("type") or None, node.get("message")
                if tag == "skipped" and thrown == "pytest.xfail":
                    # An expected failure that happened (xfail, strict or not) is a success
                    # for pytest; a strict xfail that passed arrives as a <failure> instead.
                    outcome, thrown = "xfailed", None
                detail = (node.text or "")[-3000:]
                break
        cases.append(JUnitCase(case.get("classname", ""), case.get("name", ""), outcome,
                               thrown, message, detail))  # fmt: skip
    return cases
