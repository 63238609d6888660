"""The API's Lambda handler answers API Gateway (HTTP API) events through Mangum."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "api" / "handler.py"


class Context:
    function_name = "assay-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:assay-api"
    aws_request_id = "req-1"


def _event(path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "api.example", **(headers or {})},
        "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "test"},
                           "requestId": "req-1", "stage": "$default"},
        "isBase64Encoded": False,
    }  # fmt: skip


@pytest.fixture
def handler_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Assay")
    spec = importlib.util.spec_from_file_location("assay_api_handler", HANDLER)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["assay_api_handler"] = module
    spec.loader.exec_module(module)
    return module


def test_health_through_mangum(handler_module: ModuleType, capsys) -> None:
    response = handler_module.handler(_event("/healthz"), Context())
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok", "checks": {}}
    emitted = capsys.readouterr().out
    assert "ColdStart" in emitted  # the cold-start metric, in CloudWatch's EMF format


def test_errors_are_problems_through_mangum(handler_module: ModuleType) -> None:
    response = handler_module.handler(_event("/v1/analyses"), Context())
    assert response["statusCode"] == 401
    assert response["headers"]["content-type"] == "application/problem+json"
