"""The local worker of eval runs (`assay serve`): claims queued runs one at a time (an
optimistic update from queued to running, so two workers never run the same one) and executes
each through this server's gateway, as the run's submitter. A run left running by a server that
stopped is failed with the reason on start: its items would be sent again, at a cost, so a
person decides to resubmit it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from assay import tenancy
from assay.clock import utcnow
from assay.config import Settings
from assay.errors import AssayError, StaleWrite
from assay.evals.execution import execute
from assay.observability import logger
from assay.records import EvalRun, EvalRunStatus
from assay.wiring import Ports

INTERRUPTED = "the server stopped while this run ran; submit it again"


class EvalWorker:
    def __init__(self, settings: Settings, ports: Ports, *, poll_s: float = 0.5,
                 code_scorer: Callable[..., Any] | None = None) -> None:  # fmt: skip
        self._settings = settings
        self._ports = ports
        self._poll_s = poll_s
        self._code_scorer = code_scorer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="assay-eval-worker", daemon=True)
        self._gateway: Any = None

    def start(self) -> None:
        self.recover()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _runs(self, status: EvalRunStatus) -> list[EvalRun]:
        found: list[EvalRun] = []
        for tenant in tenancy.every_tenant(self._ports.records):
            page = self._ports.records.list(EvalRun, tenant.id, where={"status": status.value},
                                            limit=20)  # fmt: skip
            found += page.items
        return sorted(found, key=lambda r: r.id)

    def recover(self) -> None:
        for stale in self._runs(EvalRunStatus.RUNNING):
            try:
                self._ports.records.update(
                    stale.evolve(
                        status=EvalRunStatus.FAILED, reason=INTERRUPTED, finished_at=utcnow()
                    )
                )
            except StaleWrite:
                continue

    def claim(self) -> EvalRun | None:
        for queued in self._runs(EvalRunStatus.QUEUED):
            try:
                return self._ports.records.update(queued.evolve(status=EvalRunStatus.RUNNING))
            except StaleWrite:
                continue
        return None

    def run_one(self) -> EvalRun | None:
        """Claim and execute one queued run; the run as it ended, or None when none waited."""
        from assay.evals.target import InProcessGateway
        from assay.gateway.service import Caller
        from assay.gateway.wiring import build_gateway

        claimed = self.claim()
        if claimed is None:
            return None
        try:
            if self._gateway is None:  # one for the worker's life: its usage writer is a thread
                self._gateway = build_gateway(self._ports)
            gateway = self._gateway
            caller = Caller(tenant_id=claimed.tenant_id, actor=claimed.created_by or "eval-worker")
            return execute(
                self._ports.records,
                self._ports.blobs,
                self._ports.signer,
                claimed,
                InProcessGateway(gateway, caller),
                code_scorer=self._code_scorer,
            )
        except Exception as exc:
            reason = exc.message if isinstance(exc, AssayError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, AssayError):
                logger.exception("eval run failed", extra={"run_id": claimed.id})
            current = self._ports.records.get(EvalRun, claimed.tenant_id, claimed.id) or claimed
            return self._ports.records.update(
                current.evolve(
                    status=EvalRunStatus.FAILED, reason=reason[:2000], finished_at=utcnow()
                )
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_one() is None:
                    self._stop.wait(self._poll_s)
            except Exception:  # the worker itself must not die
                logger.exception("eval worker: unexpected error")
                self._stop.wait(self._poll_s)


def sandboxed_scorer(settings: Settings) -> Callable[..., Any]:
    """Code evaluators of API runs, in this machine's sandbox, one job per batch; their code
    is inline in the suite (an API run has no suite folder to read files from)."""

    def score(evaluator: Any, cases: Any) -> Any:
        from assay.evals import code_evaluator
        from assay.wiring import make_sandbox

        if evaluator.code is None:
            raise ValueError("an API run's python evaluator must hold its code inline")
        found = [(o, i.model_dump(mode="json")) for o, i in cases]
        return code_evaluator.score_batch(make_sandbox(settings), evaluator, evaluator.code, found)

    return score
