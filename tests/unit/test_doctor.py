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


def test_languages_say_which_are_analyzable_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.config import load_settings

    monkeypatch.setenv("PATH", str(tmp_path))  # no node on PATH
    checks = {c.name: c for c in doctor.check_languages(load_settings(home=tmp_path))}
    assert checks["language python"].status is doctor.Status.OK
    assert checks["language javascript"].status is doctor.Status.WARN
    assert "Node.js is not installed" in checks["language javascript"].detail
    assert {"language go", "language rust", "language java"} <= set(checks)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "node", "echo v16.20.0")
    cli = tmp_path / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    cli.parent.mkdir(parents=True)
    cli.write_text("// npm\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    old = {c.name: c for c in doctor.check_languages(load_settings(home=tmp_path))}
    assert old["language javascript"].status is doctor.Status.WARN
    assert "Node.js 16.20.0 is too old" in old["language javascript"].detail
