"""What an analysis's steps hold between workflow states, and where its files live.

Saved at every checkpoint (locally in the work directory, in AWS through S3), so an analysis
interrupted between two states resumes with the same knowledge.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assay.analysis.funnel import Evaluation
from assay.analysis.projects import Project
from assay.analysis.selection import Verdict
from assay.engines import Target, Usage
from assay.runtimes import CoverageMap, Detection, Environment, TestRun


class Stores(BaseModel):
    """Where one analysis keeps what is too large for the workflow state."""

    work: Path  # scratch: snapshot, runs, environments' staging
    out: Path  # what the user receives

    @property
    def snapshot(self) -> Path:
        return self.work / "snapshot"


class StepsState(BaseModel):
    """What the steps hold between states, saved at every checkpoint so that an interrupted
    analysis can resume from its last completed state with the same knowledge."""

    elapsed_s: float
    started_at: datetime
    saved_at: datetime | None = None
    stage_seconds: dict[str, float]
    generated: int
    usage: Usage
    detection: Detection | None
    environment: Environment | None
    baseline: CoverageMap | None
    targets: list[Target]
    evaluations: list[Evaluation]
    verdicts: list[Verdict]
    suite: TestRun | None
    findings: list[dict[str, Any]]
    mutation: dict[str, Any] | None = None
    body: dict[str, Any] | None
    budget_ends_s: float | None = None  # elapsed seconds at which generation must be done
    baseline_run: dict[str, Any] | None = None  # the project's own suite: counts, first errors
    generation: dict[str, dict[str, Any]] = {}  # per module, when no candidate came of it
    unplanned: dict[str, dict[str, Any]] = {}  # modules with gaps left out of the plan, why
    # Every project found (the root's alone for most repositories); detection, environment and
    # baseline_run above are the main project's (the one with the most modules).
    projects: list[Project] = []
