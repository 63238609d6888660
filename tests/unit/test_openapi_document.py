"""The committed openapi.json is what the app serves (regenerate with `make openapi`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_json_is_current() -> None:
    spec = importlib.util.spec_from_file_location("openapi_script", ROOT / "scripts" / "openapi.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert json.loads(module.document()) == committed, "openapi.json is stale: run make openapi"
    operations = {op["operationId"] for path in committed["paths"].values() for op in path.values()}
    assert {"submit_analysis", "submit_archive", "stream_events", "get_report"} <= operations


def test_errors_are_documented_as_problem_json_and_archives_as_any_binary() -> None:
    committed = json.loads((ROOT / "openapi.json").read_text())
    for template, operations in committed["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status[0] in "45" and (template, status) != ("/readyz", "503"):
                    assert list(response["content"]) == ["application/problem+json"], (
                        f"{method.upper()} {template} documents {status} as "
                        f"{list(response['content'])}, but errors are problem+json"
                    )
    upload = committed["paths"]["/v1/analyses/archive"]["post"]["requestBody"]["content"]
    assert set(upload) == {"application/gzip", "application/zip", "application/octet-stream"}
    served = committed["paths"]["/v1/analyses/{analysis_id}/artifacts/{path}"]["get"]
    assert set(served["responses"]["200"]["content"]) == {
        "application/json",
        "text/markdown",
        "text/plain",
        "application/octet-stream",
    }
