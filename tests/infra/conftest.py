"""Synthesize once per session: jsii starts Node, which takes seconds."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")


class Synthesized:
    def __init__(self, outdir: Path) -> None:
        from aws_cdk.assertions import Template

        from stacks.assay_app import AssayStacks, new_app

        app = new_app(outdir=str(outdir))
        self.stacks = AssayStacks(app)
        assembly = app.synth()
        self.data_json: dict[str, Any] = assembly.get_stack_by_name("AssayData").template
        self.data = Template.from_json(self.data_json)
        self.report: dict[str, Any] = json.loads((outdir / "validation-report.json").read_text())


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return Synthesized(tmp_path_factory.mktemp("cdk.out"))
