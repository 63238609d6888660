"""Admission of analyses in AWS: at most so many running at once, and at most so many per
tenant, the rest waiting in a queue.

A submission queues a message (SQS). The dispatcher (`functions/queue/handler.py`, one at a
time: its Lambda's reserved concurrency is 1, so admissions never race) takes each message:
if a slot is free overall and for its tenant, it records the slot (`RunningAnalysis`) and
starts the execution; if not, the message goes back to the queue and comes again after its
visibility timeout. A tenant over its share waits without holding anyone else up, so no
tenant can starve the others; a full account waits with an alarm on the queue's age.

Slots are given back when an analysis finishes (the steps' Seal or RecordFailure). A slot
whose execution ended without that (aborted, timed out) is reaped when admission is short of
slots: its execution's status is asked for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel, Field, ValidationError

from assay.clock import utcnow
from assay.launcher import Launcher, LaunchFailed
from assay.observability import logger
from assay.records import Analysis, AnalysisStatus, RunningAnalysis
from assay.store import RecordStore
from assay.store.record import SYSTEM_TENANT

REAP_AFTER = timedelta(minutes=10)  # a younger slot is surely still starting


class AdmissionPolicy(BaseModel):
    max_running: int = Field(default=20, ge=1)  # the account's Fargate capacity, in analyses
    per_tenant: int = Field(default=5, ge=1)


class Verdict(BaseModel):
    admitted: bool
    reason: str


class Admission:
    def __init__(
        self,
        records: RecordStore,
        policy: AdmissionPolicy,
        *,
        ended: Callable[[str], bool],  # whether the named analysis's execution has ended
    ) -> None:
        self._records = records
        self._policy = policy
        self._ended = ended

    def _running(self) -> list[RunningAnalysis]:
        found: list[RunningAnalysis] = []
        cursor = None
        while True:
            page = self._records.list(RunningAnalysis, SYSTEM_TENANT, where={"state": "held"},
                                      cursor=cursor, limit=200)  # fmt: skip
            found += page.items
            if (cursor := page.next_cursor) is None:
                return found

    def admit(self, analysis: Analysis) -> Verdict:
        """Take a slot for `analysis` if one is free (idempotent: an admitted analysis keeps
        its slot)."""
        held = self._records.get(RunningAnalysis, SYSTEM_TENANT, analysis.id)
        if held is not None:  # a message delivered twice, or a start to retry
            return Verdict(admitted=held.state == "held", reason=f"slot {held.state}")
        running = self._running()
        verdict = self._check(running, analysis.tenant_id)
        if not verdict.admitted and self._reap(running):
            verdict = self._check(self._running(), analysis.tenant_id)
        if verdict.admitted:
            self._records.create(RunningAnalysis(id=analysis.id, tenant_id=analysis.tenant_id))
        return verdict

    def _check(self, running: list[RunningAnalysis], tenant: str) -> Verdict:
        mine = Counter(slot.tenant_id for slot in running)[tenant]
        if len(running) >= self._policy.max_running:
            return Verdict(admitted=False, reason=f"{len(running)} analyses running, the most "
                           f"allowed at once")  # fmt: skip
        if mine >= self._policy.per_tenant:
            return Verdict(admitted=False, reason=f"this tenant runs {mine} analyses, its most "
                           f"at once")  # fmt: skip
        return Verdict(admitted=True, reason="a slot is free")

    def _reap(self, running: list[RunningAnalysis]) -> bool:
        """Give back the slots of executions that ended without saying so."""
        reaped = False
        for slot in running:
            if utcnow() - slot.created_at >= REAP_AFTER and self._ended(slot.id):
                self.release(slot.id)
                reaped = True
        return reaped

    def release(self, analysis_id: str) -> None:
        held = self._records.get(RunningAnalysis, SYSTEM_TENANT, analysis_id)
        if held is not None and held.state == "held":
            self._records.update(held.evolve(state="released"))


class QueuedAnalysis(BaseModel):
    """A queue message: which analysis waits."""

    model_config = {"extra": "forbid"}

    tenant_id: str = Field(min_length=1, max_length=64)
    analysis_id: str = Field(min_length=1, max_length=200)


def dispatch(
    messages: list[tuple[str, str]],
    records: RecordStore,
    admission: Admission,
    launcher: Launcher,
) -> list[str]:
    """Start what may start; return the ids of the messages to deliver again later (no slot).
    A message for an analysis that is gone, cancelled or already started is dropped, and so
    is one that is not a queued analysis at all (it would come back forever)."""
    again: list[str] = []
    for message_id, body in messages:
        try:
            queued = QueuedAnalysis.model_validate_json(body)
        except ValidationError:
            logger.warning("dropped a message that names no analysis", message_id=message_id)
            continue
        analysis = records.get(Analysis, queued.tenant_id, queued.analysis_id)
        if analysis is None or analysis.status is not AnalysisStatus.QUEUED:
            continue
        verdict = admission.admit(analysis)
        if not verdict.admitted:
            logger.info("analysis waits", analysis_id=analysis.id, reason=verdict.reason)
            again.append(message_id)
            continue
        try:
            launcher.start(analysis)
        except LaunchFailed as exc:
            logger.warning("could not start", analysis_id=analysis.id, error=str(exc))
            admission.release(analysis.id)
            again.append(message_id)
    return again
