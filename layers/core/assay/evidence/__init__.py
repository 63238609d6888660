"""The evidence log: hash-linked entries, a signed checkpoint, and offline verification."""

from assay.evidence.log import Checkpoint, EvidenceLog, LogEntry
from assay.evidence.signing import Signer
from assay.evidence.verify import Verdict, verify_dir

__all__ = ["Checkpoint", "EvidenceLog", "LogEntry", "Signer", "Verdict", "verify_dir"]
