"""The local worker of `assay serve`: runs queued analyses, one at a time, in order.

It claims an analysis by moving it from queued to running with an optimistic update, so two
workers never run the same one. On start, analyses left running by a server that stopped are
queued again and resume from their last completed step (`run_analysis(resume=True)`); one
interrupted `MAX_ATTEMPTS` times is marked failed with the reason, so none stays "running"
forever and none loops forever.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from assay import tenancy
from assay.analysis import outputs
from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import run_analysis
from assay.analysis.uploads import local_target
from assay.config import Settings
from assay.engines import Engine
from assay.errors import AssayError, StaleWrite
from assay.intake import IntakePolicy
from assay.observability import logger
from assay.records import Analysis, AnalysisStatus, GatewayResource, Scope, Tenant
from assay.records.analyses import git_credential
from assay.store import SYSTEM_TENANT
from assay.tenancy.service import IssuedKey
from assay.wiring import Ports

MAX_ATTEMPTS = 3
RESUMING = "the server stopped while this analysis ran; it resumes from its last completed step"
INTERRUPTED = f"the server stopped while this analysis ran, {MAX_ATTEMPTS} times; submit it again"


class AnalysisWorker:
    def __init__(
        self, settings: Settings, ports: Ports, *, poll_s: float = 0.5,
        gateway_url: str | None = None,
    ) -> None:  # fmt: skip
        self._settings = settings
        self._ports = ports
        self._poll_s = poll_s
        # This server's own gateway: analyses whose model is one of their tenant's gateway
        # resources call it there, so its routing, limits, cache and usage apply to them.
        self._gateway_url = gateway_url
        self._gateway_keys: dict[str, IssuedKey] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="assay-worker", daemon=True)

    def start(self) -> None:
        self.recover()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for tenant_id, issued in self._gateway_keys.items():
            tenant = self._ports.records.get(Tenant, SYSTEM_TENANT, tenant_id)
            if tenant is not None:
                with contextlib.suppress(AssayError):
                    tenancy.revoke_key(self._ports.records, tenant, issued.record.id)

    def engine_for(self, analysis: Analysis) -> Engine:
        """Through this server's gateway when the model names a gateway resource of the
        analysis's tenant; otherwise as configured (ASSAY_MODEL, ASSAY_OPENAI_API_BASE)."""
        model = analysis.model
        routed = self._gateway_url and model and analysis.engine in {"auto", "llm"}
        if routed and self._ports.records.get(GatewayResource, analysis.tenant_id, model or ""):
            return self._ports.engine("llm", f"openai/{model}", api_base=f"{self._gateway_url}/v1",
                                      api_key=self._gateway_key(analysis.tenant_id))  # fmt: skip
        return self._ports.engine(analysis.engine, analysis.model)

    def _gateway_key(self, tenant_id: str) -> str:
        """One key per tenant and server run, scoped to gateway:invoke, revoked on stop."""
        issued = self._gateway_keys.get(tenant_id)
        if issued is None:
            tenant = tenancy.resolve_tenant(self._ports.records, tenant_id)
            issued = tenancy.issue_key(self._ports.records, tenant, "analysis-worker",
                                       [Scope.GATEWAY_INVOKE], actor="system")  # fmt: skip
            self._gateway_keys[tenant_id] = issued
        return issued.key

    def _with_status(self, status: AnalysisStatus, limit: int) -> list[Analysis]:
        found = []
        for tenant in tenancy.every_tenant(self._ports.records):
            page = self._ports.records.list(
                Analysis, tenant.id, where={"status": status.value}, limit=limit
            )
            found += page.items
        return sorted(found, key=lambda a: a.id)

    def recover(self) -> int:
        """Queue again (to resume) what a previous server left running, or fail what was
        interrupted too often; return how many were found."""
        stale = self._with_status(AnalysisStatus.RUNNING, 1000)
        for analysis in stale:
            attempts = analysis.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                change = {"status": AnalysisStatus.FAILED, "reason": INTERRUPTED}
            else:
                change = {"status": AnalysisStatus.QUEUED, "reason": RESUMING}
            try:
                self._ports.records.update(analysis.evolve(attempts=attempts, **change))
            except StaleWrite:
                continue
        return len(stale)

    def claim(self) -> Analysis | None:
        for analysis in self._with_status(AnalysisStatus.QUEUED, 10):
            try:
                return self._ports.records.update(analysis.evolve(status=AnalysisStatus.RUNNING))
            except StaleWrite:
                continue  # another worker took it
        return None

    def run_one(self) -> bool:
        analysis = self.claim()
        if analysis is None:
            return False
        try:
            self._run(analysis)
        except AssayError as exc:
            current = self._ports.records.get(Analysis, analysis.tenant_id, analysis.id)
            if current is not None and not current.status.finished:
                self._ports.records.update(
                    current.evolve(status=AnalysisStatus.FAILED, reason=exc.message)
                )
        return True

    def _run(self, analysis: Analysis) -> None:
        settings = self._settings
        work = settings.home / "uploads" / analysis.id
        target = local_target(self._ports.blobs, analysis, work)
        engine = self.engine_for(analysis)
        options = AnalysisOptions.for_record(settings, analysis, model=engine.model, target=target)
        out = settings.analyses_dir / analysis.id
        run_analysis(
            settings, options, records=self._ports.records,
            sandbox=self._ports.sandbox, engine=engine,
            signer=self._ports.signer, out=out, analysis=analysis,
            resume=analysis.attempts > 0,
            intake_policy=IntakePolicy(git_credential=git_credential(analysis, self._ports.vault)),
            publish=lambda done: outputs.publish(
                self._ports.blobs, analysis.tenant_id, analysis.id, done
            ),
        )  # fmt: skip
        _remove(work)
        _remove(out)  # the artifacts port holds it now

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_one()
            except Exception:  # the worker must outlive any one analysis
                logger.exception("the analysis worker hit an unexpected error")
                busy = False
            if not busy:
                self._stop.wait(self._poll_s)


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
