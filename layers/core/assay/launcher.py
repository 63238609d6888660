"""Who runs a submitted analysis.

Locally the server's worker claims queued records, so submitting only queues (`QueuedLauncher`).
In AWS a submission waits in a queue (`SqsLauncher`) until the dispatcher admits it; then it is
one Step Functions execution of `statemachines/analysis.asl.json`,
named after the analysis: starting it again with the same input is a no-op, so a retried
submission (Idempotency-Key) never runs an analysis twice.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from assay.errors import AssayError
from assay.records import Analysis


class LaunchFailed(AssayError):
    status = 503
    code = "launch_failed"


class Launcher(ABC):
    @abstractmethod
    def start(self, analysis: Analysis) -> None: ...


class QueuedLauncher(Launcher):
    def start(self, analysis: Analysis) -> None:
        """The worker polls for queued analyses: nothing to do."""


class StepFunctionsLauncher(Launcher):
    def __init__(self, state_machine_arn: str, client: Any) -> None:
        self._arn = state_machine_arn
        self._client = client

    def start(self, analysis: Analysis) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        payload = {"tenant_id": analysis.tenant_id, "analysis_id": analysis.id}
        try:
            self._client.start_execution(
                stateMachineArn=self._arn, name=analysis.id, input=json.dumps(payload)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return  # the same analysis, already started (a repeated submission)
            raise LaunchFailed(f"Step Functions refused the analysis: {exc}") from None
        except BotoCoreError as exc:
            raise LaunchFailed(f"Step Functions is unreachable: {exc}") from None


class SqsLauncher(Launcher):
    """Queue the analysis for the dispatcher (`assay.analysis.admission`), which starts it
    when a slot is free overall and for its tenant."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self._url = queue_url
        self._client = client

    def start(self, analysis: Analysis) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        body = json.dumps({"tenant_id": analysis.tenant_id, "analysis_id": analysis.id})
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=body)
        except (ClientError, BotoCoreError) as exc:
            raise LaunchFailed(f"the analysis queue refused the analysis: {exc}") from None


class EvalLauncher:
    """Who runs a submitted eval run: None locally (the server's eval worker claims queued
    runs), or a Step Functions execution of `statemachines/eval-run.asl.json`, named after
    the run (so a repeated start is a no-op)."""

    def __init__(self, state_machine_arn: str | None, client: Any = None) -> None:
        self._arn = state_machine_arn
        self._client = client

    @property
    def remote(self) -> bool:
        return self._arn is not None

    def start(self, run_id: str, payload: dict[str, Any]) -> str | None:
        """The execution's ARN (None: queued for the local worker)."""
        if self._arn is None:
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            started = self._client.start_execution(
                stateMachineArn=self._arn, name=run_id, input=json.dumps(payload)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return f"{self._arn.replace(':stateMachine:', ':execution:')}:{run_id}"
            raise LaunchFailed(f"Step Functions refused the eval run: {exc}") from None
        except BotoCoreError as exc:
            raise LaunchFailed(f"Step Functions is unreachable: {exc}") from None
        return str(started["executionArn"])
