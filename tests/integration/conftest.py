"""Analyses share one Assay home per session so project environments are built once."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"

# Building a project environment installs packages: the registry proxy (a thread of this
# process) may reach the package hosts, and nothing else beyond loopback.
REGISTRY = pytest.mark.allow_hosts(
    ["127.0.0.1", "::1", "localhost", "pypi.org", "files.pythonhosted.org"]
)


@pytest.fixture(scope="session")
def assay_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("assay-home")


from tests.support.gateway_server import served  # noqa: E402, F401 - a fixture for gateway tests
