"""Copy a local directory into a snapshot: no symlink is followed, caches are skipped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from assay.errors import ValidationFailed
from assay.intake.policy import IntakePolicy

# Never part of what is analyzed: VCS data, caches, environments, build outputs.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "node_modules",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", ".eggs", ".assay"}
)  # fmt: skip


def copy_tree(source: Path, destination: Path, policy: IntakePolicy) -> int:
    """Copy regular files and directories; keep symlinks that stay inside, drop the rest."""
    root = source.resolve()
    total = files = 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")
        )
        target_dir = destination / here.relative_to(root)
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            path = here / name
            target = target_dir / name
            if path.is_symlink():
                link = os.readlink(path)
                if not os.path.isabs(link) and (here / link).resolve().is_relative_to(root):
                    os.symlink(link, target)
                continue
            if not path.is_file():
                continue  # fifos, sockets, devices
            total += path.stat().st_size
            files += 1
            if total > policy.max_bytes or files > policy.max_files:
                raise ValidationFailed(
                    f"refusing {source}: more than {policy.max_bytes} bytes or "
                    f"{policy.max_files} files"
                )
            copy_file(path, target)
    return files


def copy_file(source: Path, target: Path) -> None:
    """A regular file's bytes, and whether it may be executed (a test fixture's script, a
    build wrapper): no other mode bit crosses (no setuid, no group or other write)."""
    shutil.copyfile(source, target, follow_symlinks=False)
    if source.stat().st_mode & 0o111:
        target.chmod(0o755)
