"""A toolchain that is installed but fails is named with its error, never a silent stop."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.e2e.test_cli import run

ROOT = Path(__file__).resolve().parents[2]
RUSTUP_SAYS = "error: rustup could not choose a version of rustc to run"


def _broken_rustc(tmp_path: Path) -> dict[str, str]:
    """A PATH whose rustc is a rustup proxy with no default toolchain."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("rustc", "cargo"):
        (bin_dir / tool).write_text(f"#!/bin/sh\necho '{RUSTUP_SAYS}' >&2\nexit 1\n")
        (bin_dir / tool).chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def test_setup_names_a_failing_rustc_and_goes_on(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "ensure-system-deps")],
        env={**os.environ, **_broken_rustc(tmp_path)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rustc is installed but `rustc -vV` fails" in done.stderr
    assert RUSTUP_SAYS in done.stderr


def test_doctor_reports_the_failing_toolchain_with_its_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    done = run(home, "doctor", "--json", **_broken_rustc(tmp_path))
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    rust = checks["language rust"]
    assert rust["status"] != "ok"
    assert RUSTUP_SAYS in rust["detail"]
