"""Append-only ledgers: LLM usage (for cost and limits) and the audit trail."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field

from assay.clock import utcnow
from assay.store.record import TenantRecord


class UsageEntry(TenantRecord):
    """One gateway request (or one model call of an analysis): who, what, how it went."""

    kind: ClassVar[str] = "usage"
    append_only: ClassVar[bool] = True
    filter_fields: ClassVar[tuple[str, ...]] = ("api_key_id", "model", "resource", "status")

    api_key_id: str | None = None
    resource: str | None = Field(default=None, max_length=200)
    path: list[str] = Field(default_factory=list, description="targets tried, in order")
    analysis_id: str | None = None
    model: str = Field(min_length=1, max_length=200)
    provider: str | None = None
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    # Decimal, not float: sums of many small costs must not drift.
    usd: Decimal = Field(default=Decimal(0), ge=0)
    usd_known: bool = True
    latency_ms: int = Field(default=0, ge=0)
    first_token_ms: int | None = Field(default=None, ge=0)
    overhead_ms: float = Field(default=0.0, ge=0)
    cached: bool = False
    guardrails: list[str] = Field(default_factory=list, description="stage:rule:action matched")
    status: str = "ok"
    at: datetime = Field(default_factory=utcnow)


class AuditEntry(TenantRecord):
    """Who did what to which resource, and how it ended. Never holds secrets."""

    kind: ClassVar[str] = "audit"
    append_only: ClassVar[bool] = True
    filter_fields: ClassVar[tuple[str, ...]] = ("actor", "action")

    actor: str = Field(min_length=1, max_length=200, description="api key id, user or 'system'")
    action: str = Field(min_length=1, max_length=120, description="e.g. apikey.create")
    target: str | None = Field(default=None, max_length=400)
    outcome: str = Field(default="ok", pattern=r"^(ok|denied|error)$")
    request_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utcnow)
