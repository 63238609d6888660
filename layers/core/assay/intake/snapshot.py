"""Take a snapshot of a TARGET: a local directory, a git URL, or an archive."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from assay.errors import ValidationFailed
from assay.intake import archives, git, local, urls
from assay.intake.credentials import split_credentials
from assay.intake.policy import IntakePolicy


class Snapshot(BaseModel):
    kind: str  # directory | git | archive
    source: str
    path: Path
    files: int


def target_kind(target: str) -> str:
    """directory | archive | git, judged before anything is created; ValidationFailed for a
    target that cannot be one (a path that does not exist, a plain file)."""
    path = Path(target).expanduser()
    if path.is_dir():
        return "directory"
    if path.is_file():
        if not archives.is_archive(path):
            raise ValidationFailed(
                f"{target} is a file but not a .tar.gz, .tgz, .tar or .zip archive",
                fix="pass a directory, an archive or an https:// git URL",
            )
        return "archive"
    if urls.looks_like_git_url(target):
        return "git"
    raise ValidationFailed(
        f"{target} does not exist (and is not a git URL)",
        fix="pass a path to a directory, a .tar.gz/.zip archive, or an https:// git URL",
    )


def take_snapshot(
    target: str, destination: Path, *, ref: str | None = None, policy: IntakePolicy | None = None
) -> Snapshot:
    """Copy, clone or extract `target` into the empty directory `destination`."""
    rules = policy or IntakePolicy()
    if destination.exists() and any(destination.iterdir()):
        raise ValidationFailed(f"the snapshot directory {destination} is not empty")
    kind = target_kind(target)
    path = Path(target).expanduser()
    if kind == "directory":
        files = local.copy_tree(path, destination, rules)
        return Snapshot(kind=kind, source=str(path.resolve()), path=destination, files=files)
    if kind == "archive":
        files = archives.extract(path, destination, rules)
        return Snapshot(kind=kind, source=str(path.resolve()), path=destination, files=files)
    clean, inline = split_credentials(target)
    if inline is not None:
        rules = rules.model_copy(update={"git_credential": inline})
    checked = urls.check_git_url(clean, rules)
    git.clone(checked, destination, ref, rules)
    _, files = git._dir_size(destination)
    return Snapshot(kind=kind, source=clean, path=destination, files=files)
