"""Sandbox overhead per test run: the same pytest invocation bare and in the process sandbox.

Builds a project environment (pytest) once, then runs a small test file R times each way,
alternating, and reports medians and the per-run overhead.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assay.sandbox import Job, Limits
from assay.sandbox.process import ProcessSandbox

ROUNDS = 30
ROOT = Path(__file__).resolve().parent


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    env = work / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    subprocess.run([str(env / "bin" / "pip"), "install", "-q", "pytest>=8,<9"], check=True)
    project = work / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_small.py").write_text(
        "".join(f"def test_{i}():\n    assert {i} + 1 == {i + 1}\n\n" for i in range(20))
    )
    argv = [str(env / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/test_small.py"]  # fmt: skip
    box = ProcessSandbox()
    job = Job(argv=argv, workdir=project, readonly=sorted({env, Path(sys.base_prefix)}),
              limits=Limits(wall_s=60))  # fmt: skip
    true_job = Job(argv=["/bin/true"], workdir=project, limits=Limits(wall_s=60))

    bare, boxed, bare_true, boxed_true = [], [], [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        subprocess.run(argv, cwd=project, capture_output=True, check=True)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        outcome = box.run(job)
        boxed.append(time.perf_counter() - started)
        assert outcome.ok, outcome
        started = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        bare_true.append(time.perf_counter() - started)
        started = time.perf_counter()
        box.run(true_job)
        boxed_true.append(time.perf_counter() - started)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 1)

    figures = {
        "rounds": ROUNDS,
        "isolation": box.isolation,
        "pytest_bare_ms": ms(bare),
        "pytest_sandboxed_ms": ms(boxed),
        "overhead_per_test_run_ms": round(ms(boxed) - ms(bare), 1),
        "empty_command_bare_ms": ms(bare_true),
        "empty_command_sandboxed_ms": ms(boxed_true),
        "sandbox_setup_ms": round(ms(boxed_true) - ms(bare_true), 1),
    }
    print(json.dumps(figures, indent=2))
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "sandbox_overhead.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
