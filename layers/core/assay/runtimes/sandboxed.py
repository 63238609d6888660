"""Running a runtime's commands in the sandbox: a clean `.assay` folder in the work directory
holding the runner and its job, one sandbox job, and the runner's record of each step read
back as untrusted data."""

from __future__ import annotations

import json
import shutil
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from assay.runtimes.results import json_or_none, read_inside
from assay.sandbox import Job, Limits, Outcome, Sandbox

STATE_DIR = ".assay"


def stage(workdir: Path) -> Path:
    """A fresh `.assay` folder with the runner in it (whatever an earlier run left is gone)."""
    state = workdir / STATE_DIR
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    shutil.copyfile(str(files("assay.sandbox") / "assay_runner.py"), state / "runner.py")
    return state


def shell(script: str, name: str = "tests") -> dict[str, Any]:
    """A runner step that runs `script` with /bin/sh (for redirections and `$?`)."""
    return {"name": name, "argv": ["/bin/sh", "-c", script]}


def run_steps(
    workdir: Path,
    steps: list[dict[str, Any]],
    sandbox: Sandbox,
    *,
    readonly: list[Path],
    env: dict[str, str],
    limits: Limits,
) -> tuple[list[dict[str, Any]], Outcome]:
    """Run `steps` in `workdir` (staged with `stage`) under Assay's own Python, which the
    runner needs; return the runner's record of each step, and the sandbox's outcome."""
    job = {"steps": steps, "results": f"{STATE_DIR}/runner.json"}
    (workdir / STATE_DIR / "job.json").write_text(json.dumps(job))
    base = Path(sys.base_prefix)
    outcome = sandbox.run(
        Job(
            argv=[
                str(base / "bin" / "python3"),
                f"{STATE_DIR}/runner.py",
                f"{STATE_DIR}/job.json",
            ],
            workdir=workdir,
            readonly=sorted({*readonly, base}),
            env=env,
            limits=limits,
        )
    )
    record = json_or_none(read_inside(workdir, f"{STATE_DIR}/runner.json"))
    steps_run = record.get("steps", []) if isinstance(record, dict) else []
    return [s for s in steps_run if isinstance(s, dict)], outcome


def text(workdir: Path, name: str) -> str:
    """A file the run wrote in `.assay`, as text ('' when it is missing or too large)."""
    return (read_inside(workdir, f"{STATE_DIR}/{name}") or b"").decode("utf-8", "replace")
