"""The composition root's promise at run time: a process loads only the adapters it builds.

The import rules themselves are import-linter contracts (pyproject.toml, run by `make lint`);
these tests check what static rules cannot: what a cold Lambda actually imports."""

from __future__ import annotations

import json
import subprocess
import sys

LOCAL_ONLY = [
    "assay.analysis.pipeline",
    "assay.analysis.local_worker",
    "assay.sandbox.process",
    "assay.engines.llm",
    "assay.engines.offline",
    "assay.store.sqlite",
]


def _loaded_after(statement: str) -> set[str]:
    script = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_api_app_loads_neither_the_local_pipeline_nor_any_adapter() -> None:
    loaded = _loaded_after("from assay.api import create_app")
    assert loaded.isdisjoint(LOCAL_ONLY), sorted(loaded & set(LOCAL_ONLY))


def test_building_the_ports_lazily_loads_no_adapter_until_asked() -> None:
    loaded = _loaded_after(
        "from assay.config import load_settings\n"
        "from assay.wiring import build_ports\n"
        "import tempfile, pathlib\n"
        "build_ports(load_settings(home=pathlib.Path(tempfile.mkdtemp())), lazy=True)"
    )
    assert loaded.isdisjoint(LOCAL_ONLY), sorted(loaded & set(LOCAL_ONLY))
