"""Settings is the only reader of the environment inside the library."""

from __future__ import annotations

import re
from pathlib import Path

LIBRARY = Path(__file__).parents[2] / "layers" / "core" / "assay"
# The sandbox runner is not library code: it runs inside a sandbox, under the target's own
# interpreter, and passes its environment on to the commands it starts.
EXEMPT = {"config.py", "assay_runner.py"}
READS_ENV = re.compile(r"os\.environ|os\.getenv|getenv\(|environ\[")


def test_only_config_reads_the_environment() -> None:
    offenders = [
        str(path.relative_to(LIBRARY))
        for path in sorted(LIBRARY.rglob("*.py"))
        if path.name not in EXEMPT and READS_ENV.search(path.read_text())
    ]
    assert offenders == []
