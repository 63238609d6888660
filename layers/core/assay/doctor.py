"""`assay doctor`: what this installation can do, and what to fix when it cannot.

Each check is a small function returning a `Check`; a failing store is reported, not raised,
so one broken part never hides the state of the others.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel

from assay import __version__
from assay.config import Profile, Settings
from assay.errors import AssayError
from assay.wiring import make_blobs, make_limiter, make_records, make_vault


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class Check(BaseModel):
    name: str
    status: Status
    detail: str
    fix: str | None = None


class Report(BaseModel):
    version: str
    profile: Profile
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status is not Status.FAIL for c in self.checks)


RUNTIMES: dict[str, list[str]] = {
    "python": [sys.executable, "--version"],
    "git": ["git", "--version"],
    "node": ["node", "--version"],
    "go": ["go", "version"],
    "java": ["java", "-version"],
    "cargo": ["cargo", "--version"],
}


def _guard(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name=name, status=Status.OK, detail=probe())
    except AssayError as exc:
        return Check(name=name, status=Status.FAIL, detail=exc.message, fix=exc.fix)


def check_home(settings: Settings) -> Check:
    home = settings.home
    if home.exists() and not os.access(home, os.W_OK):
        return Check(
            name="data dir",
            status=Status.FAIL,
            detail=f"{home} is not writable",
            fix="fix its permissions or set ASSAY_HOME to a writable directory",
        )
    state = "exists" if home.exists() else "will be created on first use"
    return Check(name="data dir", status=Status.OK, detail=f"{home} ({state})")


def check_records(settings: Settings) -> Check:
    def probe() -> str:
        store = make_records(settings)
        try:
            store.ping()
        finally:
            store.close()
        if settings.profile is Profile.AWS:
            return f"DynamoDB table {settings.table_name} in {settings.aws_region}"
        return f"SQLite {settings.database_path} (WAL, integrity ok)"

    return _guard("records", probe)


def check_artifacts(settings: Settings) -> Check:
    def probe() -> str:
        make_blobs(settings).ping()
        if settings.profile is Profile.AWS:
            return f"S3 bucket {settings.artifacts_bucket}"
        return f"files under {settings.artifacts_dir}"

    return _guard("artifacts", probe)


def check_secrets(settings: Settings) -> Check:
    def probe() -> str:
        existed = settings.key_file.exists()
        make_vault(settings).ping()
        if settings.profile is Profile.AWS:
            return f"KMS key {settings.kms_key_id}"
        return f"key file {settings.key_file} ({'present' if existed else 'created'})"

    return _guard("secrets", probe)


def check_limits(settings: Settings) -> Check:
    def probe() -> str:
        limiter = make_limiter(settings)
        try:
            limiter.ping()
        finally:
            limiter.close()
        if settings.redis_url:
            from assay.limits.redis import redact

            return f"Redis at {redact(settings.redis_url)} (reachable)"
        return "in memory (set ASSAY_REDIS_URL to share limits between processes)"

    return _guard("limits", probe)


def check_sandbox() -> Check:
    """Untrusted tests run in the process sandbox: namespaces, read-only host, no network."""
    from assay.sandbox.process import ProcessSandbox, pids_cgroup_roots

    if platform.system() != "Linux":
        return Check(
            name="sandbox",
            status=Status.FAIL,
            detail=f"{platform.system()} has no namespaces; untrusted tests cannot be isolated",
            fix="run Assay on Linux, or use the aws profile (Fargate sandboxes)",
        )
    box = ProcessSandbox()
    if not box.isolated:
        return Check(
            name="sandbox",
            status=Status.FAIL,
            detail="cannot create namespaces here (unshare/setpriv missing or not permitted)",
            fix="install util-linux and enable unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1)",
        )
    if os.geteuid() == 0 and not pids_cgroup_roots():
        return Check(
            name="sandbox",
            status=Status.FAIL,
            detail="running as root without a pids cgroup: fork bombs could not be stopped",
            fix="run assay as a regular user",
        )
    return Check(name="sandbox", status=Status.OK, detail=box.isolation)


def check_runtimes() -> list[Check]:
    checks = []
    for name, command in RUNTIMES.items():
        if shutil.which(command[0]) is None:
            checks.append(Check(name=f"runtime {name}", status=Status.WARN, detail="not installed"))
            continue
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
            text = (done.stdout or done.stderr).strip().splitlines()
            detail = text[0] if text else "installed"
            # A tool that is on PATH but cannot run (rustup with no toolchain) is not usable.
            status = Status.OK if done.returncode == 0 else Status.WARN
            checks.append(Check(name=f"runtime {name}", status=status, detail=detail))
        except (OSError, subprocess.TimeoutExpired) as exc:
            checks.append(Check(name=f"runtime {name}", status=Status.WARN, detail=str(exc)))
    return checks


# Languages on the roadmap, said plainly so nobody expects them to work yet.
PLANNED_LANGUAGES: tuple[str, ...] = ()


def check_languages(settings: Settings) -> list[Check]:
    """Which languages this machine can analyze (a runtime with its toolchain present)."""
    from assay.runtimes import registry

    checks = []
    for runtime in registry.runtimes(settings):
        usable, detail = runtime.availability()
        status = Status.OK if usable else Status.WARN
        fix = None if usable else "install the toolchain named above"
        checks.append(Check(name=f"language {runtime.language}", status=status, detail=detail,
                            fix=fix))  # fmt: skip
    checks += [
        Check(name=f"language {name}", status=Status.WARN, detail="not supported yet")
        for name in PLANNED_LANGUAGES
    ]
    return checks


def run(settings: Settings) -> Report:
    checks = [
        Check(name="profile", status=Status.OK, detail=settings.profile.value),
    ]
    if settings.profile is Profile.LOCAL:
        checks.append(check_home(settings))
    checks += [
        check_records(settings),
        check_artifacts(settings),
        check_secrets(settings),
        check_limits(settings),
        check_sandbox(),
        *check_languages(settings),
        *check_runtimes(),
    ]
    return Report(version=__version__, profile=settings.profile, checks=checks)
