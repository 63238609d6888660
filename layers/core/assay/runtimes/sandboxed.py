"""Running a runtime's commands in the sandbox: a clean `.assay` folder in the work directory
holding the runner and its job, one sandbox job, and the runner's record of each step read
back as untrusted data."""

from __future__ import annotations

import contextlib
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


def install(
    cache: Path,
    argv: list[str],
    sandbox: Sandbox,
    *,
    env: dict[str, str],
    hosts: tuple[str, ...],
    direct: dict[str, str] | None,
    readonly: list[Path],
    limits: Limits,
    python: Path | None = None,
    workdir: Path | None = None,
) -> tuple[dict[str, Any], Outcome]:
    """Run a dependency install (`argv`) in the sandbox. With `direct` (settings that point the
    installer at a registry the job may reach itself, e.g. CodeArtifact) the job gets network;
    without, its only way out is the registry-only proxy for `hosts`. Returns the install
    step's record (empty when the runner wrote none) and the sandbox's outcome."""
    from assay.sandbox.egress import BRIDGE_PORT, EgressProxy, proxy_env

    where = workdir or cache
    runner = where / ".assay-runner.py"
    shutil.copyfile(str(files("assay.sandbox") / "assay_runner.py"), runner)
    # The proxy's socket lives in the job's own directory: the one place the sandbox surely
    # shows it (a cache outside the job's directory is not visible to it).
    proxy = EgressProxy(where / ".egress.sock", hosts)
    job: dict[str, Any] = {"results": str(where / ".install-results.json")}
    step_env = dict(env)
    if direct is None:
        step_env.update(proxy_env())
        # By its name in the job's own directory, the runner's working directory: a full
        # path may be too long for a socket address.
        job["bridge"] = {"port": BRIDGE_PORT, "socket": proxy.socket_path.name}
    else:
        step_env.update(direct)
    job["steps"] = [{"name": "install", "argv": argv, "env": step_env}]
    job_file = where / ".install-job.json"
    job_file.write_text(json.dumps(job))
    base = Path(sys.base_prefix)
    interpreter = python or base / "bin" / "python3"
    serving = proxy.running() if direct is None else contextlib.nullcontext()
    with serving:
        outcome = sandbox.run(
            Job(
                argv=[str(interpreter), str(runner), str(job_file)],
                workdir=where,
                readonly=sorted({*readonly, base}),
                limits=limits.model_copy(update={"network": direct is not None}),
            )
        )
    record = json_or_none(read_inside(where, ".install-results.json"))
    steps = record.get("steps", []) if isinstance(record, dict) else []
    step = steps[0] if steps and isinstance(steps[0], dict) else {}
    return step, outcome


def at_least(limits: Limits, **floors: float) -> Limits:
    """`limits` raised to what a toolchain needs (`floors`) where they are lower, never lowered."""
    return limits.model_copy(
        update={name: max(getattr(limits, name), floor) for name, floor in floors.items()}
    )
