"""Clone a git repository with everything that could run code or reach elsewhere turned off."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from assay.errors import ValidationFailed
from assay.intake.credentials import authorization_header, redact
from assay.intake.policy import IntakePolicy
from assay.intake.urls import GitUrl


def _dir_size(path: Path) -> tuple[int, int]:
    total = files = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            files += 1
    return total, files


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def clone(source: GitUrl, destination: Path, ref: str | None, policy: IntakePolicy) -> None:
    """Shallow clone of `ref` (default branch when None) into `destination`."""
    git = shutil.which("git")
    if git is None:
        raise ValidationFailed("git is not installed", fix="install git to analyze git URLs")
    if ref is not None and (ref.startswith("-") or any(c.isspace() for c in ref)):
        raise ValidationFailed(f"refusing ref {ref!r}")
    port = source.port
    pinned = f"{source.host}:{port}:{source.address}"
    config = [
        "-c", "protocol.allow=never",
        "-c", "protocol.https.allow=always",
        *(["-c", "protocol.http.allow=always"] if policy.allow_http else []),
        "-c", "http.followRedirects=false",
        "-c", f"http.curloptResolve={pinned}",  # no second DNS lookup to rebind
        "-c", "core.hooksPath=/dev/null",
        "-c", "core.symlinks=true",
        "-c", "submodule.recurse=false",
        "-c", "core.fsmonitor=false",
        "-c", "credential.helper=",
    ]  # fmt: skip
    command = [git, *config, "clone", "--quiet", "--depth", "1", "--no-tags",
               "--single-branch", "--no-recurse-submodules"]  # fmt: skip
    if ref is not None:
        command += ["--branch", ref]
    command += ["--", source.url, str(destination)]
    with tempfile.TemporaryDirectory(prefix="assay-git-home-") as home:
        env = {
            # git's own directory first: it finds its helpers (git-remote-https) there.
            "PATH": f"{Path(git).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": home,  # no user ~/.gitconfig
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ALLOW_PROTOCOL": "https:http" if policy.allow_http else "https",
            "GIT_LFS_SKIP_SMUDGE": "1",
        }
        if policy.git_credential is not None:  # in the environment: argv is visible to ps
            env |= {
                "GIT_CONFIG_COUNT": "1",
                # Scoped to this URL's host: nothing else git talks to gets it.
                "GIT_CONFIG_KEY_0": f"http.{_origin(source.url)}/.extraHeader",
                "GIT_CONFIG_VALUE_0": authorization_header(policy.git_credential),
            }
        process = subprocess.Popen(  # noqa: S603
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + policy.clone_timeout_s
        too_big = ValidationFailed(
            f"refusing {source.url}: the clone exceeds the size cap "
            f"({policy.max_bytes} bytes, {policy.max_files} files)"
        )
        while True:
            running = process.poll() is None
            # Checked once more after git exits: a fast clone may finish between two looks.
            size, files = _dir_size(destination) if destination.exists() else (0, 0)
            if size > policy.max_bytes or files > policy.max_files:
                if running:
                    process.kill()
                    process.wait()
                shutil.rmtree(destination, ignore_errors=True)
                raise too_big
            if not running:
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                shutil.rmtree(destination, ignore_errors=True)
                raise ValidationFailed(f"cloning {source.url} took longer than the time limit")
            time.sleep(0.05)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode != 0:
        shutil.rmtree(destination, ignore_errors=True)
        last = stderr.strip().splitlines()[-1:] or ["unknown error"]
        raise ValidationFailed(redact(f"git clone of {source.url} failed: {last[0]}"))
    shutil.rmtree(destination / ".git", ignore_errors=True)
