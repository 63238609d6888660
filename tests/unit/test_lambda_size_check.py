"""`scripts/check-lambda-size` fails the build when a function with its layers would exceed
Lambda's 250 MB unzipped limit, and passes it otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check-lambda-size"


def _folder(root: Path, name: str, mb: int, *, streamed: bool = False) -> Path:
    folder = root / name
    folder.mkdir()
    with (folder / "blob").open("wb") as blob:  # sparse: apparent size without the disk
        blob.truncate(mb * 1_000_000)
    if streamed:
        (folder / "run.sh").write_text("#!/bin/sh\n")
    return folder


def _check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)],
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_functions_within_the_limit_pass(tmp_path: Path) -> None:
    layer = _folder(tmp_path, "layer", 200)
    done = _check(layer, _folder(tmp_path, "api", 1), _folder(tmp_path, "gw", 1, streamed=True))
    assert done.returncode == 0, done.stderr
    assert "api" in done.stdout and "206.0 MB" in done.stdout  # 200 + 1 + the adapter's 5


def test_a_function_over_the_limit_fails_the_build(tmp_path: Path) -> None:
    layer = _folder(tmp_path, "layer", 240)
    done = _check(layer, _folder(tmp_path, "api", 1), _folder(tmp_path, "big", 12))
    assert done.returncode == 1
    assert "big" in done.stdout and "TOO BIG" in done.stdout
    assert "exceeds Lambda's 250 MB" in done.stderr
