"""Schemathesis against the app's own OpenAPI: no server error, no response off its schema."""

from __future__ import annotations

import io
import tarfile
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from assay.analysis import outputs
from assay.api import create_app
from assay.api.bootstrap import bootstrap
from assay.config import load_settings
from assay.evidence import EvidenceLog
from assay.records import Analysis, AnalysisStatus
from assay.wiring import Ports, build_ports, make_signer


@schemathesis.serializer("application/gzip", "application/zip")
def _binary(ctx: object, value: object) -> bytes:
    """Archive bodies: whatever bytes were generated (the server must refuse junk cleanly)."""
    return value if isinstance(value, bytes) else str(value).encode()


def _finished(ports: Ports, tenant_id: str) -> Analysis:
    """A succeeded analysis whose sealed output holds one file of each kind the API serves."""
    record = ports.records.create(Analysis(tenant_id=tenant_id, source="https://x/done.git"))
    out = ports.settings.home / "scratch-out"
    (out / "tests").mkdir(parents=True)
    (out / "tests" / "test_gen.py").write_text("def test_x():\n    assert 1\n")
    (out / "report.json").write_text('{"status": "succeeded"}')
    (out / "summary.md").write_text("# Summary\n")
    (out / "raw.bin").write_bytes(b"\xff\xfe\x00binary")
    log = EvidenceLog(out, record.id)
    log.append("select", {"kept": 1}, ["tests/test_gen.py"])
    log.seal(make_signer(ports.settings))
    outputs.publish(ports.blobs, tenant_id, record.id, out)
    return ports.records.update(record.evolve(status=AnalysisStatus.SUCCEEDED))


def _tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"def add(a, b):\n    return a + b\n"
        info = tarfile.TarInfo("calc.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


_PORTS = build_ports(load_settings(home=Path(tempfile.mkdtemp()), api_rate_limit=10**9))
_BOOT = bootstrap(_PORTS.records, None)
_KEY = _BOOT.new_key
_DONE = _finished(_PORTS, _BOOT.tenant.id)
# One of each type an output file is served as (the first four), then one that is not there.
_FILES = ("report.json", "summary.md", "tests/test_gen.py", "raw.bin", "missing.txt")
_ARCHIVE_UPLOAD = "POST /v1/analyses/archive"
# A dataset upload's schema says "a string", not "JSONL or CSV items": others are refused (400).
_DATASET_UPLOAD = "POST /v1/evals/datasets/{name}/upload"
# Evaluators carry constraints JSON Schema cannot state (distinct names, a regex that compiles,
# a JSON Schema that is one, exactly one of code and file): schema-valid ones may be refused.
_WITH_EVALUATORS = {"POST /v1/evals/runs", "PUT /v1/evals/judges/{name}"}


def _has_evaluators(case: schemathesis.Case[Any]) -> bool:
    body = case.body if isinstance(case.body, dict) else {}
    return case.operation.label in _WITH_EVALUATORS or bool(body.get("evaluation"))


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_PORTS))
CONFORMANCE = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


def _fresh_idempotency_key(case: schemathesis.Case[Any]) -> None:
    if case.headers and "Idempotency-Key" in case.headers:
        # Reusing a key with another body is a 422 by the Idempotency-Key draft (tested in
        # tests/unit/test_api.py); generated cases would reuse keys by accident.
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_honours_its_schema(case: schemathesis.Case[Any]) -> None:
    _fresh_idempotency_key(case)
    # Cursors are opaque tokens the server issues: a schema-valid string can still be one it
    # never issued, which it refuses with 400 by design. An archive's schema says "bytes", not
    # "a gzip, tar or zip archive": other bytes are refused with 415 by design, too.
    archive = case.operation.label in {_ARCHIVE_UPLOAD, _DATASET_UPLOAD} or _has_evaluators(case)
    excluded = [positive_data_acceptance] if archive or (case.query or {}).get("cursor") else []
    case.call_and_validate(headers={"Authorization": f"Bearer {_KEY}"}, excluded_checks=excluded)


_TURNS: Counter[str] = Counter()


def _aim(case: schemathesis.Case[Any]) -> None:
    """Every other case of an operation that names an analysis names the finished one, going
    through its files, so outputs are served and not only 404s; every other upload is a real
    archive into a workspace that exists, so it is accepted and not only refused. (A counter,
    not `@schema.given`: that would drop Schemathesis' coverage cases.)"""
    if case.method.upper() != case.operation.method.upper():
        return  # a probe of the methods it does not allow (405): nothing to aim
    turn = _TURNS[case.operation.label]
    _TURNS[case.operation.label] += 1
    if turn % 2:
        return
    params = case.path_parameters or {}
    if "analysis_id" in params:
        params["analysis_id"] = _DONE.id
        if "path" in params:
            params["path"] = _FILES[turn // 2 % len(_FILES)]
    if case.operation.label == _ARCHIVE_UPLOAD:
        case.body = _tarball()
        case.query = {**(case.query or {}), "workspace_id": "default"}


@schema.parametrize()
@settings(max_examples=6, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_every_operation_answers_the_types_and_statuses_it_documents(
    case: schemathesis.Case[Any],
) -> None:
    """Every operation, its errors included, with exactly these four checks (issue 16): the
    statuses, content types and bodies it answers are the ones the document names."""
    _fresh_idempotency_key(case)
    _aim(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {_KEY}"}, checks=CONFORMANCE)
