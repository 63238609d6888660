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
