"""What the API sends and receives: public views of records, never the records themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
)

from assay.intake.credentials import split_credentials
from assay.records import Analysis, AnalysisStatus, AnalysisSummary


def _a_json_number(value: object) -> object:
    """JSON Schema's integer is a number without a fraction (120.0 is one), never a string or
    a boolean, which pydantic's lax mode would turn into one."""
    if isinstance(value, (bool, str)):
        raise ValueError("must be a number")
    return value


# An integer as the OpenAPI schema says it: 120 and 120.0, not "120" nor true.
JsonInt = Annotated[int, BeforeValidator(_a_json_number)]
# A rate (per minute): at least 1. The bound sits inside, so `PerMinute | None` keeps it.
PerMinute = Annotated[int, Field(ge=1), BeforeValidator(_a_json_number)]

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class AnalysisOut(BaseModel):
    id: str
    status: AnalysisStatus
    source: str
    source_name: str | None = Field(
        default=None, description="An uploaded directory's or archive's name."
    )
    ref: str | None
    engine: str
    model: str | None
    budget_s: int
    mutation: bool = False
    reason: str | None
    summary: AnalysisSummary | None = Field(
        default=None,
        description="Coverage before and after, kept tests, findings, cost; "
        "set once the analysis has finished with a report.",
    )
    workspace_id: str
    created_by: str | None = Field(
        default=None, description="The key id, or `oidc:<subject>`, that submitted it."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: Analysis) -> AnalysisOut:
        return cls.model_validate(record.model_dump())


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


Engine = Literal["auto", "offline", "llm"]


class AnalysisIn(BaseModel):
    """Analyze a git repository (uploads go to POST /v1/analyses/archive)."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        max_length=2048,
        # Printable ASCII only: URLs percent-encode the rest.
        pattern=r"^https://([!-~]+@)?[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[!-~]*)?$",
        description="an https:// git URL. For a private repository it may carry credentials "
        "(`https://user:token@host/...`): they are sealed in the tenant's vault, used for the "
        "clone only, and never stored, shown or logged in the clear.",
    )
    ref: str | None = Field(default=None, max_length=255)
    engine: Engine = "auto"
    model: str | None = Field(default=None, max_length=200)
    budget_s: JsonInt = Field(default=600, ge=10, le=24 * 3600)
    mutation: StrictBool = Field(
        default=False, description="Also measure the kept tests' mutation score."
    )
    workspace_id: str = Field(default="default", max_length=64, pattern=r"^[A-Za-z0-9_-]+$")

    @field_validator("source")
    @classmethod
    def _https_git_url(cls, value: str) -> str:
        clean, _ = split_credentials(value)  # a password may hold anything urlsplit rejects
        try:
            parts = urlsplit(clean)
        except ValueError:
            raise ValueError("must be an https:// git URL") from None
        if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("must be an https:// git URL")
        return value


class SigningKeyOut(BaseModel):
    key_id: str
    public_key_pem: str


def _not_a_number(value: object) -> object:
    """Pydantic would read `0.5` as a Unix time; the API takes RFC 3339 times only."""
    if (isinstance(value, str) and not value[:4].isdigit()) or str(value)[4:5] != "-":
        raise ValueError("give an RFC 3339 time with a zone, e.g. 2026-11-22T10:00:00Z")
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
