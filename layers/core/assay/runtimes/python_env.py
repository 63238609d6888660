"""Python environments: the project's (its declared dependencies, the project itself and the
test tools it does not pin) and the generators' (Pynguin and its packages, apart).

Everything that runs code the project controls (its setup.py, build backend, .pth files)
runs in the install sandbox; Assay itself only creates the venvs and reads file names.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from assay.intake.local import copy_tree
from assay.intake.policy import IntakePolicy
from assay.runtimes import sandboxed
from assay.runtimes.port import EnvironmentFailed
from assay.runtimes.python_requirements import Declared, name_of
from assay.sandbox import Limits, Sandbox

# The project's test tools, unpinned so that the project's own pins win when it names them.
TEST_TOOLS = ["pytest", "coverage>=5", "pytest-timeout"]
INSTALL_LIMITS = Limits(wall_s=900, cpu_s=900, memory_mb=4096, processes=256,
                        output_bytes=2_000_000)  # fmt: skip


class Installer(BaseModel):
    """How installs reach packages: the registry-only proxy for `hosts`, or a direct index."""

    model_config = {"arbitrary_types_allowed": True}

    python: Path  # the base interpreter venvs are made from
    sandbox: Sandbox
    cache: Path
    hosts: tuple[str, ...]
    index_url: str | None = None


class Built(BaseModel):
    installed: list[str] = Field(default_factory=list)  # name==version of every distribution
    notes: list[str] = Field(default_factory=list)  # what had to be left out, and why


def site_packages(interpreter: Path) -> list[Path]:
    """The venv's site-packages directories (`<env>/bin/python` -> `<env>/lib/python*/...`)."""
    return sorted((interpreter.parent.parent / "lib").glob("python*/site-packages"))


def installed(interpreter: Path) -> list[str]:
    """name==version of what is installed, read from the dist-info folders' names."""
    found = []
    for site in site_packages(interpreter):
        for info in site.glob("*.dist-info"):
            name, _, version = info.name[: -len(".dist-info")].partition("-")
            found.append(f"{name}=={version}")
    return sorted(found, key=str.lower)


def once(envdir: Path, build: Callable[[], Built]) -> Built:
    """The environment at `envdir`, built by `build` unless an earlier build finished (its
    `.ready` marker holds what it installed)."""
    ready = envdir / ".ready"
    if ready.exists():
        return Built.model_validate_json(ready.read_text())
    built = build()
    ready.write_text(built.model_dump_json())
    return built


def tools_for(declared: Declared, extra: list[str]) -> list[str]:
    """The test tools the project does not name itself (its own versions win)."""
    names = declared.names()
    return [t for t in [*TEST_TOOLS, *extra] if name_of(t) not in names]


def project_key(version: str, root: Path, declared: Declared, tools: list[str]) -> str:
    """What the environment is built from. When the project itself is installed, its
    declaration files count too (setup.py computes its requirements); its code does not, since
    tests import the snapshot's copy (PYTHONPATH comes first)."""
    digests = {}
    if declared.install_project:
        for name in ("setup.py", "setup.cfg", "pyproject.toml", "tox.ini"):
            if (root / name).is_file():
                digests[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
    body = [version, declared.model_dump(), tools, digests]
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _venv(installer: Installer, envdir: Path) -> Path:
    shutil.rmtree(envdir, ignore_errors=True)
    envdir.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 - Assay's own interpreter, no project code
        [str(installer.python), "-m", "venv", str(envdir)], check=True, capture_output=True
    )
    return envdir / "bin" / "python"


def _pip(installer: Installer, interpreter: Path, args: list[str]) -> str | None:
    """Run `pip install args` in the install sandbox; None when it worked, else the error.
    The sandbox sees the cache (the venvs, pip's cache, the egress socket), nothing else."""
    (installer.cache / "pip").mkdir(parents=True, exist_ok=True)
    argv = [str(interpreter), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-input", *args]  # fmt: skip
    direct = None if installer.index_url is None else {"PIP_INDEX_URL": installer.index_url}
    step, outcome = sandboxed.install(
        installer.cache, argv, installer.sandbox,
        env={"PIP_CACHE_DIR": str(installer.cache / "pip")}, hosts=installer.hosts,
        direct=direct, readonly=[], python=interpreter,
        limits=INSTALL_LIMITS,
    )  # fmt: skip
    output = str(step.get("output", "")) if step else outcome.stdout
    if outcome.ok:
        return None
    lines = [line for line in (output or outcome.stderr).strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines
    return f"({outcome.reason}) " + " | ".join(errors[-4:])


def build_project_env(
    installer: Installer,
    envdir: Path,
    root: Path,
    declared: Declared,
    tools: list[str],
) -> Built:
    """Install the project's declared dependencies, the project itself with its test extras
    (when it has a build system) and `tools`, in one resolution so that the project's pins win.
    When that fails, fall back step by step, saying what was left out: first the lock file's
    exact versions, then the project itself (whose build may need what the sandbox lacks)."""
    build = installer.cache / "builds" / envdir.name
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    project_spec = None
    if declared.install_project:
        copy_tree(root, build / "project", IntakePolicy())
        extras = sorted(dict.fromkeys(declared.extras))
        project_spec = str(build / "project") + (f"[{','.join(extras)}]" if extras else "")
    constraints = None
    if declared.constraints:
        constraints = build / "constraints.txt"
        constraints.write_text("\n".join(declared.constraints) + "\n")
    base = [*tools, *declared.plugins, *declared.requirements]
    with_lock = ["-c", str(constraints)] if constraints else []
    project = [project_spec] if project_spec else []
    # Each rung leaves out one more thing the project declared, and says so.
    attempts: list[tuple[list[str], str | None]] = [([*base, *project, *with_lock], None)]
    if constraints:
        attempts.append(([*base, *project], "the lock file's exact versions"))
    if project and declared.requirements:
        beside = "the requirements it declares beside its metadata (they conflict)"
        attempts.append(([*tools, *declared.plugins, *project], beside))
    if project:
        attempts.append(([*base], "the project itself (its build failed here)"))
    attempts.append(([*tools, *declared.plugins], "everything it declares"))
    unique = [a for n, a in enumerate(attempts) if a[0] not in [b[0] for b in attempts[:n]]]
    attempts = unique
    notes: list[str] = []
    error: str | None = None
    try:
        for args, leaving_out in attempts:  # (a rung equal to an earlier one is not repeated)
            if error is not None and leaving_out is not None:
                notes.append(f"installed without {leaving_out}: {error}"[:600])
            interpreter = _venv(installer, envdir)
            error = _pip(installer, interpreter, args)
            if error is None:
                return Built(installed=installed(interpreter), notes=notes)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(envdir, ignore_errors=True)
    raise EnvironmentFailed(
        f"installing the project's dependencies failed {error}",
        fix="check the project's requirements; the install runs with network access "
        "to package registries only through the sandbox",
    )


def build_tools_env(installer: Installer, envdir: Path, tools: list[str]) -> Built:
    """The generators' own venv (shared by every project on this Python)."""
    interpreter = _venv(installer, envdir)
    error = _pip(installer, interpreter, tools)
    if error is not None:
        shutil.rmtree(envdir, ignore_errors=True)
        raise EnvironmentFailed(
            f"installing the test generators ({', '.join(tools)}) failed {error}",
            fix="check that the package registry is reachable from the install sandbox",
        )
    return Built(installed=installed(interpreter))
