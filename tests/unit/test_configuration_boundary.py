"""Settings is the only reader of the environment inside the library."""

from __future__ import annotations

import re
from pathlib import Path

LIBRARY = Path(__file__).parents[2] / "layers" / "core" / "assay"
READS_ENV = re.compile(r"os\.environ|os\.getenv|getenv\(|environ\[")


def test_only_config_reads_the_environment() -> None:
    offenders = [
        str(path.relative_to(LIBRARY))
        for path in sorted(LIBRARY.rglob("*.py"))
        if path.name != "config.py" and READS_ENV.search(path.read_text())
    ]
    assert offenders == []
