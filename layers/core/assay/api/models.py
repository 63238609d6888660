"""What the API sends and receives: public views of records, never the records themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from assay.records import Analysis, AnalysisStatus

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class AnalysisOut(BaseModel):
    id: str
    status: AnalysisStatus
    source: str
    ref: str | None
    engine: str
    model: str | None
    budget_s: int
    reason: str | None
    workspace_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: Analysis) -> AnalysisOut:
        return cls.model_validate(record.model_dump())


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}
