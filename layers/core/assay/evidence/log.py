"""A hash-linked, append-only log of what an analysis did, sealed by a signed checkpoint.

Each entry's hash covers the previous entry's hash, its sequence number, type, timestamp, the
digest of its payload and the digests of the artifacts it names, so changing, removing or
reordering any entry, or any artifact, breaks every hash after it. The checkpoint signs the head.

On disk (in an analysis's output directory):
    evidence/log.jsonl         one entry per line, payload included
    evidence/checkpoint.json   head, count, when and by which key, and the signature over all
                               of them (format 2; format 1 signed only id, head and count)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assay.clock import utcnow
from assay.evidence.canonical import canonical, digest, file_digest
from assay.evidence.signing import Signature, Signer

GENESIS = "0" * 64
LOG_FILE = "evidence/log.jsonl"
CHECKPOINT_FILE = "evidence/checkpoint.json"


class LogEntry(BaseModel):
    seq: int = Field(ge=1)
    type: str
    at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
    payload_digest: str
    # Artifact path (relative to the output directory, '/'-separated) -> sha256.
    artifacts: dict[str, str] = Field(default_factory=dict)
    prev: str
    hash: str

    def linked_fields(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "at": self.at.isoformat(),
            "payload_digest": self.payload_digest,
            "artifacts": self.artifacts,
            "prev": self.prev,
        }

    def expected_hash(self) -> str:
        return digest(canonical(self.linked_fields()))


CHECKPOINT_FORMAT = 2
# What each format's signature covers; a field not listed was not attested by that format.
SIGNED_FIELDS = {
    1: ("analysis_id", "head", "count"),
    2: ("format", "analysis_id", "head", "count", "signed_at", "algorithm", "key_id"),
}


class Checkpoint(BaseModel):
    format: int = 1  # absent from checkpoints written before format 2
    analysis_id: str
    head: str
    count: int
    signed_at: datetime
    signature: Signature

    def signed_fields(self) -> dict[str, Any]:
        """Every field this checkpoint's format attests, as signed (JSON forms)."""
        values = self.model_dump(mode="json", exclude={"signature"})
        values["algorithm"] = self.signature.algorithm
        values["key_id"] = self.signature.key_id
        return {name: values[name] for name in SIGNED_FIELDS.get(self.format, ())}

    def message(self) -> bytes:
        """The bytes the signature is over. Format 2 names itself inside the message, so a
        checkpoint cannot be passed off as the weaker format 1."""
        if self.format not in SIGNED_FIELDS:
            raise ValueError(f"unknown checkpoint format {self.format}")
        return canonical(self.signed_fields())


class EvidenceLog:
    """Appends entries for one analysis; `seal` signs the head once the analysis is done."""

    def __init__(self, root: Path, analysis_id: str) -> None:
        self._root = root
        self.analysis_id = analysis_id
        self.entries: list[LogEntry] = []
        self.discarded = 0  # entries `reopen` dropped: those of a step that did not complete
        (root / "evidence").mkdir(parents=True, exist_ok=True)
        self._file = root / LOG_FILE
        self._file.write_text("")

    @classmethod
    def reopen(cls, root: Path, analysis_id: str, keep: int | None = None) -> EvidenceLog:
        """Continue the log an interrupted run left, keeping its first `keep` entries (those of
        the steps that completed; a step run again writes its entries again). A torn last
        line (the process died while writing it) is dropped. A chain that does not link up,
        or is shorter than `keep`, raises ValueError."""
        path = root / LOG_FILE
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        entries: list[LogEntry] = []
        for number, line in enumerate(lines, 1):
            try:
                entry = LogEntry.model_validate_json(line)
            except ValueError:
                if number == len(lines):
                    break  # torn by the crash
                raise ValueError(f"{LOG_FILE} line {number} is not a log entry") from None
            prev = entries[-1].hash if entries else GENESIS
            if entry.seq != number or entry.prev != prev or entry.hash != entry.expected_hash():
                raise ValueError(f"{LOG_FILE} line {number} does not link to the one before")
            entries.append(entry)
        if keep is not None and len(entries) < keep:
            raise ValueError(f"{LOG_FILE} holds {len(entries)} entries, fewer than {keep}")
        kept = entries if keep is None else entries[:keep]
        log = cls(root, analysis_id)  # truncates; rewrite the valid prefix
        log.entries, log.discarded = kept, len(entries) - len(kept)
        log._file.write_text("".join(e.model_dump_json() + "\n" for e in kept))
        return log

    @property
    def head(self) -> str:
        return self.entries[-1].hash if self.entries else GENESIS

    def append(
        self,
        type_: str,
        payload: dict[str, Any] | None = None,
        artifacts: Sequence[str] = (),
        *,
        at: datetime | None = None,
    ) -> LogEntry:
        """`at` is when it happened, for entries chained after the fact (a Map item's)."""
        body = payload or {}
        digests = {name: file_digest(self._root / name) for name in sorted(artifacts)}
        draft = {
            "seq": len(self.entries) + 1,
            "type": type_,
            "at": at or utcnow(),
            "payload": body,
            "payload_digest": digest(canonical(body)),
            "artifacts": digests,
            "prev": self.head,
            "hash": "",
        }
        entry = LogEntry.model_validate(draft)
        entry = entry.model_copy(update={"hash": entry.expected_hash()})
        self.entries.append(entry)
        with self._file.open("a", encoding="utf-8") as out:
            out.write(entry.model_dump_json() + "\n")
        return entry

    def seal(self, signer: Signer) -> Checkpoint:
        unsigned = Signature(
            algorithm=signer.algorithm,
            key_id=signer.key_id(),
            public_key_pem=signer.public_key_pem(),
            value="",
        )
        checkpoint = Checkpoint(
            format=CHECKPOINT_FORMAT,
            analysis_id=self.analysis_id,
            head=self.head,
            count=len(self.entries),
            signed_at=utcnow(),
            signature=unsigned,
        )
        checkpoint.signature = signer.sign(checkpoint.message())
        (self._root / CHECKPOINT_FILE).write_text(checkpoint.model_dump_json(indent=2) + "\n")
        return checkpoint
