"""Compose Assay's stacks into a CDK app (used by app.py and by the infrastructure tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from stacks import nag
from stacks.api_stack import ApiStack
from stacks.auth_stack import AuthStack
from stacks.console_stack import ConsoleStack
from stacks.data_stack import DataStack
from stacks.observability_stack import ObservabilityStack
from stacks.sandbox_stack import SandboxStack
from stacks.workflow_stack import WorkflowStack

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_context() -> dict[str, Any]:
    """cdk.json's context (feature flags). The `cdk` CLI passes it itself; `python app.py` and
    tests do not, so they read it here to synthesize the very same templates."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


class AssayStacks:
    def __init__(self, app: cdk.App) -> None:
        self.data = DataStack(
            app,
            "AssayData",
            description="Assay: records table, artifacts, keys, network and cache",
        )
        self.auth = AuthStack(
            app, "AssayAuth", description="Assay: Cognito users, groups and optional SAML"
        )
        self.sandbox = SandboxStack(
            app,
            "AssaySandbox",
            data=self.data,
            description="Assay: Fargate sandboxes for generated tests",
        )
        self.workflow = WorkflowStack(
            app, "AssayWorkflow", data=self.data, sandbox=self.sandbox,
            description="Assay: the analysis state machine and its step functions",
        )  # fmt: skip
        self.api = ApiStack(
            app, "AssayApi", data=self.data, workflow=self.workflow, oidc=self.auth.oidc_settings(),
            description="Assay: the HTTPS API and the LLM gateway (API Gateway, Lambda)",
        )  # fmt: skip
        self.console = ConsoleStack(
            app, "AssayConsole", data=self.data, api=self.api.api, auth=self.auth,
            description="Assay: the console's files and the API behind one CloudFront host",
        )  # fmt: skip
        self.observability = ObservabilityStack(
            app,
            "AssayObservability",
            api=self.api.api,
            functions={
                "Api": self.api.api_function,
                "ApiStream": self.api.stream_function,
                "Gateway": self.api.gateway_function,
            },
            steps={f"{step}Step": f for step, f in self.workflow.functions.items()},
            state_machine=self.workflow.state_machine,
            queue=self.workflow.analysis_queue,
            description="Assay: dashboard and alarms",
        )
        cdk.Tags.of(app).add("app", "assay")
        # Every AwsSolutions finding must be fixed or acknowledged with a reason; synthesis fails
        # otherwise (tests/infra checks both).
        nag.check(app)


def new_app(*, context: dict[str, Any] | None = None, **kwargs: Any) -> cdk.App:
    return cdk.App(context={**cdk_context(), **(context or {})}, **kwargs)
