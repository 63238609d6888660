"""Evaluation records: datasets and their immutable versions, runs, named judges, and the
samples online evaluation scored. Evaluator settings are kept as the suite file's JSON and
validated by `assay.evals.suite` at the API boundary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from assay.clock import utcnow
from assay.store.record import TenantRecord

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$"


class EvalDataset(TenantRecord):
    """A named dataset; its id is its name. Versions are immutable; `latest` is the newest."""

    kind: ClassVar[str] = "evaldataset"

    name: str = Field(pattern=NAME)
    description: str = Field(default="", max_length=2000)
    latest: int = Field(default=0, ge=0)
    items: int = Field(default=0, ge=0)  # in the latest version


def version_id(version: int) -> str:
    return f"{version:08d}"


class EvalDatasetVersion(TenantRecord):
    """One immutable version: its items are a JSONL blob, addressed by its digest."""

    kind: ClassVar[str] = "evaldsversion"
    parent_field: ClassVar[str | None] = "dataset_id"
    append_only: ClassVar[bool] = True

    dataset_id: str
    number: int = Field(ge=1)  # 1, 2, ... (`version` is the store's optimistic counter)
    items: int = Field(ge=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    blob_key: str
    source: str = Field(max_length=200, description="upload:jsonl, upload:csv or gateway:...")
    created_by: str = Field(default="", max_length=200)


class EvalRunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in {self.SUCCEEDED, self.FAILED}


class EvalRun(TenantRecord):
    kind: ClassVar[str] = "evalrun"
    filter_fields: ClassVar[tuple[str, ...]] = ("status", "suite_name")

    suite_name: str = Field(max_length=120)
    suite: dict[str, Any]  # the suite as JSON (its dataset named by dataset_id/version)
    dataset_id: str
    dataset_version: int = Field(ge=1)
    baseline_run_id: str | None = None
    concurrency: int = Field(default=8, ge=1, le=512)
    status: EvalRunStatus = EvalRunStatus.QUEUED
    reason: str | None = Field(default=None, max_length=2000)
    created_by: str = Field(default="", max_length=200)
    # Set when it ends.
    gate_held: bool | None = None
    gate: str = ""
    summary: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None  # its headline against the baseline
    results_prefix: str | None = None  # blob prefix of results.json, junit.xml, evidence
    execution_arn: str | None = None  # aws profile: the Step Functions execution
    finished_at: datetime | None = None


class EvalJudge(TenantRecord):
    """A named judge behind `POST /v1/judges/{name}/chat/completions`: the target model's
    completion and its evaluators' results in one call. Its id is its name."""

    kind: ClassVar[str] = "evaljudge"

    name: str = Field(pattern=NAME)
    model: str = Field(min_length=1, max_length=200, description="the gateway model to answer")
    evaluators: list[dict[str, Any]] = Field(min_length=1, max_length=20)
    threshold: float = Field(default=1.0, ge=0, le=1,
                             description="share of evaluators that must pass")  # fmt: skip


class EvalSample(TenantRecord):
    """A gateway request online evaluation sampled: what was asked and answered, and its
    scores. Appended off the request path; turned into dataset items on request."""

    kind: ClassVar[str] = "evalsample"
    append_only: ClassVar[bool] = True
    filter_fields: ClassVar[tuple[str, ...]] = ("resource",)

    resource: str = Field(max_length=200)
    api_key_id: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    output: str = ""
    scores: dict[str, float] = Field(default_factory=dict)
    passed: bool | None = None
    errors: dict[str, str] = Field(default_factory=dict)  # evaluators that gave no score
    latency_ms: int = Field(default=0, ge=0)
    at: datetime = Field(default_factory=utcnow)
