"""Evaluations over HTTP: datasets (uploads and gateway samples, immutable versions), runs
(submitted, followed over SSE, their items failing first, compared), named judges, and the
score trends online evaluation records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from assay.api.auth import Principal, ports, require
from assay.api.models import JsonInt, PageOut
from assay.api.routes.events import KEEPALIVE_S, POLL_S, _int, format_event
from assay.errors import NotFound, ValidationFailed
from assay.evals import datasets
from assay.evals.compare import Comparison, compare
from assay.evals.execution import FILES, check_items, execution_input, read_run_results
from assay.evals.online import OnlineEvaluator
from assay.evals.results import ItemResult
from assay.evals.suite import Suite
from assay.gateway.pools import Number
from assay.records import (
    AnalysisEvent,
    EvalDataset,
    EvalDatasetVersion,
    EvalJudge,
    EvalRun,
    EvalRunStatus,
    EvalSample,
    Scope,
)
from assay.records.analyses import event_id
from assay.records.evals import NAME
from assay.wiring import Ports

router = APIRouter(prefix="/v1/evals", tags=["evals"])
Reader = Annotated[Principal, Depends(require(Scope.EVALS_READ))]
Writer = Annotated[Principal, Depends(require(Scope.EVALS_WRITE))]
Store = Annotated[Ports, Depends(ports)]
Name = Annotated[str, Path(pattern=NAME)]
MAX_UPLOAD = 64 * 1024 * 1024
UPLOAD_SUFFIX = "/upload"


# ---------------------------------------------------------------------------- datasets
class VersionOut(BaseModel):
    dataset: str
    version: int
    items: int
    sha256: str
    source: str
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, v: EvalDatasetVersion) -> VersionOut:
        return cls(dataset=v.dataset_id, version=v.number, items=v.items, sha256=v.sha256,
                   source=v.source, created_at=v.created_at, created_by=v.created_by)  # fmt: skip


class DatasetOut(BaseModel):
    name: str
    description: str
    latest: int
    items: int
    updated_at: datetime
    versions: list[VersionOut] | None = None


def _dataset(d: EvalDataset, versions: list[EvalDatasetVersion] | None = None) -> DatasetOut:
    return DatasetOut(
        name=d.name,
        description=d.description,
        latest=d.latest,
        items=d.items,
        updated_at=d.updated_at,
        versions=None if versions is None else [VersionOut.of(v) for v in versions],
    )


@router.post("/datasets/{name}/upload", status_code=201, response_model=VersionOut,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/x-ndjson": {"schema": {"type": "string"}},
                 "text/csv": {"schema": {"type": "string"}}}}})  # fmt: skip
async def upload_dataset(
    name: Name, request: Request, who: Writer, store: Store,
    format: Annotated[Literal["jsonl", "csv"] | None, Query(
        description="default: from Content-Type (text/csv is CSV, anything else JSONL)")] = None,
    description: Annotated[str | None, Query(max_length=2000)] = None,
) -> VersionOut:  # fmt: skip
    """A new immutable version of dataset NAME from a JSONL (one item a line: id, input,
    expected, metadata) or CSV (a header; `id`, `expected`, `metadata.*`, the rest input)
    body. Up to 64 MiB."""
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_UPLOAD:
            raise ValidationFailed(f"the upload exceeds {MAX_UPLOAD} bytes")
        parts.append(part)
    kind = format or ("csv" if "csv" in request.headers.get("content-type", "") else "jsonl")
    items = datasets.parse(b"".join(parts), kind, f"the {kind.upper()} upload")
    saved = await run_in_threadpool(
        datasets.save_version, store.records, store.blobs, who.tenant_id, name, items,
        source=f"upload:{kind}", actor=who.actor, description=description,
    )  # fmt: skip
    return VersionOut.of(saved)


class FromGateway(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: str | None = Field(default=None, max_length=200)
    since: datetime | None = None
    until: datetime | None = None
    min_score: Annotated[float, Field(ge=0, le=1), Number] | None = None
    max_score: Annotated[float, Field(ge=0, le=1), Number] | None = None
    limit: JsonInt = Field(default=1000, ge=1, le=100_000)


@router.post("/datasets/{name}/from-gateway", status_code=201, response_model=VersionOut)
def dataset_from_gateway(name: Name, body: FromGateway, who: Writer, store: Store) -> VersionOut:
    """A new version of NAME from gateway requests online evaluation sampled (filtered by
    resource, time and mean score), so production cases become regression tests."""
    items = datasets.from_samples(store.records, who.tenant_id, **body.model_dump())
    source = f"gateway:{body.resource or '*'}"
    return VersionOut.of(datasets.save_version(store.records, store.blobs, who.tenant_id, name,
                                               items, source=source, actor=who.actor))  # fmt: skip


@router.get("/datasets", response_model=PageOut[DatasetOut])
def list_datasets(
    who: Reader, store: Store, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[DatasetOut]:  # fmt: skip
    page = store.records.list(EvalDataset, who.tenant_id, cursor=cursor or None, limit=limit)
    return PageOut(items=[_dataset(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/datasets/{name}", response_model=DatasetOut)
def get_dataset(name: Name, who: Reader, store: Store) -> DatasetOut:
    found = store.records.get(EvalDataset, who.tenant_id, name)
    if found is None:
        raise NotFound(f"no dataset {name!r}")
    versions = store.records.list(EvalDatasetVersion, who.tenant_id, parent=name, limit=200,
                                  newest_first=True).items  # fmt: skip
    return _dataset(found, versions)


class ItemOut(BaseModel):
    id: str
    input: dict[str, Any]
    expected: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ItemsOut(BaseModel):
    items: list[ItemOut]
    total: int
    offset: int


@router.get("/datasets/{name}/versions/{version}/items", response_model=ItemsOut)
def dataset_items(
    name: Name, version: Annotated[int, Path(ge=1)], who: Reader, store: Store,
    offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ItemsOut:  # fmt: skip
    found = datasets.get_version(store.records, who.tenant_id, name, version)
    items = datasets.read_items(store.blobs, found)
    return ItemsOut(items=[ItemOut(**i.model_dump()) for i in items[offset : offset + limit]],
                    total=len(items), offset=offset)  # fmt: skip


# ---------------------------------------------------------------------------- runs
class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    suite: Suite = Field(description="A suite as in a suite file; its `dataset` is the name of "
                         "a dataset uploaded here.")  # fmt: skip
    dataset_version: int | None = Field(default=None, ge=1, description="default: the latest")
    baseline_run_id: str | None = Field(default=None, max_length=64)
    concurrency: int = Field(default=8, ge=1, le=512)


class RunOut(BaseModel):
    id: str
    status: EvalRunStatus
    suite_name: str
    model: str
    dataset: str
    dataset_version: int
    baseline_run_id: str | None
    reason: str | None
    gate_held: bool | None
    gate: str
    summary: dict[str, Any] | None
    comparison: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None
    links: dict[str, str]

    @classmethod
    def of(cls, r: EvalRun) -> RunOut:
        base = f"/v1/evals/runs/{r.id}"
        links = {"self": base, "events": f"{base}/events", "items": f"{base}/items"}
        if r.results_prefix:
            links.update({name.split(".")[0]: f"{base}/files/{name}" for name in FILES})
        return cls(
            id=r.id, status=r.status, suite_name=r.suite_name,
            model=str(r.suite.get("target", {}).get("model", "")), dataset=r.dataset_id,
            dataset_version=r.dataset_version, baseline_run_id=r.baseline_run_id, reason=r.reason,
            gate_held=r.gate_held, gate=r.gate, summary=r.summary, comparison=r.comparison,
            created_at=r.created_at, finished_at=r.finished_at, links=links,
        )  # fmt: skip


def _start_remote(store: Ports, record: EvalRun) -> EvalRun:
    """aws profile: a Step Functions execution of statemachines/eval-run.asl.json."""
    payload = execution_input(store.records, store.blobs, record, store.settings.artifacts_bucket)
    arn = store.eval_launcher.start(record.id, payload)
    return store.records.update(record.evolve(execution_arn=arn))


@router.post("/runs", status_code=202, response_model=RunOut)
def submit_run(
    body: RunIn, who: Writer, store: Store, request: Request, response: Response
) -> RunOut:
    """Queue a run of a suite over a dataset version. Everything is checked first (the
    suite, the items against its placeholders, the models, the baseline): a wrong run is
    refused with the reason and nothing queued."""
    from assay.gateway.errors import GatewayError

    suite = body.suite
    version = datasets.get_version(store.records, who.tenant_id, suite.dataset,
                                   body.dataset_version)  # fmt: skip
    check_items(suite, datasets.read_items(store.blobs, version))
    catalog = request.app.state.gateway.catalog
    for model in suite.models():
        try:
            catalog.resolve(who.tenant_id, model)
        except GatewayError as exc:
            raise ValidationFailed(f"{model}: {exc.message}",
                                   fix="create the gateway resource first") from None  # fmt: skip
    if body.baseline_run_id:
        baseline = store.records.get(EvalRun, who.tenant_id, body.baseline_run_id)
        if baseline is None or baseline.status is not EvalRunStatus.SUCCEEDED:
            raise ValidationFailed(f"the baseline {body.baseline_run_id} is not a finished run")
    record = store.records.create(EvalRun(
        tenant_id=who.tenant_id, suite_name=suite.name,
        suite=suite.model_dump(mode="json", by_alias=True, exclude={"dataset"}),
        dataset_id=suite.dataset, dataset_version=version.number,
        baseline_run_id=body.baseline_run_id, concurrency=body.concurrency, created_by=who.actor,
    ))  # fmt: skip
    if store.eval_launcher.remote:
        record = _start_remote(store, record)
    response.headers["Location"] = f"/v1/evals/runs/{record.id}"
    return RunOut.of(record)


def _run(store: Ports, who: Principal, run_id: str) -> EvalRun:
    found = store.records.get(EvalRun, who.tenant_id, run_id)
    if found is None:
        raise NotFound(f"no run {run_id}")
    return found


@router.get("/runs", response_model=PageOut[RunOut])
def list_runs(
    who: Reader, store: Store, cursor: str | None = None,
    status: EvalRunStatus | None = None, suite: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PageOut[RunOut]:  # fmt: skip
    where = {k: v for k, v in (("status", status.value if status else None),
                               ("suite_name", suite)) if v}  # fmt: skip
    page = store.records.list(EvalRun, who.tenant_id, where=where or None, cursor=cursor or None,
                              limit=limit, newest_first=True)  # fmt: skip
    return PageOut(items=[RunOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: str, who: Reader, store: Store) -> RunOut:
    return RunOut.of(_run(store, who, run_id))


class RunItemsOut(BaseModel):
    items: list[ItemResult]
    total: int
    offset: int
    score_histogram: dict[str, list[int]] = Field(
        description="per evaluator, how many items scored in each tenth of [0, 1]"
    )


@router.get("/runs/{run_id}/items", response_model=RunItemsOut)
def run_items(
    run_id: str, who: Reader, store: Store, offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, failing_first: bool = True,
) -> RunItemsOut:  # fmt: skip
    results = read_run_results(store.blobs, _run(store, who, run_id))
    items = sorted(results.items, key=lambda r: r.passed) if failing_first else results.items
    histogram: dict[str, list[int]] = {}
    for result in results.items:
        for score in result.scores:
            bins = histogram.setdefault(score.name, [0] * 10)
            bins[min(9, int(score.score * 10))] += 1
    return RunItemsOut(items=items[offset : offset + limit], total=len(items), offset=offset,
                       score_histogram=histogram)  # fmt: skip


@router.get("/runs/{run_id}/files/{file}", response_class=Response,
            responses={200: {"content": {"application/json": {}, "application/xml": {},
                                         "text/markdown": {}}}})  # fmt: skip
def run_file(run_id: str, file: Literal["results.json", "junit.xml", "summary.md"], who: Reader,
             store: Store) -> Response:  # fmt: skip
    found = _run(store, who, run_id)
    if found.results_prefix is None:
        raise NotFound(f"run {run_id} has no results yet")
    kind = {"json": "application/json", "xml": "application/xml", "md": "text/markdown"}
    return Response(store.blobs.get(f"{found.results_prefix}/{file}"),
                    media_type=kind[file.rsplit(".", 1)[1]])  # fmt: skip


@router.get("/runs/{run_id}/compare/{baseline_id}", response_model=Comparison)
def compare_runs(run_id: str, baseline_id: str, who: Reader, store: Store) -> Comparison:
    """Per-item regressions and improvements, and whether the change is more than noise."""
    now = read_run_results(store.blobs, _run(store, who, run_id))
    before = read_run_results(store.blobs, _run(store, who, baseline_id))
    return compare(now, before, baseline_id)


def _new_events(store: Ports, record: EvalRun, after: int) -> tuple[list[AnalysisEvent], bool]:
    page = store.records.list(AnalysisEvent, record.tenant_id, parent=record.id, limit=500,
                              id_range=(event_id(after + 1), event_id(10**12 - 1)))  # fmt: skip
    current = store.records.get(EvalRun, record.tenant_id, record.id)
    return page.items, current is None or current.status.finished


async def _follow(store: Ports, record: EvalRun, after: int) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        found, finished = await run_in_threadpool(_new_events, store, record, after)
        for event in found:
            after, last_sent = event.seq, time.monotonic()
            yield format_event(event)
        if finished and not found:
            yield "event: end\ndata: {}\n\n"
            return
        if time.monotonic() - last_sent >= KEEPALIVE_S:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        if not found:
            await asyncio.sleep(POLL_S)


@router.get("/runs/{run_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})  # fmt: skip
def run_events(
    run_id: str, who: Reader, store: Store,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> StreamingResponse:  # fmt: skip
    """The run's progress as Server-Sent Events (started, progress, finished or failed),
    resumable with Last-Event-ID (or ?after=)."""
    record = _run(store, who, run_id)
    start = after if after is not None else _int(last_event_id)
    return StreamingResponse(
        _follow(store, record, start), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )  # fmt: skip


# ---------------------------------------------------------------------------- judges
class JudgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str = Field(min_length=1, max_length=200)
    evaluators: list[OnlineEvaluator] = Field(min_length=1, max_length=20)
    threshold: float = Field(default=1.0, ge=0, le=1,
                             description="share of evaluators that must pass")  # fmt: skip


class JudgeOut(BaseModel):
    name: str
    model: str
    evaluators: list[OnlineEvaluator]
    threshold: float
    endpoint: str
    updated_at: datetime

    @classmethod
    def of(cls, j: EvalJudge) -> JudgeOut:
        return cls(
            name=j.name,
            model=j.model,
            evaluators=j.evaluators,
            threshold=j.threshold,
            endpoint=f"/v1/judges/{j.name}/chat/completions",
            updated_at=j.updated_at,
        )


@router.put("/judges/{name}", response_model=JudgeOut)
def put_judge(name: Name, body: JudgeIn, who: Writer, store: Store) -> JudgeOut:
    """Create or replace judge NAME: its target model's completions come back with its
    evaluators' results from `POST /v1/judges/NAME/chat/completions`."""
    evaluators = [e.model_dump(mode="json", by_alias=True) for e in body.evaluators]
    fields = {"model": body.model, "threshold": body.threshold, "evaluators": evaluators}
    current = store.records.get(EvalJudge, who.tenant_id, name)
    if current is None:
        saved = store.records.create(EvalJudge(id=name, tenant_id=who.tenant_id, name=name,
                                               **fields))  # fmt: skip
    else:
        saved = store.records.update(current.evolve(**fields))
    return JudgeOut.of(saved)


@router.get("/judges", response_model=PageOut[JudgeOut])
def list_judges(who: Reader, store: Store, cursor: str | None = None) -> PageOut[JudgeOut]:
    page = store.records.list(EvalJudge, who.tenant_id, cursor=cursor or None, limit=200)
    return PageOut(items=[JudgeOut.of(j) for j in page.items], next_cursor=page.next_cursor)


@router.get("/judges/{name}", response_model=JudgeOut)
def get_judge(name: Name, who: Reader, store: Store) -> JudgeOut:
    found = store.records.get(EvalJudge, who.tenant_id, name)
    if found is None:
        raise NotFound(f"no judge {name!r}")
    return JudgeOut.of(found)


# ---------------------------------------------------------------------------- online scores
class ScoreTrend(BaseModel):
    resource: str
    bucket_start: datetime
    samples: int
    passed: int
    mean_scores: dict[str, float]


@router.get("/scores", response_model=list[ScoreTrend])
def score_trends(
    who: Reader, store: Store, resource: str | None = None,
    bucket: Literal["hour", "day"] = "hour", limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
) -> list[ScoreTrend]:  # fmt: skip
    """Online evaluation's scores per resource and hour (or day): samples, passes and the
    mean of each evaluator, from the newest `limit` samples."""
    where = {"resource": resource} if resource else None
    samples: list[EvalSample] = []
    cursor = None
    while len(samples) < limit:
        wanted = min(limit - len(samples), 1000)
        page = store.records.list(EvalSample, who.tenant_id, where=where, cursor=cursor,
                                  limit=wanted, newest_first=True)  # fmt: skip
        samples += page.items
        if (cursor := page.next_cursor) is None:
            break
    groups: dict[tuple[str, datetime], list[EvalSample]] = {}
    for sample in samples:
        start = sample.at.replace(minute=0, second=0, microsecond=0)
        if bucket == "day":
            start = start.replace(hour=0)
        groups.setdefault((sample.resource, start), []).append(sample)
    trends = []
    for (name, start), found in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        names = sorted({k for s in found for k in s.scores})
        means = {
            n: round(
                sum(s.scores[n] for s in found if n in s.scores)
                / max(1, sum(n in s.scores for s in found)),
                4,
            )
            for n in names
        }
        trends.append(
            ScoreTrend(
                resource=name,
                bucket_start=start,
                samples=len(found),
                passed=sum(bool(s.passed) for s in found),
                mean_scores=means,
            )
        )
    return trends
