"""Offline verification of an output directory's evidence: chain, artifacts, signature."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from pydantic import BaseModel, ValidationError

from assay.clock import utcnow
from assay.evidence.canonical import canonical, digest, file_digest
from assay.evidence.log import (
    CHECKPOINT_FILE,
    GENESIS,
    LOG_FILE,
    SIGNED_FIELDS,
    Checkpoint,
    LogEntry,
)
from assay.evidence.signing import fingerprint, key_algorithm, verify_signature

# Clocks of the machines that append and seal may disagree by this much.
CLOCK_SKEW = timedelta(minutes=5)


class Verdict(BaseModel):
    ok: bool
    entries: int = 0
    head: str | None = None
    key_id: str | None = None
    trusted_key: bool = False  # the key came from the caller, not from the log itself
    bad_entry: int | None = None  # sequence number of the first bad entry
    reason: str | None = None
    checkpoint_format: int | None = None
    # Checkpoint fields the signature does not attest (checkpoints of an older format).
    unsigned_fields: list[str] = []
    notes: list[str] = []


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
        checkpoint, key = _check_checkpoint(root, entries, head, public_key_pem)
        _check_report(root, entries)
    except _Bad as bad:
        return Verdict(ok=False, entries=len(entries), bad_entry=bad.entry, reason=bad.reason)
    except Exception as exc:  # hostile evidence fails closed, never with a traceback
        reason = f"the evidence cannot be read ({type(exc).__name__}: {exc})"
        return Verdict(ok=False, entries=len(entries), reason=reason[:500])
    unsigned = [
        name
        for name in SIGNED_FIELDS[max(SIGNED_FIELDS)]
        if name not in SIGNED_FIELDS[checkpoint.format]
    ]
    notes = []
    if unsigned:
        notes.append(
            f"this checkpoint is format {checkpoint.format}, whose signature covers only "
            f"{', '.join(SIGNED_FIELDS[checkpoint.format])}: {', '.join(unsigned)} "
            "are not attested"
        )
    return Verdict(
        ok=True,
        entries=len(entries),
        head=head,
        key_id=fingerprint(key),
        trusted_key=public_key_pem is not None,
        checkpoint_format=checkpoint.format,
        unsigned_fields=unsigned,
        notes=notes,
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
) -> tuple[Checkpoint, str]:
    """Check every field of the signed checkpoint against what can vouch for it (the log, the
    report, the key itself), naming the first that does not hold, then the signature over all
    of them. Returns the checkpoint and the key that verified it."""
    path = root / CHECKPOINT_FILE
    if not path.is_file():
        raise _Bad(f"no signed checkpoint at {CHECKPOINT_FILE}")
    try:
        checkpoint = Checkpoint.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError:
        raise _Bad("the checkpoint is not valid") from None
    if checkpoint.format not in SIGNED_FIELDS:
        raise _Bad(f"the checkpoint's format {checkpoint.format} is not one this version reads")
    if checkpoint.count != len(entries) or checkpoint.head != head:
        first_extra = min(checkpoint.count, len(entries)) + 1
        raise _Bad(
            f"the log does not end where the checkpoint says (checkpoint: {checkpoint.count} "
            f"entries, log: {len(entries)})",
            first_extra if first_extra <= len(entries) else None,
        )
    key = _check_key(checkpoint, public_key_pem)
    reported = _reported_analysis_id(root)
    if reported is not None and reported != checkpoint.analysis_id:
        raise _Bad(
            f"the checkpoint's analysis_id {checkpoint.analysis_id} is not the report's "
            f"({reported})"
        )
    if checkpoint.signed_at.tzinfo is None:
        raise _Bad("the checkpoint's signed_at has no time zone")
    for entry in entries:
        if entry.at.tzinfo is None:
            raise _Bad(f"entry {entry.seq}'s time has no time zone", entry.seq)
    last = max((entry.at for entry in entries), default=None)
    if last is not None and checkpoint.signed_at < last - CLOCK_SKEW:
        raise _Bad(f"the checkpoint's signed_at {checkpoint.signed_at} precedes the log's end")
    if checkpoint.signed_at > utcnow() + CLOCK_SKEW:
        raise _Bad(f"the checkpoint's signed_at {checkpoint.signed_at} is in the future")
    signature = checkpoint.signature
    if not verify_signature(signature, checkpoint.message(), key):
        newest = checkpoint.model_copy(update={"format": max(SIGNED_FIELDS)})
        if checkpoint.format != newest.format and verify_signature(
            signature, newest.message(), key
        ):
            raise _Bad(
                f"the checkpoint's format was changed to {checkpoint.format}: it was signed as "
                f"format {newest.format}"
            )
        # Every other signed field was vouched for above, so what is left is signed_at (the
        # only field nothing else records) or the signature itself.
        changed = "signed_at or " if "signed_at" in checkpoint.signed_fields() else ""
        raise _Bad(
            "the checkpoint's signature does not verify with this key: its "
            f"{changed}signature value was changed"
        )
    return checkpoint, key


def _check_key(checkpoint: Checkpoint, public_key_pem: str | None) -> str:
    """The key id must be the embedded key's fingerprint (and the given key's, when pinned),
    and the algorithm the key's own; returns the key to verify with."""
    signature = checkpoint.signature
    embedded = signature.public_key_pem
    try:
        embedded_id = fingerprint(embedded)
    except (ValueError, UnsupportedAlgorithm):
        raise _Bad("the checkpoint's public_key_pem is not a public key it can read") from None
    if signature.key_id != embedded_id:
        raise _Bad(
            f"the checkpoint's key_id {signature.key_id} is not its public key's fingerprint "
            f"({embedded_id})"
        )
    if public_key_pem is not None:
        try:
            given = fingerprint(public_key_pem)
        except (ValueError, UnsupportedAlgorithm):
            raise _Bad("the given public key is not a PEM public key it can read") from None
        if given != signature.key_id:
            raise _Bad(
                f"the checkpoint's signature is by key {signature.key_id}, not by the given "
                f"key {given}"
            )
    key = public_key_pem or embedded
    if signature.algorithm != key_algorithm(key):
        raise _Bad(
            f"the checkpoint's algorithm {signature.algorithm} is not its key's "
            f"({key_algorithm(key)})"
        )
    return key


def _reported_analysis_id(root: Path) -> str | None:
    try:
        report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = report.get("analysis_id") if isinstance(report, dict) else None
    return value if isinstance(value, str) else None


# The report an analysis sealed into its evidence (analysis/report.py writes it).
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
    if not isinstance(report, dict):
        raise _Bad("report.json is not a JSON object")
    report.pop("evidence", None)
    if canonical(report) != canonical(body):
        raise _Bad("report.json differs from the sealed report body")


def _inside(root: Path, name: str) -> Path:
    """An artifact path must stay inside the output directory."""
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(name)
    return root / name
