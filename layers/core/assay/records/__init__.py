"""The records every capability stores, as Pydantic models. Persistence: `assay.store`."""

from assay.records.analyses import (
    Analysis,
    AnalysisEvent,
    AnalysisStatus,
    AnalysisSummary,
    RunningAnalysis,
)
from assay.records.api_keys import ApiKey, Scope
from assay.records.evals import (
    EvalDataset,
    EvalDatasetVersion,
    EvalJudge,
    EvalRun,
    EvalRunStatus,
    EvalSample,
)
from assay.records.gateway import GatewayConnection, GatewayResource, RouteTarget
from assay.records.ledger import AuditEntry, UsageEntry
from assay.records.tenants import Tenant, TenantStatus, Workspace

ALL_KINDS = (
    Tenant,
    Workspace,
    ApiKey,
    Analysis,
    AnalysisEvent,
    RunningAnalysis,
    GatewayConnection,
    GatewayResource,
    UsageEntry,
    AuditEntry,
    EvalDataset,
    EvalDatasetVersion,
    EvalRun,
    EvalJudge,
    EvalSample,
)

__all__ = [
    "ALL_KINDS",
    "Analysis",
    "AnalysisEvent",
    "AnalysisStatus",
    "AnalysisSummary",
    "ApiKey",
    "AuditEntry",
    "EvalDataset",
    "EvalDatasetVersion",
    "EvalJudge",
    "EvalRun",
    "EvalRunStatus",
    "EvalSample",
    "GatewayConnection",
    "GatewayResource",
    "RouteTarget",
    "RunningAnalysis",
    "Scope",
    "Tenant",
    "TenantStatus",
    "UsageEntry",
    "Workspace",
]
