#!/usr/bin/env python3
"""The CDK app: composes Assay's stacks. `make synth` runs it offline (no account, no Docker)."""

from __future__ import annotations

from stacks.assay_app import AssayStacks, new_app

app = new_app()
AssayStacks(app)
app.synth()
