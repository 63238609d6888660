"""Analyses share one Assay home per session so project environments are built once."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"


@pytest.fixture(scope="session")
def assay_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("assay-home")
