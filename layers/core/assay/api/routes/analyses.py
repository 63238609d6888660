"""Analyses: submit (git URL or archive), list, read, cancel; report, output files, bundle
and evidence verification."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from assay.analysis import outputs
from assay.analysis.outputs import OutputFile
from assay.analysis.uploads import ARTIFACT_PREFIX, source_key
from assay.api.auth import Principal, ports, require
from assay.api.models import AnalysisIn, AnalysisOut, Engine, Moment, PageOut
from assay.api.routes.workspaces import check_workspace
from assay.clock import id_bounds, new_id
from assay.errors import AssayError, NotFound, StaleWrite
from assay.evidence import Verdict, verify_dir
from assay.intake import archives
from assay.intake.credentials import split_credentials
from assay.launcher import LaunchFailed
from assay.records import Analysis, AnalysisStatus, Scope
from assay.wiring import Ports

router = APIRouter(prefix="/v1/analyses", tags=["analyses"])
MAX_PAGE = 200
MAX_ARCHIVE_BYTES = 100 * 1024 * 1024
ARCHIVE_TYPES = {"application/gzip", "application/x-gzip", "application/x-tar", "application/zip",
                 "application/octet-stream"}  # fmt: skip

Reader = Annotated[Principal, Depends(require(Scope.ANALYSES_READ))]
Writer = Annotated[Principal, Depends(require(Scope.ANALYSES_WRITE))]
Store = Annotated[Ports, Depends(ports)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]


class PayloadTooLarge(AssayError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AssayError):
    status = 415
    code = "unsupported_media_type"


class NotReady(AssayError):
    status = 409
    code = "not_ready"


def _launch(store: Ports, record: Analysis) -> Analysis:
    """Start it (AWS) or leave it queued for the worker (local). One that cannot be started
    is marked failed with the reason, so no record waits forever."""
    try:
        store.launcher.start(record)
    except LaunchFailed as exc:
        with contextlib.suppress(StaleWrite):
            store.records.update(record.evolve(status=AnalysisStatus.FAILED, reason=exc.message))
        raise
    return record


def _accepted(response: Response, record: Analysis) -> AnalysisOut:
    response.status_code = 202
    response.headers["Location"] = f"/v1/analyses/{record.id}"
    return AnalysisOut.of(record)


@router.post("", name="submit_analysis", response_model=AnalysisOut, status_code=202)
def submit_analysis(
    body: AnalysisIn, caller: Writer, store: Store, response: Response,
    idempotency_key: IdempotencyKey = None,
) -> AnalysisOut:  # fmt: skip
    """Queue an analysis of a git repository. A repeated Idempotency-Key returns the first."""
    check_workspace(store, caller.tenant_id, body.workspace_id)
    source, credential = split_credentials(body.source)  # stored and shown without them
    sealed = (
        None if credential is None
        else store.vault.seal(caller.tenant_id, credential.get_secret_value().encode())
    )  # fmt: skip
    record = store.records.create(
        Analysis(
            tenant_id=caller.tenant_id, workspace_id=body.workspace_id, source=source,
            ref=body.ref, engine=body.engine, model=body.model, budget_s=body.budget_s,
            mutation=body.mutation, created_by=caller.actor, sealed_credentials=sealed,
        ),
        idempotency_key=idempotency_key,
    )  # fmt: skip
    if record.status is AnalysisStatus.QUEUED:
        _launch(store, record)
    return _accepted(response, record)


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_ARCHIVE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A .tar.gz, .tar or .zip archive of the project, at most 100 MB. Its "
        "format is read from its first bytes, so application/octet-stream is as good as the "
        "others; a body that is no such archive is refused (415).",
        "content": {
            "application/gzip": _BINARY,
            "application/zip": _BINARY,
            "application/octet-stream": _BINARY,
        },
    }
}


def _check_archive(head: bytes) -> None:
    if not head:
        raise UnsupportedMediaType("the body is empty: send a .tar.gz, .tar or .zip archive")
    if archives.sniff(head) is None:
        raise UnsupportedMediaType(
            "the body is not a gzip, tar or zip archive (its first bytes match none of them)"
        )


@router.post(
    "/archive",
    name="submit_archive",
    response_model=AnalysisOut,
    status_code=202,
    openapi_extra=_ARCHIVE_BODY,
)
async def submit_archive(
    request: Request, caller: Writer, store: Store, response: Response,
    engine: Engine = "auto", model: Annotated[str | None, Query(max_length=200)] = None,
    budget_s: Annotated[int, Query(ge=10, le=24 * 3600)] = 600,
    mutation: bool = False,
    workspace_id: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = "default",
    name: Annotated[str | None, Query(
        max_length=200, description="What to call it in listings: the directory's or archive's "
        "name (the CLI sends it)")] = None,
) -> AnalysisOut:  # fmt: skip
    """Queue an analysis of an uploaded .tar.gz or .zip (the request body, at most 100 MB)."""
    check_workspace(store, caller.tenant_id, workspace_id)
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type not in ARCHIVE_TYPES:
        raise UnsupportedMediaType(
            "send the archive as application/gzip, application/zip or application/octet-stream,"
            f" not {content_type!r}"
        )
    data, sniffed = bytearray(), False
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_ARCHIVE_BYTES:
            raise PayloadTooLarge(f"the archive is larger than {MAX_ARCHIVE_BYTES} bytes")
        if (
            not sniffed and len(data) >= archives.SNIFF_BYTES
        ):  # refuse junk before reading all of it
            _check_archive(bytes(data[: archives.SNIFF_BYTES]))
            sniffed = True
    if not sniffed:
        _check_archive(bytes(data))
    analysis_id = new_id()
    key = source_key(caller.tenant_id, analysis_id)
    store.blobs.put(key, bytes(data))
    record = store.records.create(
        Analysis(
            id=analysis_id, tenant_id=caller.tenant_id, source=ARTIFACT_PREFIX + key,
            source_name=name or None, workspace_id=workspace_id,
            engine=engine, model=model, budget_s=budget_s, mutation=mutation,
            created_by=caller.actor,
        )
    )  # fmt: skip
    return _accepted(response, _launch(store, record))


@router.get("", name="list_analyses", response_model=PageOut[AnalysisOut])
def list_analyses(
    caller: Reader,
    store: Store,
    status: AnalysisStatus | None = None,
    workspace_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    created_after: Annotated[Moment | None, Query(description="RFC 3339, inclusive")] = None,
    created_before: Annotated[Moment | None, Query(description="RFC 3339, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> PageOut[AnalysisOut]:
    """The caller's tenant's analyses, newest first, by status, workspace and creation time."""
    where = {"status": status.value} if status else {}
    if workspace_id:
        where["workspace_id"] = workspace_id
    page = store.records.list(
        Analysis,
        caller.tenant_id,
        where=where or None,
        limit=limit,
        cursor=cursor or None,
        newest_first=True,
        id_range=id_bounds(created_after, created_before),
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


def _finished(store: Ports, caller: Principal, analysis_id: str) -> Analysis:
    record = store.records.get(Analysis, caller.tenant_id, analysis_id)
    if record is None:
        raise NotFound(f"no analysis {analysis_id}")
    if not record.status.finished:
        raise NotReady(f"analysis {analysis_id} is {record.status.value}; no output yet")
    return record


@router.get("/{analysis_id}/report", name="get_report")
def get_report(analysis_id: str, caller: Reader, store: Store) -> dict[str, Any]:
    """The finished analysis's report.json."""
    _finished(store, caller, analysis_id)
    data = outputs.report(store.blobs, caller.tenant_id, analysis_id)
    if data is None:
        raise NotReady(f"analysis {analysis_id} finished without a report")
    report: dict[str, Any] = json.loads(data)
    return report


@router.get("/{analysis_id}/artifacts", name="list_artifacts", response_model=list[OutputFile])
def list_artifacts(analysis_id: str, caller: Reader, store: Store) -> list[OutputFile]:
    """Every file of the output: report, summary, kept tests, findings, candidates, evidence."""
    _finished(store, caller, analysis_id)
    return outputs.files(outputs.bundle(store.blobs, caller.tenant_id, analysis_id))


_TEXT = {"schema": {"type": "string"}}
_FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file: JSON as application/json, Markdown as text/markdown, any other"
        " UTF-8 text as text/plain, anything else as application/octet-stream.",
        "content": {
            "application/json": {"schema": {}},
            "text/markdown": _TEXT,
            "text/plain": _TEXT,
            "application/octet-stream": _BINARY,
        },
    }
}


def artifact_type(path: str, data: bytes) -> str:
    """An output file's media type, one of the four documented: from what the file holds and
    its suffix, not `mimetypes` (it reads the host's /etc/mime.types, so the same file could be
    served as types the document cannot know)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".json":
        try:
            json.loads(text)
        except ValueError:
            return "text/plain; charset=utf-8"
        return "application/json"
    if suffix == ".md":
        return "text/markdown; charset=utf-8"
    return "text/plain; charset=utf-8"


@router.get(
    "/{analysis_id}/artifacts/{path:path}",
    name="get_artifact",
    response_class=Response,
    responses=_FILE_RESPONSE,
)
def get_artifact(analysis_id: str, path: str, caller: Reader, store: Store) -> Response:
    """One output file, by its path in the listing."""
    _finished(store, caller, analysis_id)
    data = outputs.read_file(outputs.bundle(store.blobs, caller.tenant_id, analysis_id), path)
    # Served as a download and never sniffed: generated files are data, not pages.
    return Response(data, media_type=artifact_type(path, data), headers={
        "Content-Disposition": f'attachment; filename="{PurePosixPath(path).name}"',
        "X-Content-Type-Options": "nosniff"})  # fmt: skip


@router.get(
    "/{analysis_id}/bundle",
    name="get_bundle",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {"schema": {"type": "string",
                                                                 "format": "binary"}}}}},
)  # fmt: skip
def get_bundle(analysis_id: str, caller: Reader, store: Store) -> Response:
    """The whole output as a .tar.gz: unpack it and run `assay verify` on it."""
    _finished(store, caller, analysis_id)
    data = outputs.bundle(store.blobs, caller.tenant_id, analysis_id)
    return Response(data, media_type="application/gzip", headers={
        "Content-Disposition": f'attachment; filename="assay-{analysis_id}.tar.gz"'})  # fmt: skip


@router.post("/{analysis_id}/verify", name="verify_evidence", response_model=Verdict)
def verify_evidence(analysis_id: str, caller: Reader, store: Store) -> Verdict:
    """Check the stored output's evidence: the hash chain, every artifact's digest, the report
    against the log, and the checkpoint's signature by this server's signing key."""
    _finished(store, caller, analysis_id)
    data = outputs.bundle(store.blobs, caller.tenant_id, analysis_id)
    with tempfile.TemporaryDirectory(prefix="assay-verify-") as scratch:
        outputs.unpack(data, Path(scratch))
        return verify_dir(Path(scratch), store.signer.public_key_pem())


@router.post("/{analysis_id}/cancel", name="cancel_analysis", response_model=AnalysisOut)
def cancel_analysis(analysis_id: str, caller: Writer, store: Store) -> AnalysisOut:
    """Cancel a queued or running analysis. A running one stops before its next step and
    still ends with a sealed report saying it was cancelled. Cancelling twice is harmless;
    a finished analysis cannot be cancelled (409)."""
    for _ in range(5):  # the worker may update the record meanwhile: re-read and retry
        record = store.records.get(Analysis, caller.tenant_id, analysis_id)
        if record is None:
            raise NotFound(f"no analysis {analysis_id}")
        if record.status is AnalysisStatus.CANCELLED:
            return AnalysisOut.of(record)
        if record.status.finished:
            raise NotReady(f"analysis {analysis_id} already {record.status.value}")
        try:
            cancelled = store.records.update(
                record.evolve(
                    status=AnalysisStatus.CANCELLED, reason=f"cancelled by {caller.actor}"
                )
            )
        except StaleWrite:
            continue
        return AnalysisOut.of(cancelled)
    raise StaleWrite(f"analysis {analysis_id} kept changing; try again")
