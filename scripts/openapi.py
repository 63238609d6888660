#!/usr/bin/env python3
"""Write the API's OpenAPI document to openapi.json (`make openapi`); a test keeps it current."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from assay.api import create_app
from assay.config import load_settings
from assay.wiring import build_ports

TARGET = Path(__file__).resolve().parent.parent / "openapi.json"


def document() -> str:
    with tempfile.TemporaryDirectory() as home:
        ports = build_ports(load_settings(home=Path(home)))
        try:
            spec = create_app(ports).openapi()
        finally:
            ports.close()
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    TARGET.write_text(document())
    sys.stdout.write(f"wrote {TARGET.name}\n")
