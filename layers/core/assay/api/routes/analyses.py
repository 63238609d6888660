"""Analyses: list and read (submission, cancel and events arrive next)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from assay.api.auth import Principal, ports, require
from assay.api.models import AnalysisOut, PageOut
from assay.errors import NotFound
from assay.records import Analysis, AnalysisStatus, Scope
from assay.wiring import Ports

router = APIRouter(prefix="/v1/analyses", tags=["analyses"])
MAX_PAGE = 200

Reader = Annotated[Principal, Depends(require(Scope.ANALYSES_READ))]
Store = Annotated[Ports, Depends(ports)]


@router.get("", name="list_analyses", response_model=PageOut[AnalysisOut])
def list_analyses(
    caller: Reader,
    store: Store,
    status: AnalysisStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> PageOut[AnalysisOut]:
    """The caller's tenant's analyses, newest first."""
    where = {"status": status.value} if status else None
    page = store.records.list(
        Analysis, caller.tenant_id, where=where, limit=limit, cursor=cursor, newest_first=True
    )
    return PageOut[AnalysisOut](
        items=[AnalysisOut.of(a) for a in page.items], next_cursor=page.next_cursor
    )


@router.get("/{analysis_id}", name="get_analysis", response_model=AnalysisOut)
def get_analysis(analysis_id: str, caller: Reader, store: Store) -> AnalysisOut:
    """One analysis. Another tenant's id answers 404, exactly like an unknown one."""
    record = store.records.get(Analysis, caller.tenant_id, analysis_id)
    if record is None:
        raise NotFound(f"no analysis {analysis_id}")
    return AnalysisOut.of(record)
