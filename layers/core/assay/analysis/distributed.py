"""One step of an analysis in a process of its own: how the step Lambdas run the workflow.

Locally one process holds an analysis from intake to seal. On Step Functions every state is a
separate Lambda invocation, perhaps on another machine, and the Map's items run at the same
time. So each invocation here:

1. reads the analysis record (options) and, after Intake, the steps' saved state;
2. mirrors the analysis's files from the artifacts port into a scratch directory: the
   snapshot and the prepared environments as one archive each, everything else file by file;
3. runs the same `AnalysisSteps` method the local runner calls;
4. writes back only what it changed (so concurrent items, which write disjoint files, never
   overwrite each other) and, for a step that is not a Map item, the new saved state.

Items never save state or append to the evidence log; Select merges what they left
(`assay.analysis.items`). The evidence log itself travels with the output directory.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assay.analysis import outputs
from assay.analysis.options import AnalysisOptions
from assay.analysis.pipeline import _settle
from assay.analysis.state import StepsState, Stores
from assay.analysis.steps import (
    ITEM_STEPS,
    AnalysisSteps,
    close_session,
    image_of,
    open_session,
    session_ready,
)
from assay.analysis.uploads import local_target
from assay.blobs import BlobStore, tenant_key
from assay.config import Settings
from assay.engines import Engine
from assay.errors import AlreadyExists, AssayError, NotFound
from assay.evidence import EvidenceLog
from assay.evidence.signing import Signer
from assay.intake import IntakePolicy
from assay.observability import logger
from assay.records import Analysis, AnalysisEvent, AnalysisStatus
from assay.records.analyses import git_credential
from assay.runtimes import Environment, registry
from assay.sandbox import Sandbox
from assay.sandbox.sessions import Sessions, Suspended
from assay.store import RecordStore
from assay.vault import Vault

STATE = "state.json"
# Mirrored as one archive each: many files, written by one step, read by most.
SNAPSHOT = "snapshot.tar.gz"
ENVIRONMENT = "environment.tar.gz"
# Scratch that no later step reads.
# (A project's view of the snapshot is made again from the snapshot where a step needs it.)
UNSHARED = ("work/runs/", "work/engine/", "work/snapshot/", "work/projects/")


class SavedSteps(BaseModel):
    """What the non-item steps leave for the next invocation."""

    steps: StepsState
    evidence_entries: int


class StepPorts(BaseModel):
    """The adapters one invocation uses (built by the Lambda from settings, by tests freely)."""

    model_config = {"arbitrary_types_allowed": True}

    records: RecordStore
    blobs: BlobStore
    sandbox: Sandbox  # what a session serves its jobs with (locally); jobs outside sessions
    sessions: Sessions  # sandbox sessions: Fargate tasks the workflow starts, in AWS
    signer: Signer
    engine_for: Callable[[Analysis], Engine]  # the engine an analysis asked for
    vault: Vault  # opens a private repository's sealed credentials for the clone
    package_index: Callable[[], str] | None = None  # where installs read packages (AWS)
    release: Callable[[str], None] | None = None  # gives a finished analysis's slot back (AWS)


def _run_key(analysis: Analysis, name: str) -> str:
    return tenant_key(analysis.tenant_id, "analyses", analysis.id, "run", name)


def _digest_tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every regular file under root."""
    found: dict[str, str] = {}
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                found[path.relative_to(root).as_posix()] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return found


def _pack(root: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(root, arcname=".")
    return buffer.getvalue()


def _unpack(data: bytes, dest: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        # The environments hold the venv's interpreter links; the snapshot has none (intake
        # drops links), so the `tar` filter (no absolute paths, no climbing out) is enough.
        tar.extractall(dest, filter="tar")


def _env_blob(number: int) -> str:
    """The project's environment, then the generators'."""
    return ENVIRONMENT if number == 0 else ENVIRONMENT.replace(".tar", f"-{number}.tar")


class AnalysisMirror:
    """An analysis's files between the artifacts port and one invocation's scratch."""

    def __init__(self, blobs: BlobStore, analysis: Analysis, scratch: Path) -> None:
        self.blobs = blobs
        self.analysis = analysis
        # A directory per invocation: a warm Lambda reuses /tmp, a test runs several at once.
        self.root = scratch / f"{analysis.id}-{uuid.uuid4().hex[:8]}"
        self.stores = Stores(work=self.root / "work", out=self.root / "out")
        self._before: dict[str, str] = {}
        self._snapshot_before: dict[str, str] = {}

    def _files_prefix(self) -> str:
        return _run_key(self.analysis, "files") + "/"

    def pull(self, *, item: int | None = None) -> None:
        """Everything a step may read. An item skips the other items' files and the output."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.stores.out.mkdir(parents=True)
        self.stores.work.mkdir(parents=True)
        prefix = self._files_prefix()
        mine = f"work/items/{item:05d}/" if item is not None else None
        for key in self.blobs.list(prefix):
            rel = key[len(prefix) :]
            if item is not None and (
                rel.startswith("out/")
                or (rel.startswith("work/items/") and not rel.startswith(mine or ""))
            ):
                continue
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            self.blobs.download(key, self.root / rel)
        key = _run_key(self.analysis, SNAPSHOT)
        if self.blobs.head(key) is not None:
            _unpack(self.blobs.get(key), self.stores.snapshot)
        self._snapshot_before = _digest_tree(self.stores.snapshot)
        self._before = self._shared_files()

    def _shared_files(self) -> dict[str, str]:
        return {
            rel: sha for rel, sha in _digest_tree(self.root).items() if not rel.startswith(UNSHARED)
        }

    def push(self) -> None:
        """Only what this invocation changed: concurrent items write disjoint files."""
        prefix = self._files_prefix()
        after = self._shared_files()
        for rel, sha in after.items():
            if self._before.get(rel) != sha:
                self.blobs.put_file(prefix + rel, self.root / rel)
        for rel in self._before.keys() - after.keys():
            self.blobs.delete(prefix + rel)
        if _digest_tree(self.stores.snapshot) != self._snapshot_before:
            self.blobs.put(_run_key(self.analysis, SNAPSHOT), _pack(self.stores.snapshot))

    def put_environment(self, environment: Environment) -> None:
        """The prepared environments (the project's, and the generators' where apart), for the
        steps that run tests or generators in other processes."""
        for number, where in enumerate(environment.directories()):
            self.blobs.put(_run_key(self.analysis, _env_blob(number)), _pack(where))

    def get_environment(self, environment: Environment) -> None:
        """At the path it was built at (a venv is not relocatable); a warm process that
        already holds it keeps it."""
        for number, where in enumerate(environment.directories()):
            if not (where / "bin" / "python").exists():
                _unpack(self.blobs.get(_run_key(self.analysis, _env_blob(number))), where)

    def load_state(self) -> SavedSteps | None:
        key = _run_key(self.analysis, STATE)
        if self.blobs.head(key) is None:
            return None
        return SavedSteps.model_validate_json(self.blobs.get(key))

    def save_state(self, saved: SavedSteps) -> None:
        self.blobs.put(_run_key(self.analysis, STATE), saved.model_dump_json().encode())

    def clear(self) -> None:
        """The run's files in the port, once the output is published."""
        prefix = tenant_key(self.analysis.tenant_id, "analyses", self.analysis.id, "run") + "/"
        for key in list(self.blobs.list(prefix)):
            self.blobs.delete(key)

    def discard(self) -> None:
        """This invocation's copy (a warm Lambda's /tmp outlives it)."""
        shutil.rmtree(self.root, ignore_errors=True)


class StoredEvents:
    """Progress events from concurrent invocations: each takes the next free sequence number
    (the store refuses a number already taken, so a race costs a retry, never an overwrite)."""

    def __init__(self, records: RecordStore, analysis: Analysis) -> None:
        self._records = records
        self._analysis = analysis

    def _last(self) -> int:
        page = self._records.list(
            AnalysisEvent, self._analysis.tenant_id, parent=self._analysis.id, limit=1,
            newest_first=True,
        )  # fmt: skip
        return page.items[0].seq if page.items else 0

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        payload = json.loads(json.dumps(data, default=str))
        for _ in range(50):
            event = AnalysisEvent(
                tenant_id=self._analysis.tenant_id, analysis_id=self._analysis.id,
                seq=self._last() + 1, type=kind, data=payload,
            )  # fmt: skip
            try:
                self._records.create(event)
                return
            except AlreadyExists:
                continue
        raise AssayError(f"could not record event {kind!r}: too many concurrent writers")


class StepHost:
    """Runs one named step for the analysis its input names."""

    def __init__(self, settings: Settings, ports: StepPorts, scratch: Path) -> None:
        self.settings = settings
        self.ports = ports
        self.scratch = scratch

    def _analysis(self, state: dict[str, Any]) -> Analysis:
        tenant, analysis_id = state.get("tenant_id"), state.get("analysis_id")
        if not isinstance(tenant, str) or not isinstance(analysis_id, str):
            raise AssayError("the step input names no tenant_id and analysis_id")
        found = self.ports.records.get(Analysis, tenant, analysis_id)
        if found is None:
            raise NotFound(f"analysis {analysis_id} not found")
        return found

    def run(self, name: str, state: dict[str, Any], *, deadline: float | None = None) -> Any:
        """Run step `name`; with `deadline` (monotonic seconds: the Lambda's end, less a margin)
        a sandbox job still running then suspends the step: it answers `{"suspended": true}`,
        keeps nothing, and the workflow calls it again after a wait."""
        analysis = self._analysis(state)
        # Sessions need no files: the saved state says which image (a cancelled analysis's
        # steps end at once, and its session's task with them).
        if name == "OpenSession":
            saved = AnalysisMirror(self.ports.blobs, analysis, self.scratch).load_state()
            return open_session(
                self.ports.sessions, state, scope=_run_key(analysis, "sandbox"),
                image=image_of(saved.steps.projects, saved.steps.detection) if saved else
                image_of([], None), budget_s=analysis.budget_s,
            )  # fmt: skip
        if name == "CloseSession":
            return close_session(self.ports.sessions, state)
        if name == "SessionReady":
            return session_ready(self.ports.sessions, state)
        if analysis.status.finished:
            return self._cancelled(name, analysis, state)
        if name == "Intake" and analysis.status is AnalysisStatus.QUEUED:
            analysis = self.ports.records.update(analysis.evolve(status=AnalysisStatus.RUNNING))
        scratch = self.scratch / "uploads" / analysis.id
        target = (
            local_target(self.ports.blobs, analysis, scratch)
            if name == "Intake"
            else analysis.source
        )
        steps, mirror = self._steps(analysis, state, name, target)
        steps.session_deadline = deadline
        try:
            try:
                result = steps.resources()[name](state)
            except Suspended as suspended:
                logger.info("step suspended", step=name, reason=str(suspended))
                return {"suspended": True, "reason": str(suspended)}
            mirror.push()
            if name == "Install":
                mirror.put_environment(steps.environment)
            if name not in ITEM_STEPS:
                mirror.save_state(
                    SavedSteps(
                        steps=steps.export_state(), evidence_entries=len(steps.evidence.entries)
                    )
                )
            if name in {"Seal", "RecordFailure"}:
                self._finish(analysis, mirror, cancelled=None)
            return result
        finally:
            mirror.discard()
            shutil.rmtree(self.scratch / "uploads" / analysis.id, ignore_errors=True)

    def _steps(
        self, analysis: Analysis, state: dict[str, Any], name: str, target: str
    ) -> tuple[AnalysisSteps, AnalysisMirror]:
        """The steps as the previous invocation left them, over a fresh copy of the files."""
        engine = self.ports.engine_for(analysis)
        mirror = AnalysisMirror(self.ports.blobs, analysis, self.scratch)
        mirror.pull(item=int(state.get("index", 0)) if name in ITEM_STEPS else None)
        saved = None if name == "Intake" else mirror.load_state()
        evidence = None
        if saved is not None and saved.steps.environment is not None:
            mirror.get_environment(saved.steps.environment)
        if name in ITEM_STEPS:
            # Items never append (Select chains their entries) and do not pull the output:
            # a log of their own, never pushed, keeps the real one out of reach.
            evidence = EvidenceLog(mirror.stores.work / "runs" / "unused", analysis.id)
        elif saved is not None:
            evidence = EvidenceLog.reopen(mirror.stores.out, analysis.id, saved.evidence_entries)
        sandbox = self.ports.sandbox
        # Only the clone needs a private repository's credentials: no other step opens them.
        credential = git_credential(analysis, self.ports.vault) if name == "Intake" else None
        options = AnalysisOptions.for_record(
            self.settings, analysis, model=engine.model, target=target
        )
        steps = AnalysisSteps(
            options, mirror.stores,
            sandbox=sandbox, engine=engine, signer=self.ports.signer,
            cache=self.settings.cache_dir, emit=StoredEvents(self.ports.records, analysis),
            intake_policy=IntakePolicy(git_credential=credential),
            runtimes=registry.runtimes(self.settings, package_index=self.ports.package_index),
            evidence=evidence,
            # One environment travels between the invocations: a repository with several
            # projects has its main one analyzed here, the others listed as not analyzed.
            multi_project=False, sessions=self.ports.sessions,
        )  # fmt: skip
        if saved is not None:
            steps.restore_state(saved.steps, count_gap=True)
        return steps, mirror

    def _cancelled(self, name: str, analysis: Analysis, state: dict[str, Any]) -> Any:
        """A cancelled analysis (or a step run again after the end) does nothing, but the first
        step outside the Map to see a cancellation still leaves a sealed report saying so.
        Items answer so that their iteration ends at once."""
        if name in ITEM_STEPS:
            return {"produced": False, "repair": False, "reason": "the analysis was cancelled"}
        published = outputs.report(self.ports.blobs, analysis.tenant_id, analysis.id)
        if analysis.status is AnalysisStatus.CANCELLED and published is None:
            reason = analysis.reason or "cancelled"
            steps, mirror = self._steps(analysis, state, name, analysis.source)
            try:
                steps.record_cancellation(reason)
                mirror.push()
                self._finish(analysis, mirror, cancelled=reason)
            finally:
                mirror.discard()
        return {"skipped": True, "reason": f"the analysis is {analysis.status.value}"}

    def _finish(self, analysis: Analysis, mirror: AnalysisMirror, *, cancelled: str | None) -> None:
        """Publish the sealed output, then say the analysis finished (in that order, so whoever
        sees it finished can fetch it)."""
        out = mirror.stores.out
        outputs.publish(self.ports.blobs, analysis.tenant_id, analysis.id, out)
        report: dict[str, Any] = json.loads((out / "report.json").read_text())
        _settle(
            self.ports.records, analysis, report=report, cancelled=cancelled,
            out=Path(outputs.REPORT), last_event=StoredEvents(self.ports.records, analysis)._last(),
        )  # fmt: skip
        mirror.clear()
        if self.ports.release is not None:
            self.ports.release(analysis.id)
