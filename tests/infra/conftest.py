"""Synthesize once per session: jsii starts Node, which takes seconds."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")


class Synthesized:
    def __init__(self, outdir: Path, layer: Path) -> None:
        from aws_cdk.assertions import Template

        from stacks.assay_app import AssayStacks, new_app
        from stacks.lambdas import LAYER_CONTEXT

        app = new_app(outdir=str(outdir), context={LAYER_CONTEXT: str(layer)})
        self.stacks = AssayStacks(app)
        assembly = app.synth()
        self.data_json: dict[str, Any] = assembly.get_stack_by_name("AssayData").template
        self.data = Template.from_json(self.data_json)
        self.api_json: dict[str, Any] = assembly.get_stack_by_name("AssayApi").template
        self.api = Template.from_json(self.api_json)
        self.auth_json: dict[str, Any] = assembly.get_stack_by_name("AssayAuth").template
        self.console_json: dict[str, Any] = assembly.get_stack_by_name("AssayConsole").template
        self.workflow_json: dict[str, Any] = assembly.get_stack_by_name("AssayWorkflow").template
        self.sandbox_json: dict[str, Any] = assembly.get_stack_by_name("AssaySandbox").template
        self.observability_json: dict[str, Any] = assembly.get_stack_by_name(
            "AssayObservability"
        ).template
        self.report: dict[str, Any] = json.loads((outdir / "validation-report.json").read_text())
        self.outdir = outdir


@pytest.fixture(scope="session")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for build/layer (`make layer` installs a few hundred MB from PyPI): the
    templates do not depend on the layer's contents, only on its being there."""
    found = tmp_path_factory.mktemp("layer")
    (found / "python").mkdir()
    (found / "python" / "README").write_text("stand-in for the assay layer\n")
    return found


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, layer: Path) -> Synthesized:
    return Synthesized(tmp_path_factory.mktemp("cdk.out"), layer)
