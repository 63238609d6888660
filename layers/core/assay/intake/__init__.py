"""Intake: turn a TARGET (directory, git URL, archive) into a private snapshot, safely."""

from assay.intake.policy import IntakePolicy
from assay.intake.snapshot import Snapshot, take_snapshot

__all__ = ["IntakePolicy", "Snapshot", "take_snapshot"]
