"""Analyses and their ordered, append-only events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from assay.clock import utcnow
from assay.store.record import Record, TenantRecord
from assay.vault import Vault


class AnalysisStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in {self.SUCCEEDED, self.FAILED, self.CANCELLED}


class AnalysisSummary(BaseModel):
    """The report's headline, kept on the record so lists need not open every report."""

    # None: not measured (see CoverageSummary).
    line_pct_before: float | None
    line_pct_after: float | None
    branch_pct_before: float | None
    branch_pct_after: float | None
    kept: int = Field(ge=0)
    findings: int = Field(ge=0)
    usd: float = Field(ge=0)
    usd_known: bool = True
    left_without_tests: int = Field(default=0, ge=0)  # modules with gaps and no kept test
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, report: dict[str, Any]) -> AnalysisSummary:
        coverage, cost = report["coverage"], report["cost"]
        return cls(
            line_pct_before=coverage["before"]["line_pct"],
            line_pct_after=coverage["after"]["line_pct"],
            branch_pct_before=coverage["before"]["branch_pct"],
            branch_pct_after=coverage["after"]["branch_pct"],
            kept=report["funnel"]["kept"],
            findings=len(report["findings"]),
            usd=float(cost["usd"]),
            usd_known=bool(cost.get("usd_known", True)),
            left_without_tests=len(report.get("gaps") or []),
            warnings=list(report.get("warnings") or []),
        )


class Analysis(TenantRecord):
    kind: ClassVar[str] = "analysis"
    filter_fields: ClassVar[tuple[str, ...]] = ("status", "workspace_id")

    workspace_id: str = "default"
    source: str = Field(min_length=1, max_length=2048, description="git URL or artifact key")
    # What a person calls it: an uploaded directory's or archive's name (a URL speaks for itself).
    source_name: str | None = Field(default=None, max_length=200)
    # A private repository's credentials from the submitted URL, sealed for this tenant by the
    # vault; opened only for the clone, dropped once the analysis finishes.
    sealed_credentials: str | None = None
    ref: str | None = Field(default=None, max_length=255)
    engine: str = Field(default="auto", pattern=r"^(auto|offline|llm)$")
    model: str | None = Field(default=None, max_length=200)
    budget_s: int = Field(default=600, ge=1, le=24 * 3600)
    mutation: bool = False  # also measure the kept tests' mutation score
    status: AnalysisStatus = AnalysisStatus.QUEUED
    reason: str | None = None
    report_key: str | None = None
    summary: AnalysisSummary | None = None
    created_by: str | None = None
    # Sequence number of the last event appended; the next event takes last_event + 1.
    last_event: int = Field(default=0, ge=0)
    # How many times a server restart interrupted it; a resumed run counts one more.
    attempts: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _no_credentials_once_finished(self) -> Analysis:
        """However it finished (settled, cancelled while queued, failed to launch, given up
        after restarts), a finished analysis keeps no credentials: the clone is over."""
        if self.status.finished and self.sealed_credentials is not None:
            self.sealed_credentials = None
        return self


def git_credential(analysis: Analysis, vault: Vault) -> SecretStr | None:
    """The plain credentials of a private repository, for the duration of its clone."""
    if analysis.sealed_credentials is None:
        return None
    return SecretStr(vault.open(analysis.tenant_id, analysis.sealed_credentials).decode())


def event_id(seq: int) -> str:
    """Zero-padded so that lexical order (the store's) equals numeric order."""
    return f"{seq:012d}"


class AnalysisEvent(TenantRecord):
    """One step of an analysis's progress. Its id is its sequence number, so a writer that races
    another for the same number gets `AlreadyExists` instead of reordering history."""

    kind: ClassVar[str] = "event"
    parent_field: ClassVar[str | None] = "analysis_id"
    append_only: ClassVar[bool] = True
    filter_fields: ClassVar[tuple[str, ...]] = ("type",)

    analysis_id: str
    seq: int = Field(ge=1)
    type: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="before")
    @classmethod
    def _id_from_seq(cls, values: Any) -> Any:
        if isinstance(values, dict) and "seq" in values and "id" not in values:
            values = {**values, "id": event_id(int(values["seq"]))}
        return values

    @model_validator(mode="after")
    def _id_matches_seq(self) -> AnalysisEvent:
        if self.id != event_id(self.seq):
            raise ValueError("an event's id is its zero-padded sequence number")
        return self


class RunningAnalysis(Record):
    """A slot held by an analysis whose execution was started (AWS): all of them live in the
    system partition, so admission counts them, and each tenant's, with one query. Its id is
    the analysis id; the slot is given back (`held` false) when the analysis finishes."""

    kind: ClassVar[str] = "running-analysis"
    filter_fields: ClassVar[tuple[str, ...]] = ("state",)

    tenant_id: str = Field(min_length=1, max_length=64)
    state: Literal["held", "released"] = "held"
