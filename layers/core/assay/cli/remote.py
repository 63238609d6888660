"""`assay analyze --server URL`: submit to a running Assay server and follow its progress."""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from assay.cli.progress import Progress
from assay.client import AssayClient
from assay.errors import ValidationFailed
from assay.intake.archives import is_archive
from assay.intake.local import SKIP_DIRS


def _skip_caches(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    return None if set(Path(info.name).parts) & SKIP_DIRS else info


def _tarball(directory: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(directory, arcname=directory.name, filter=_skip_caches)
    handle = tempfile.NamedTemporaryFile(suffix=".tar.gz", delete=False)  # noqa: SIM115
    handle.write(buffer.getvalue())
    handle.close()
    return Path(handle.name)


def analyze_remote(
    server: str, api_key: str, target: str, *, engine: str, model: str | None, budget_s: float,
    ref: str | None, out: Path | None, progress: Progress, mutation: bool = False,
) -> dict[str, Any]:  # fmt: skip
    path = Path(target).expanduser()
    with AssayClient(server, api_key) as client:
        params: dict[str, Any] = {"engine": engine, "budget_s": int(budget_s)}
        if mutation:
            params["mutation"] = True
        if model:
            params["model"] = model
        if path.is_dir():
            archive = _tarball(path)
            try:  # listed under the directory's name, not the temporary archive's
                made = client.submit_archive(archive, name=path.resolve().name, **params)
            finally:
                archive.unlink(missing_ok=True)
        elif path.is_file():
            if not is_archive(path):
                raise ValidationFailed(f"{target} is not a .tar.gz or .zip archive")
            made = client.submit_archive(path, name=path.name, **params)
        else:
            made = client.submit(target, ref=ref, **params)
        for event in client.events(made.id):
            progress(event.type, event.data)
        final = client.get(made.id)
        if final.status == "cancelled":
            return {"status": "failed", "reason": final.reason, "analysis_id": made.id}
        report = client.report(made.id)
        if out is not None:  # the whole output, as a local run writes it: `assay verify` works
            client.download(made.id, out)
    return report
