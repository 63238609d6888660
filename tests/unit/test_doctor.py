from __future__ import annotations

import stat
from pathlib import Path

import pytest

from assay import doctor


def _tool(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_a_runtime_that_fails_to_run_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tool(tmp_path, "cargo", "echo 'error: no default toolchain' >&2; exit 1")
    _tool(tmp_path, "node", "echo v22.1.0")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(doctor.RUNTIMES, "cargo", ["cargo", "--version"])
    checks = {c.name: c for c in doctor.check_runtimes()}
    assert checks["runtime cargo"].status is doctor.Status.WARN
    assert "no default toolchain" in checks["runtime cargo"].detail
    assert checks["runtime node"].status is doctor.Status.OK
    assert checks["runtime node"].detail == "v22.1.0"
    assert checks["runtime go"].detail == "not installed"
