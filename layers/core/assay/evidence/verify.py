"""Offline verification of an output directory's evidence: chain, artifacts, signature."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from assay.evidence.canonical import canonical, digest, file_digest
from assay.evidence.log import CHECKPOINT_FILE, GENESIS, LOG_FILE, Checkpoint, LogEntry
from assay.evidence.signing import fingerprint, verify_signature


class Verdict(BaseModel):
    ok: bool
    entries: int = 0
    head: str | None = None
    key_id: str | None = None
    trusted_key: bool = False  # the key came from the caller, not from the log itself
    bad_entry: int | None = None  # sequence number of the first bad entry
    reason: str | None = None


class _Bad(Exception):
    def __init__(self, reason: str, entry: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.entry = reason, entry


def verify_dir(root: Path, public_key_pem: str | None = None) -> Verdict:
    """Verify `root`'s evidence. With `public_key_pem` the signature must be by that key;
    without it the key embedded in the checkpoint is used and the verdict says so."""
    entries: list[LogEntry] = []
    try:
        entries = _read_entries(root)
        head = GENESIS
        for position, entry in enumerate(entries, start=1):
            _check_entry(root, position, entry, head)
            head = entry.hash
        key = _check_checkpoint(root, entries, head, public_key_pem)
        _check_report(root, entries)
    except _Bad as bad:
        return Verdict(ok=False, entries=len(entries), bad_entry=bad.entry, reason=bad.reason)
    return Verdict(
        ok=True,
        entries=len(entries),
        head=head,
        key_id=fingerprint(key),
        trusted_key=public_key_pem is not None,
    )


def _read_entries(root: Path) -> list[LogEntry]:
    log_path = root / LOG_FILE
    if not log_path.is_file():
        raise _Bad(f"no evidence log at {LOG_FILE}")
    entries = []
    for number, line in enumerate(log_path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entries.append(LogEntry.model_validate_json(line))
        except ValidationError:
            raise _Bad(f"entry {number} is not a valid log entry", number) from None
    return entries


def _check_entry(root: Path, position: int, entry: LogEntry, previous: str) -> None:
    if entry.seq != position:
        raise _Bad(
            f"entry {position} has sequence number {entry.seq}: an entry is missing or moved",
            position,
        )
    if entry.prev != previous:
        raise _Bad(f"entry {position} does not link to the entry before it", position)
    if digest(canonical(entry.payload)) != entry.payload_digest:
        raise _Bad(f"entry {position}'s payload was changed", position)
    if entry.expected_hash() != entry.hash:
        raise _Bad(f"entry {position}'s contents do not match its hash", position)
    for name, expected in entry.artifacts.items():
        try:
            actual = file_digest(_inside(root, name))
        except (ValueError, OSError):
            raise _Bad(f"entry {position}'s artifact {name} is missing", position) from None
        if actual != expected:
            raise _Bad(f"entry {position}'s artifact {name} was changed", position)


def _check_checkpoint(
    root: Path, entries: list[LogEntry], head: str, public_key_pem: str | None
) -> str:
    """Check the signed checkpoint against the log; return the key that verified it."""
    path = root / CHECKPOINT_FILE
    if not path.is_file():
        raise _Bad(f"no signed checkpoint at {CHECKPOINT_FILE}")
    try:
        checkpoint = Checkpoint.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError:
        raise _Bad("the checkpoint is not valid") from None
    if checkpoint.count != len(entries) or checkpoint.head != head:
        first_extra = min(checkpoint.count, len(entries)) + 1
        raise _Bad(
            f"the log does not end where the checkpoint says (checkpoint: {checkpoint.count} "
            f"entries, log: {len(entries)})",
            first_extra if first_extra <= len(entries) else None,
        )
    key = public_key_pem or checkpoint.signature.public_key_pem
    message = Checkpoint.message(checkpoint.analysis_id, checkpoint.head, checkpoint.count)
    if not verify_signature(checkpoint.signature, message, key):
        raise _Bad("the checkpoint's signature does not verify with this key")
    return key


REPORT_BODY = "evidence/report-body.json"


def _check_report(root: Path, entries: list[LogEntry]) -> None:
    """An analysis's report.json must say what the sealed report body says (plus where its
    evidence is), so editing report.json is caught like editing any artifact."""
    report_path = root / "report.json"
    sealed = any(REPORT_BODY in entry.artifacts for entry in entries)
    if not sealed or not report_path.is_file():
        return
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        body = json.loads((root / REPORT_BODY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise _Bad("report.json is not valid JSON") from None
    report.pop("evidence", None)
    if canonical(report) != canonical(body):
        raise _Bad("report.json differs from the sealed report body")


def _inside(root: Path, name: str) -> Path:
    """An artifact path must stay inside the output directory."""
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(name)
    return root / name
