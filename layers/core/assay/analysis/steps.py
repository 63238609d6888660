"""The step functions of statemachines/analysis.asl.json.

Each takes the workflow state (JSON) and returns its result (JSON); what is too big for a state
(snapshots, coverage maps, candidate code) lives in the analysis's work directory, keyed by
name, so a step could run in another process (a Lambda) given the same directory.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from assay.analysis import projects, selection
from assay.analysis import report as reports
from assay.analysis.baseline import baseline_counts
from assay.analysis.budget import TimeBank
from assay.analysis.funnel import Evaluation, Evaluator, Workspace
from assay.analysis.items import ItemFiles
from assay.analysis.options import AnalysisOptions
from assay.analysis.outputs import kept_test_path
from assay.analysis.planning import Target, plan
from assay.analysis.projects import Project
from assay.analysis.state import StepsState, Stores
from assay.clock import utcnow
from assay.engines import (
    Candidate,
    Engine,
    Feedback,
    GenerationContext,
    NothingGenerated,
    Usage,
)
from assay.errors import AssayError
from assay.evidence import EvidenceLog
from assay.evidence.canonical import canonical, file_digest
from assay.evidence.signing import Signer
from assay.evidence.verify import REPORT_BODY
from assay.intake import IntakePolicy, take_snapshot
from assay.runtimes import CoverageMap, Detection, Environment, Runtime, TestRun
from assay.runtimes.coverage import FileCoverage
from assay.runtimes.mutation import MutationResult
from assay.runtimes.python import PythonRuntime
from assay.sandbox import Limits, Sandbox
from assay.sandbox.images import image_for
from assay.sandbox.sessions import LocalSessions, SessionRef, Sessions

# The steps run once per Map item, possibly at the same time in separate processes (Lambdas in
# AWS): they write only under their item's directory; Select merges what they left.
ITEM_STEPS = frozenset({"Generate", "Execute", "Repair"})
# About what one sandboxed test run of a small candidate takes (pytest and coverage starting).
CHECK_RUN_S = 4.0
# A Map item `module#2` is the second pass over `module` (see `plan`); only gaps this large.
PASS_MARK = "#"  # noqa: S105 - not a password
MIN_PASS_GAP = 5


# The resource of the workflow's RunSession states: Step Functions starts the session's task
# and waits for it; the local runner calls the steps' `sessions.serve`.
RUN_SESSION = "arn:aws:states:::ecs:runTask.sync"


def session_lifetime(budget_s: float) -> int:
    """How long a session's task may live: the analysis's budget and an hour for the steps
    around generation, within Step Functions' six-hour execution."""
    return int(min(6 * 3600, budget_s + 3600))


def image_of(projects: Sequence[Project], detection: Detection | None) -> str:
    """The sandbox image for an analysis's jobs: its detected language's, or the universal
    one when its projects mix languages or nothing is detected yet."""
    languages = [p.detection.language for p in projects if p.active and p.detection]
    if detection is not None:
        languages.append(detection.language)
    return image_for(languages)


def open_session(
    sessions: Sessions, state: dict[str, Any], *, scope: str, image: str, budget_s: float
) -> dict[str, Any]:
    """A sandbox session for the unit of work that follows (`purpose: install` gives its
    task the package repository), as the RunSession state reads it."""
    ref = sessions.open(scope, image=image, network=state.get("purpose") == "install",
                        lifetime_s=session_lifetime(budget_s))  # fmt: skip
    return ref.model_dump()


def close_session(sessions: Sessions, state: dict[str, Any]) -> dict[str, Any]:
    """No more jobs for the state's session: its task ends."""
    if isinstance(state.get("session"), dict):
        sessions.close(SessionRef.model_validate(state["session"]))
    return {"closed": True}


def session_ready(sessions: Sessions, state: dict[str, Any]) -> dict[str, bool]:
    """Whether the state's session's task is up: until it is, the workflow waits (no Lambda)."""
    return {"ready": sessions.ready(SessionRef.model_validate(state["session"]))}


class Skip(NamedTuple):
    """Why a later pass over a module has nothing to do."""

    reason: str


def item_target(value: str) -> tuple[str, int]:
    """A Map item's module and pass number."""
    module, mark, number = value.rpartition(PASS_MARK)
    return (module, int(number)) if mark and number.isdigit() else (value, 1)


class AnalysisFailed(AssayError):
    status = 422
    code = "analysis_failed"


def _suffix(path: str) -> str:
    """A file name's suffixes from its first dot (`.py`, `.test.js`, `.rs`): kept on the
    copies of candidates and findings so they read as what they are."""
    name = PurePosixPath(path).name
    stem = name.split(".", 1)[0]
    return name[len(stem) :] if "." in name else ""


class AnalysisSteps:
    """Binds the step functions to one analysis's ports; `resources()` feeds the runner."""

    def __init__(
        self,
        options: AnalysisOptions,
        stores: Stores,
        *,
        sandbox: Sandbox,
        engine: Engine,
        signer: Signer,
        cache: Path,
        emit: Callable[[str, dict[str, Any]], None],
        intake_policy: IntakePolicy | None = None,
        runtimes: list[Runtime] | None = None,
        evidence: EvidenceLog | None = None,
        multi_project: bool = True,
        sessions: Sessions | None = None,
    ) -> None:
        self.options = options
        # Whether a repository with several projects is analyzed whole (locally), or only its
        # main project (the step Lambdas, which ship one project's environment between them).
        self.multi_project = multi_project
        self.stores = stores
        self._sandbox = sandbox
        # Jobs go to the sandbox session the state names (see sandbox/sessions.py): locally
        # the runner's RunSession state serves them through `sandbox`.
        self.sessions = sessions or LocalSessions(sandbox)
        self._session_sandbox: ContextVar[Sandbox | None] = ContextVar("session", default=None)
        # When the invocation running a step must have returned (AWS): a job still running
        # then suspends the step, which the workflow calls again (monotonic seconds).
        self.session_deadline: float | None = None
        self.engine = engine
        self.signer = signer
        self.cache = cache
        self.emit = emit
        self.intake_policy = intake_policy or IntakePolicy()
        self.runtimes: list[Runtime] = runtimes or [PythonRuntime()]
        self.evidence = evidence or EvidenceLog(stores.out, options.analysis_id)
        self.started = time.monotonic()
        self.started_at = utcnow()
        self.stage_seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._evaluations: list[Evaluation] = []
        self._generated = 0
        self._usage = Usage()
        self._runtime: Runtime | None = None
        self._detection: Detection | None = None
        self._environment: Environment | None = None
        self._baseline: CoverageMap | None = None
        self._targets: dict[str, Target] = {}
        self._verdicts: list[selection.Verdict] = []
        self._suite: TestRun | None = None
        self._findings: list[dict[str, Any]] = []
        self._mutation: dict[str, Any] | None = None
        self._body: dict[str, Any] | None = None
        self._deadline = self.started + options.budget_s
        self._budget_ends_s: float | None = None
        self._bank: TimeBank | None = None
        self._baseline_run: dict[str, Any] | None = None
        self._generation: dict[str, dict[str, Any]] = {}
        self._unplanned: dict[str, dict[str, Any]] = {}
        self._projects: list[Project] = []

    def export_state(self) -> StepsState:
        with self._lock:
            return StepsState(
                elapsed_s=time.monotonic() - self.started,
                started_at=self.started_at,
                saved_at=utcnow(),
                stage_seconds=dict(self.stage_seconds),
                generated=self._generated,
                usage=self._usage,
                detection=self._detection,
                environment=self._environment,
                baseline=self._baseline,
                targets=list(self._targets.values()),
                evaluations=list(self._evaluations),
                verdicts=list(self._verdicts),
                suite=self._suite,
                findings=list(self._findings),
                mutation=self._mutation,
                body=self._body,
                budget_ends_s=self._budget_ends_s,
                baseline_run=self._baseline_run,
                generation=dict(self._generation),
                unplanned=dict(self._unplanned),
                projects=[p.model_copy() for p in self._projects],
            )

    def restore_state(self, saved: StepsState, *, count_gap: bool = False) -> None:
        """Continue where `saved` was taken. Time spent while a stopped server was down does
        not count against the budget; with `count_gap` (the next step of a running analysis,
        in another process) the time since `saved` was taken does."""
        elapsed = saved.elapsed_s
        if count_gap and saved.saved_at is not None:
            elapsed += max(0.0, (utcnow() - saved.saved_at).total_seconds())
        self.started = time.monotonic() - elapsed
        self._budget_ends_s = saved.budget_ends_s
        self._deadline = self.started + (
            saved.budget_ends_s if saved.budget_ends_s is not None else self.options.budget_s
        )
        self._baseline_run = saved.baseline_run
        self._generation = dict(saved.generation)
        self._unplanned = dict(saved.unplanned)
        self.started_at = saved.started_at
        self.stage_seconds = dict(saved.stage_seconds)
        self._generated = saved.generated
        self._usage = saved.usage
        self._detection = saved.detection
        self._environment = saved.environment
        self._baseline = saved.baseline
        self._targets = {t.module: t for t in saved.targets}
        self._evaluations = list(saved.evaluations)
        self._verdicts = list(saved.verdicts)
        self._suite = saved.suite
        self._findings = list(saved.findings)
        self._mutation = saved.mutation
        self._body = saved.body
        self._projects = [p.model_copy() for p in saved.projects]
        if saved.detection is not None:
            if not self._projects:  # saved before projects were: the root's alone
                self._projects = [Project(
                    root="", language=saved.detection.language, detection=saved.detection,
                    environment=saved.environment, baseline_run=saved.baseline_run,
                )]  # fmt: skip
            found = [r for r in self.runtimes if r.language == saved.detection.language]
            if not found:
                raise AnalysisFailed(f"no {saved.detection.language} runtime to resume with")
            self._runtime = found[0]

    @property
    def sandbox(self) -> Sandbox:
        """The running step's session's sandbox, or the one given (no session in the state)."""
        return self._session_sandbox.get() or self._sandbox

    def session_image(self) -> str:
        with self._lock:
            return image_of(self._projects, self._detection)

    def open_session(self, state: dict[str, Any]) -> dict[str, Any]:
        return open_session(self.sessions, state, scope="", image=self.session_image(),
                            budget_s=self.options.budget_s)  # fmt: skip

    def close_session(self, state: dict[str, Any]) -> dict[str, Any]:
        return close_session(self.sessions, state)

    def session_ready(self, state: dict[str, Any]) -> dict[str, Any]:
        return session_ready(self.sessions, state)

    def session_resources(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "OpenSession": self.open_session,
            "CloseSession": self.close_session,
            "SessionReady": self.session_ready,
            RUN_SESSION: self.sessions.serve,
        }

    def resources(self) -> dict[str, Callable[[Any], Any]]:
        steps = {
            "Intake": self.intake,
            "Detect": self.detect,
            "Install": self.install,
            "Baseline": self.baseline,
            "Plan": self.plan,
            "Generate": self.generate,
            "Execute": self.execute,
            "Repair": self.repair,
            "Select": self.select,
            "Findings": self.findings,
            "Mutation": self.mutation,
            "Report": self.report,
            "Seal": self.seal,
            "RecordFailure": self.record_failure,
        }
        timed = {name: self._timed(name, fn) for name, fn in steps.items()}
        return {**timed, **self.session_resources()}

    def _timed(self, name: str, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def run(state: Any) -> Any:
            started = time.monotonic()
            session = state.get("session") if isinstance(state, dict) else None
            token = self._session_sandbox.set(
                self.sessions.sandbox(
                    SessionRef.model_validate(session), deadline=self.session_deadline,
                    step=f"{name}#{state.get('index', '')}",
                ) if isinstance(session, dict) else None
            )  # fmt: skip
            try:
                return fn(state)
            finally:
                self._session_sandbox.reset(token)
                spent = time.monotonic() - started
                if name in ITEM_STEPS:
                    self._item(state).add_seconds(name, spent)
                else:
                    with self._lock:
                        self.stage_seconds[name] = round(
                            self.stage_seconds.get(name, 0.0) + spent, 3
                        )

        return run

    def _item(self, state: dict[str, Any]) -> ItemFiles:
        return ItemFiles(self.stores.work / "items" / f"{int(state.get('index', 0)):05d}")

    # ------------------------------------------------------------------ helpers
    def _record(self, kind: str, payload: dict[str, Any], artifacts: Sequence[str] = ()) -> None:
        with self._lock:
            self.evidence.append(kind, payload, artifacts)
        self.emit(kind, payload)

    def _record_item(
        self, item: ItemFiles, kind: str, payload: dict[str, Any], artifacts: Sequence[str] = ()
    ) -> None:
        """Kept with the item until Select chains it into the log (in item order)."""
        item.add_entry(kind, payload, artifacts)
        self.emit(kind, payload)

    def _merge_items(self, finished: list[Any]) -> None:
        """Chain the Map items' entries into the evidence log and gather their verdicts."""
        evaluations, generated, usage = [], 0, Usage()
        by_project: dict[str, int] = {}
        indices = sorted({int(i.get("index", 0)) for i in finished if isinstance(i, dict)})
        for index in indices:
            item = self._item({"index": index})
            for entry in item.entries():
                with self._lock:
                    self.evidence.append(entry.kind, entry.payload, entry.artifacts, at=entry.at)
                if entry.kind == "generate" and "candidate" in entry.payload:
                    generated += 1
                    root = self._project_of(str(entry.payload.get("module", ""))).root
                    by_project[root] = by_project.get(root, 0) + 1
            for name, spent in item.seconds().items():
                self.stage_seconds[name] = round(self.stage_seconds.get(name, 0.0) + spent, 3)
            outcome = item.generation()
            if (outcome is not None and not outcome.get("produced")
                    and outcome.get("kind") != "skipped"):  # fmt: skip
                self._generation.setdefault(str(outcome.get("module")), outcome)
            evaluation = item.evaluation()
            if evaluation is not None:
                evaluations.append(evaluation)
                usage = usage + evaluation.candidate.usage
        self._evaluations, self._generated, self._usage = evaluations, generated, usage
        for project in self._projects:
            project.generated = by_project.get(project.root, 0)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise AnalysisFailed("no runtime was detected")
        return self._runtime

    @property
    def detection(self) -> Detection:
        if self._detection is None:
            raise AnalysisFailed("the project was not detected")
        return self._detection

    @property
    def environment(self) -> Environment:
        if self._environment is None:
            raise AnalysisFailed("the environment was not prepared")
        return self._environment

    # ------------------------------------------------------------------ projects
    def _active(self) -> list[Project]:
        return [p for p in self._projects if p.active]

    def _roots(self) -> list[str]:
        return [p.root for p in self._projects]

    def _project_of(self, path: str) -> Project:
        """The project a module, candidate or test (named in the snapshot) belongs to."""
        root = projects.owner(path, self._roots())
        found = next((p for p in self._projects if p.root == root), None)
        if found is None:
            raise AnalysisFailed(f"{path} belongs to no project of this analysis")
        return found

    def _runtime_of(self, project: Project) -> Runtime:
        found = [r for r in self.runtimes if r.language == project.language]
        if not found:
            raise AnalysisFailed(f"no {project.language} runtime for {project.name}")
        return found[0]

    def _view(self, project: Project) -> Path:
        """Where the project's files are: the snapshot, or a copy of its part of it."""
        return projects.make_view(
            self.stores.snapshot, project,
            self.stores.work / "projects" / projects.view_name(project),
        )  # fmt: skip

    @staticmethod
    def _parts(project: Project) -> tuple[Detection, Environment]:
        if project.detection is None or project.environment is None:
            raise AnalysisFailed(f"the project {project.name} was not prepared")
        return project.detection, project.environment

    def _main(self) -> Project:
        return max(self._active(), key=lambda p: len(p.detection.modules if p.detection else []))

    def _choose_main(self) -> None:
        """The main project (the most modules, the root on a tie) fills the analysis-wide
        detection, environment and baseline counts a one-project report has."""
        if not self._active():
            return
        main = self._main()
        self._runtime, self._detection = self._runtime_of(main), main.detection
        self._environment = main.environment

    def _kept_path(self, path: str) -> str:
        """Where a kept test (named in the snapshot) goes in the output: a nested project's
        below tests/ at its path in the repository."""
        project = self._project_of(path)
        in_tests_dir = self._runtime_of(project).tests_in_tests_dir and not project.root
        return kept_test_path(path, in_tests_dir=in_tests_dir)

    def _limits(self) -> Limits:
        return Limits(
            wall_s=self.options.test_timeout_s,
            cpu_s=int(self.options.test_timeout_s),
            memory_mb=2048,
            processes=64,
        )

    def _evaluator(self, project: Project) -> Evaluator:
        detection, environment = self._parts(project)
        return Evaluator(
            self._runtime_of(project),
            environment,
            detection,
            self.sandbox,
            Workspace(self._view(project), self.stores.work / "runs"),
            reruns=self.options.reruns,
            limits=self._limits(),
        )

    def _run_suite(self, project: Project, name: str, files: dict[str, str]) -> TestRun:
        """A project's whole test suite (plus `files`, named in the project) in a fresh copy
        of its files; the run as the project names things."""
        detection, environment = self._parts(project)
        if project.root:
            name = f"{name}-{projects.view_name(project)}"
        workdir = Workspace(self._view(project), self.stores.work / "runs").fresh(name, files)
        try:
            return self._runtime_of(project).run_tests(
                environment, detection, workdir, [], self.sandbox,
                limits=self._limits().model_copy(update={"wall_s": 1800, "cpu_s": 1800}),
            )  # fmt: skip
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _time_bank(self) -> TimeBank:
        """Built at the plan; a step in another process (a Lambda) rebuilds it from the saved
        state and sees no other item's reservation, so it shares out what is left evenly."""
        if self._bank is None:
            keys = {key: item_target(key) for key in self._item_keys()}
            gap = {key: self._targets[module].gap for key, (module, _) in keys.items()}
            floor = {module: self.engine.min_generate_s(self._source_lines(module))
                     for module in self._targets}  # fmt: skip
            self._bank = TimeBank(
                ends_at=self._deadline - self._suite_reserve_s(),
                workers=self.options.workers,
                gaps={key: gap[key] for key, (_, n) in keys.items() if n == 1},
                later={key: gap[key] for key, (_, n) in keys.items() if n > 1},
                check_s=self._check_reserve_s(),
                floor_s=self.engine.min_generate_s(0),
                cap_s=self.options.engine_time_s,
                floors={key: floor[module] for key, (module, _) in keys.items()},
            )
        return self._bank

    def _item_keys(self) -> list[str]:
        passes = range(2, self.engine.passes + 1)
        return [t.module for t in self._targets.values()] + [
            f"{t.module}{PASS_MARK}{n}" for t in self._targets.values() for n in passes
            if t.gap >= MIN_PASS_GAP
        ]  # fmt: skip

    def _source_lines(self, module: str) -> int:
        path = self.stores.snapshot / module
        return path.read_text(errors="replace").count("\n") if path.is_file() else 0

    def _check_reserve_s(self) -> float:
        """What checking one candidate takes: a collection and N runs of a few seconds."""
        return CHECK_RUN_S * (1 + self.options.reruns)

    def _suite_reserve_s(self) -> float:
        """What the final whole-suite run needs, judged by the baseline's."""
        took = float((self._baseline_run or {}).get("duration_s", 0.0))
        return 1.3 * took + CHECK_RUN_S

    def _context(self, project: Project, time_budget_s: float = 60.0) -> GenerationContext:
        detection, environment = self._parts(project)
        return GenerationContext(
            root=self._view(project),
            runtime=self._runtime_of(project),
            detection=detection,
            environment=environment,
            sandbox=self.sandbox,
            scratch=self.stores.work / "engine",
            time_budget_s=time_budget_s,
            include_entry_points=self.options.include_entry_points,
        )

    # ------------------------------------------------------------------ steps
    def intake(self, state: dict[str, Any]) -> dict[str, Any]:
        snapshot = take_snapshot(
            self.options.target,
            self.stores.snapshot,
            ref=self.options.ref,
            policy=self.intake_policy,
        )
        manifest = sorted(
            p.relative_to(self.stores.snapshot).as_posix()
            for p in self.stores.snapshot.rglob("*")
            if p.is_file() and not p.is_symlink()
        )
        digests = {name: file_digest(self.stores.snapshot / name) for name in manifest}
        (self.stores.out / "evidence").mkdir(parents=True, exist_ok=True)
        (self.stores.out / "evidence" / "snapshot.json").write_text(
            json.dumps(digests, indent=1, sort_keys=True)
        )
        result = {"kind": snapshot.kind, "source": snapshot.source, "files": snapshot.files}
        self._record("intake", result, ["evidence/snapshot.json"])
        return result

    def detect(self, state: dict[str, Any]) -> dict[str, Any]:
        """The projects (see `assay.analysis.projects`) and each one's language: of the runtimes
        that recognise its files, the one with the most source files (a Python project with a
        package.json for its docs stays Python)."""
        found: list[Project] = []
        for project in projects.discover(self.stores.snapshot):
            view = self._view(project)
            hits = [(r, d) for r in self.runtimes if (d := r.detect(view))]
            if not hits:
                if view != self.stores.snapshot:
                    shutil.rmtree(view, ignore_errors=True)
                continue
            _, detection = max(hits, key=lambda pair: len(pair[1].modules))
            found.append(project.model_copy(update={"language": detection.language,
                                                    "detection": detection}))  # fmt: skip
        if not found:
            names = ", ".join(r.language for r in self.runtimes)
            why = next((w for r in self.runtimes if (w := r.unsupported(self.stores.snapshot))),
                       None)  # fmt: skip
            if why:
                raise AnalysisFailed(f"this project cannot be analyzed: {why}",
                                     fix="point assay at one module of the build")  # fmt: skip
            raise AnalysisFailed(
                f"no supported language found in the target (supported: {names})",
                fix="point assay at a project with source files in one of those languages",
            )
        allowed = self.engine.languages
        refused = []
        for project in found:
            if allowed is not None and project.language not in allowed:
                project.reason = (
                    f"the {self.engine.name} engine writes tests for "
                    f"{', '.join(sorted(allowed))} only, and this project is {project.language}"
                )
                refused.append(project)
        if len(refused) == len(found):
            raise AnalysisFailed(refused[0].reason or "", fix="use --engine llm with a model")
        self._projects = found
        if not self.multi_project and len(self._active()) > 1:
            main = self._main()
            for project in self._active():
                if project is not main:
                    project.reason = (
                        "not analyzed: the AWS workflow analyzes one project per analysis (the "
                        f"one with the most modules, {main.name}); run `assay analyze` for all"
                    )
        self._choose_main()
        detection = self.detection
        result: dict[str, Any] = {
            "language": detection.language,
            "test_runner": detection.test_runner,
            "package_manager": detection.package_manager,
            "modules": len(detection.modules),
            "test_files": len(detection.test_files),
        }
        if len(found) > 1:
            result["projects"] = [
                {"root": p.name, "language": p.language,
                 "test_runner": p.detection.test_runner if p.detection else None,
                 "modules": len(p.detection.modules) if p.detection else 0,
                 "test_files": len(p.detection.test_files) if p.detection else 0,
                 "reason": p.reason}
                for p in found
            ]  # fmt: skip
        self._record("detect", result)
        return result

    def install(self, state: dict[str, Any]) -> dict[str, Any]:
        """Each project's environment. With several projects, one that cannot be installed is
        left out with its reason and the others go on; the analysis fails when none can."""
        active = self._active()
        results: dict[str, dict[str, Any]] = {}
        failures: list[Exception] = []
        for project in active:
            try:
                results[project.root] = self._install(project)
            except Exception as error:  # whatever it was, the other projects go on
                if len(active) == 1:
                    raise
                failures.append(error)
                said = error.message if isinstance(error, AssayError) else (
                    f"{type(error).__name__}: {error}")  # fmt: skip
                project.reason = f"the install failed: {said}"
                project.failed_at = "install"
                results[project.root] = {"failed": said}
        if failures and len(failures) == len(active):
            raise failures[0]
        self._choose_main()
        if len(active) == 1:
            result = results[active[0].root]
            self._record("install", result)
            return result
        result = {"projects": {p.name: results[p.root] for p in active}}
        self._record("install", result)
        return {"projects": {p.name: "failed" if p.reason else "installed" for p in active}}

    def _install(self, project: Project) -> dict[str, Any]:
        # The generators get an environment of their own where the language allows it, so
        # that their packages and the project's cannot shadow each other.
        runtime = self._runtime_of(project)
        assert project.detection is not None
        engine_tools = list(self.engine.tools)
        generator = runtime.prepare_generator(engine_tools, self.sandbox, self.cache)
        tools = [] if generator is not None else engine_tools
        mutation = runtime.mutation_tool() if self.options.mutation else None
        if mutation is not None:
            tools += mutation.tools
        environment = runtime.prepare(
            project.detection, self._view(project), self.sandbox, self.cache, tools
        )
        if generator is not None:
            environment = environment.model_copy(update={"generator": generator})
        project.environment = environment
        return {"environment": environment.key, "tools": environment.tools,
                "generator": generator.parent.parent.name if generator else None,
                "installed": len(environment.installed), "notes": environment.notes}  # fmt: skip

    def baseline(self, state: dict[str, Any]) -> dict[str, Any]:
        merged = CoverageMap()
        results: dict[str, dict[str, Any]] = {}
        for project in self._active():
            detection, _ = self._parts(project)
            if detection.test_files:
                run = self._run_suite(project, "baseline", {})
            else:
                run = TestRun(ok=True, reason="the project has no tests", coverage=CoverageMap())
            coverage = projects.coverage_out(project.root, run.coverage or CoverageMap())
            merged.files.update(coverage.files)
            project.baseline_run = baseline_counts(run, has_tests=bool(detection.test_files))
            summary = coverage.summary()
            results[project.root] = {**project.baseline_run, "line_pct": summary.line_pct,
                                     "branch_pct": summary.branch_pct}  # fmt: skip
        self._baseline = merged
        counts = projects.merged_counts(
            [(p.root, p.baseline_run) for p in self._active() if p.baseline_run is not None]
        )
        self._baseline_run = counts
        summary = merged.summary()
        result = {**counts, "line_pct": summary.line_pct, "branch_pct": summary.branch_pct}
        if len(results) > 1:
            result["projects"] = {projects.Project(root=r).name: {
                k: v for k, v in found.items() if k in ("tests", "passed", "line_pct", "branch_pct")
            } for r, found in results.items()}  # fmt: skip
        self._record("baseline", result)
        if self.options.strict and counts["warnings"]:
            raise AnalysisFailed(
                "the project's own tests did not run cleanly (--strict): "
                + "; ".join(counts["warnings"]),
                fix="install what the tests need (test extras, plugins) or drop --strict",
            )
        return result

    def plan(self, state: dict[str, Any]) -> dict[str, Any]:
        assert self._baseline is not None
        targets: list[Target] = []
        for project in self._active():
            detection, _ = self._parts(project)
            mine = projects.coverage_in(project.root, self._baseline, self._roots())
            found = plan(self._view(project), detection, mine, self._runtime_of(project))
            targets += [projects.target_out(project.root, t) for t in found]
        targets.sort(key=lambda t: (-t.gap, t.module))
        self._unplanned = {
            t.module: {"lines": len(t.missing_lines), "branches": len(t.missing_branches),
                       "reason": f"not attempted: only the {self.options.max_targets} modules "
                       "with the largest gaps are targeted"}
            for t in targets[self.options.max_targets :]
        }  # fmt: skip
        targets = targets[: self.options.max_targets]
        # The budget is the time for generation and checking: it starts now.
        self._deadline = time.monotonic() + self.options.budget_s
        self._budget_ends_s = self._deadline - self.started
        self._bank = None
        self._targets = {t.module: t for t in targets}
        # Modules no test touched count against the baseline, as they would for a user.
        for target in targets:
            if target.module not in self._baseline.files:
                self._baseline.files[target.module] = FileCoverage(
                    missing=set(target.missing_lines)
                )
        # Engines whose runs end early (a search that converged, a module with little to call)
        # get later passes over the modules with real gaps, in the time the first one leaves.
        items = self._item_keys()
        result = {"count": len(items), "items": items,
                  "gaps": {t.module: t.gap for t in targets}}  # fmt: skip
        self._record("plan", result)
        return result

    def _save_candidate(self, candidate: Candidate) -> str:
        rel = f"candidates/{candidate.candidate_id}-t{candidate.turn}{_suffix(candidate.path)}"
        path = self.stores.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(candidate.code)
        (self.stores.work / "candidates").mkdir(parents=True, exist_ok=True)
        (self.stores.work / "candidates" / f"{candidate.candidate_id}.json").write_text(
            candidate.model_dump_json()
        )
        return rel

    def _load_candidate(self, candidate_id: str) -> Candidate:
        data = (self.stores.work / "candidates" / f"{candidate_id}.json").read_text()
        return Candidate.model_validate_json(data)

    def generate(self, item: dict[str, Any]) -> dict[str, Any]:
        module, number = item_target(item["target"])
        target = self._targets[module]
        files = self._item(item)
        files.reset()  # an item run again (a resumed Map) starts clean
        earlier = self._earlier_pass(module) if number > 1 else None
        allotment = self._time_bank().allot(item["target"], time.monotonic())
        skip = earlier
        if skip is None and allotment.reason is not None and number > 1:
            skip = Skip("no time left for another pass")
        if skip is not None:
            self._time_bank().release(item["target"], time.monotonic())
            return self._skip(files, target, skip.reason)
        if allotment.reason is not None:
            return self._nothing(files, target, "budget_spent", allotment.reason)
        project = self._project_of(module)
        context = self._context(project, allotment.generate_s)
        try:
            candidate = self.engine.generate(
                projects.target_in(project.root, target), context, int(item.get("index", 0))
            )
        except NothingGenerated as nothing:
            return self._nothing(
                files, target, nothing.kind, nothing.reason, detail=nothing.detail,
                allotted_s=allotment.generate_s, key=item["target"],
            )  # fmt: skip
        except AssayError as error:  # the model unreachable, say: this target only
            return self._nothing(files, target, "model_error", error.message,
                                 allotted_s=allotment.generate_s, key=item["target"])  # fmt: skip
        if candidate is None:
            return self._nothing(files, target, "no_tests", "the engine produced no test file",
                                 allotted_s=allotment.generate_s, key=item["target"])  # fmt: skip
        candidate = projects.candidate_out(project.root, candidate)
        files.save_generation({"module": target.module, "produced": True,
                               "allotted_s": allotment.generate_s})  # fmt: skip
        rel = self._save_candidate(candidate)
        self._record_item(
            files,
            "generate",
            {
                "module": target.module,
                "candidate": candidate.candidate_id,
                "engine": self.engine.name,
                "usage": candidate.usage.model_dump(),
                "allotted_s": allotment.generate_s,
                "notes": candidate.notes,
            },
            [rel],
        )
        return {"produced": True, "candidate_id": candidate.candidate_id, "turn": candidate.turn}

    def _earlier_pass(self, module: str) -> Skip | None:
        """For a later pass over `module`: why to skip it, if the first pass says so (when it
        has not finished, or ran in another process, the later pass just runs)."""
        first = ItemFiles(self.stores.work / "items" / f"{self._first_index(module):05d}")
        outcome = first.generation() or {}
        if outcome.get("kind") in {"import_failed", "nothing_to_call"}:
            return Skip(f"the first pass found: {outcome.get('reason')}")
        evaluation = first.evaluation()
        if evaluation is None or evaluation.coverage is None:
            return None
        target = self._targets[module]
        covered = evaluation.coverage.files.get(module)
        if (
            covered is not None
            and not (set(target.missing_lines) - covered.executed)
            and not (set(target.missing_branches) - covered.executed_branches)
        ):
            return Skip("the first pass covered the whole gap")
        return None

    def _first_index(self, module: str) -> int:
        return list(self._targets).index(module)

    def _skip(self, files: ItemFiles, target: Target, reason: str) -> dict[str, Any]:
        """A later pass with nothing to do: not a gap, just said."""
        files.save_generation({"module": target.module, "produced": False, "kind": "skipped",
                               "reason": reason})  # fmt: skip
        self._record_item(files, "generate", {"module": target.module, "produced": False,
                                              "skipped": reason})  # fmt: skip
        return {"produced": False, "reason": reason}

    def _nothing(
        self,
        files: ItemFiles,
        target: Target,
        kind: str,
        reason: str,
        *,
        detail: str = "",
        allotted_s: float = 0.0,
        key: str | None = None,
    ) -> dict[str, Any]:
        """A target the engine left without a candidate: why, kept for the report."""
        self._time_bank().release(key or target.module, time.monotonic())
        outcome = {"module": target.module, "produced": False, "kind": kind, "reason": reason,
                   "detail": detail[-2000:], "allotted_s": allotted_s}  # fmt: skip
        files.save_generation(outcome)
        self._record_item(files, "generate", {k: v for k, v in outcome.items() if k != "detail"})
        return {"produced": False, "reason": reason}

    def execute(self, item: dict[str, Any]) -> dict[str, Any]:
        candidate = self._load_candidate(item["candidate"]["candidate_id"])
        project = self._project_of(candidate.module)
        evaluation = projects.evaluation_out(
            project.root,
            self._evaluator(project).evaluate(projects.candidate_in(project.root, candidate)),
        )
        assert self._baseline is not None
        feedback = evaluation.feedback(self._baseline)
        can_repair = (
            feedback is not None
            and self.engine.repairs
            and candidate.turn < self.options.repair_turns
            and time.monotonic() < self._deadline
        )
        files = self._item(item)
        files.save_evaluation(evaluation)  # the latest turn's is the item's verdict
        if can_repair:
            assert feedback is not None
            (
                self.stores.work / "candidates" / f"{candidate.candidate_id}.feedback.json"
            ).write_text(feedback.model_dump_json())
        else:  # the item is done: what it reserved and did not use goes back
            self._time_bank().release(item["target"], time.monotonic())
        payload = {
            "candidate": candidate.candidate_id,
            "turn": candidate.turn,
            "reached": evaluation.reached.value,
            "discarded_at": evaluation.discarded_at.value if evaluation.discarded_at else None,
            "reason": evaluation.reason,
            "findings": len(evaluation.findings),
            "repair": can_repair,
        }
        self._record_item(files, "execute", payload)
        return {"repair": can_repair, "reached": evaluation.reached.value}

    def repair(self, item: dict[str, Any]) -> dict[str, Any]:
        candidate = self._load_candidate(item["candidate"]["candidate_id"])
        target = self._targets[candidate.module]
        feedback = Feedback.model_validate_json(
            (
                self.stores.work / "candidates" / f"{candidate.candidate_id}.feedback.json"
            ).read_text()
        )
        project = self._project_of(candidate.module)
        repaired = self.engine.repair(
            projects.target_in(project.root, target),
            projects.candidate_in(project.root, candidate),
            feedback,
            self._context(project),
        )
        if repaired is None:
            self._time_bank().release(item["target"], time.monotonic())
            return {"produced": False, "reason": "the engine could not repair the candidate"}
        repaired = projects.candidate_out(project.root, repaired)
        rel = self._save_candidate(repaired)
        self._record_item(
            self._item(item),
            "repair",
            {
                "candidate": repaired.candidate_id,
                "turn": repaired.turn,
                "stage": feedback.stage,
                "usage": repaired.usage.model_dump(),
            },
            [rel],
        )
        return {"produced": True, "candidate_id": repaired.candidate_id, "turn": repaired.turn}

    def select(self, state: dict[str, Any]) -> dict[str, Any]:
        assert self._baseline is not None
        self._merge_items(state.get("candidates") or [])
        verdicts = selection.by_gain(self._evaluations, self._baseline)
        gained = [v for v in verdicts if v.status == "kept"]
        files = {v.evaluation.candidate.path: v.evaluation.candidate.code for v in gained}
        runs: list[tuple[str, TestRun]] = []
        for project in self._active():
            detection, _ = self._parts(project)
            mine = {projects.local(project.root, path): code for path, code in files.items()
                    if self._project_of(path) is project}  # fmt: skip
            if mine or detection.test_files:
                run = self._run_suite(project, "suite", mine)
                runs.append((project.root, projects.run_out(project.root, run)))
        if runs:
            suite = projects.combined(runs)
            verdicts = selection.confirm_in_suite(verdicts, suite)
            self._suite = suite
        self._verdicts = verdicts
        kept = [v for v in verdicts if v.status == "kept"]
        written = [self._kept_path(v.evaluation.candidate.path) for v in kept]
        for verdict, rel in zip(kept, written, strict=True):
            path = self.stores.out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(verdict.evaluation.candidate.code)
        counts = selection.funnel_counts(self._generated, verdicts)
        result = {"funnel": counts, "kept": written}
        self._record("select", result, written)
        return result

    def findings(self, state: dict[str, Any]) -> dict[str, Any]:
        found: list[dict[str, Any]] = []
        for evaluation in self._evaluations:
            for finding in evaluation.findings:
                rel = f"findings/{finding.finding_id}{_suffix(finding.test_id.split('::')[0])}"
                path = self.stores.out / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(finding.test_code)
                found.append(
                    {
                        "finding_id": finding.finding_id,
                        "test_id": finding.test_id,
                        "module": finding.module,
                        "error_type": finding.error_type,
                        "message": finding.message,
                        "detail": finding.detail,
                        "path": rel,
                        "runs": finding.runs,
                    }
                )
        self._findings = found
        self._record("findings", {"count": len(found)}, [str(f["path"]) for f in found])
        return {"count": len(found)}

    def mutation(self, state: dict[str, Any]) -> dict[str, Any]:
        """With `--mutation`: mutate the modules that have kept tests and run only those tests
        against each mutant, within the mutation budget; per module, killed of total and the
        surviving mutants."""
        if not self.options.mutation:
            return {"skipped": "not asked for"}
        kept = [v.evaluation.candidate for v in self._verdicts if v.status == "kept"]
        mine = {p.root: [c for c in kept if self._project_of(c.module) is p]
                for p in self._active()}  # fmt: skip
        measured = [p for p in self._active() if mine[p.root]]
        tools = {p.root: self._runtime_of(p).mutation_tool() for p in self._active()}
        why = None
        if len(self._active()) == 1:
            tool = tools[self._active()[0].root]
            if tool is None or not kept:
                why = (f"no mutation tool for {self.detection.language} yet" if tool is None
                       else "no kept tests to measure")  # fmt: skip
        elif not measured:
            why = "no kept tests to measure"
        elif all(tools[p.root] is None for p in measured):
            why = "; ".join(f"{p.name}: no mutation tool for {p.language} yet" for p in measured)
        if why is not None:
            self._mutation = {"tool": None, "skipped": why}
            self._record("mutation", self._mutation)
            return {"skipped": why}
        results: list[MutationResult] = []
        unmeasured: list[str] = []
        budget_s = self.options.mutation_budget_s / max(1, len(measured))
        for project in measured:
            tool = tools[project.root]
            if tool is None:
                unmeasured.append(f"{project.name}: no mutation tool for {project.language} yet")
                continue
            detection, environment = self._parts(project)
            files = {projects.local(project.root, c.path): c.code for c in mine[project.root]}
            modules = sorted({projects.local(project.root, c.module) for c in mine[project.root]})
            name = f"mutation-{projects.view_name(project)}" if project.root else "mutation"
            workdir = Workspace(self._view(project), self.stores.work / "runs").fresh(name, files)
            try:
                found = tool.run(
                    environment, detection, workdir, modules=modules, tests=sorted(files),
                    sandbox=self.sandbox, budget_s=budget_s,
                )  # fmt: skip
            except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
                # What the tool left is the sandbox's: a report that does not read is a
                # measurement that failed, never the analysis.
                found = MutationResult(tool=tool.name, modules={}, complete=False,
                                       reason=f"the {tool.name} report could not be read: "
                                       f"{type(exc).__name__}: {exc}"[:300])  # fmt: skip
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            named = {projects.prefixed(project.root, n): m for n, m in found.modules.items()}
            results.append(found.model_copy(update={"modules": named}))
        result = results[0] if len(results) == 1 and not unmeasured else MutationResult(
            tool=" + ".join(sorted({r.tool for r in results})) or "none",
            modules={n: m for r in results for n, m in r.modules.items()},
            complete=all(r.complete for r in results) and not unmeasured,
            reason="; ".join([r.reason for r in results if r.reason] + unmeasured),
        )  # fmt: skip
        totals = result.totals()
        self._mutation = {
            "tool": result.tool,
            "complete": result.complete,
            "reason": result.reason,
            "score": totals.score,
            "killed": totals.killed,
            "total": totals.total,
            "modules": {
                name: {"killed": m.killed, "survived": m.survived, "uncovered": m.uncovered,
                       "total": m.total, "score": m.score,
                       "survivors": [s.model_dump() for s in m.survivors]}
                for name, m in result.modules.items()
            },
        }  # fmt: skip
        out = self.stores.out / "mutation.json"
        out.write_text(json.dumps(self._mutation, indent=1, sort_keys=True))
        summary = {k: self._mutation[k] for k in ("tool", "score", "killed", "total", "complete")}
        self._record("mutation", summary, ["mutation.json"])
        return summary

    def report_body(self, status: str, reason: str | None) -> dict[str, Any]:
        return reports.body(
            self.export_state(), analysis_id=self.options.analysis_id,
            target=self.options.target, engine=self.engine, status=status, reason=reason,
            duration_s=time.monotonic() - self.started,
            tests_in_tests_dir=self._runtime.tests_in_tests_dir if self._runtime else True,
            place=self._kept_path if self._projects else None,
        )  # fmt: skip

    def _write_report(self, status: str, reason: str | None) -> dict[str, Any]:
        body = self.report_body(status, reason)
        out = self.stores.out
        (out / "evidence").mkdir(parents=True, exist_ok=True)
        (out / REPORT_BODY).write_bytes(canonical(body))
        kept_results = []
        if self._suite is not None:
            kept_paths = {t["project_path"] for t in body["tests"] if t["status"] == "kept"}
            kept_results = [r for r in self._suite.tests if r.file in kept_paths]
        reports.write_junit(out / "junit.xml", kept_results)
        artifacts = [REPORT_BODY, "junit.xml"]
        self._record("report", {"status": status, "funnel": body["funnel"]}, artifacts)
        self._body = body
        return body

    def report(self, state: dict[str, Any]) -> dict[str, Any]:
        body = self._write_report("succeeded", None)
        return {"status": body["status"], "funnel": body["funnel"]}

    def seal(self, state: dict[str, Any]) -> dict[str, Any]:
        checkpoint = self.evidence.seal(self.signer)
        body = self._body or json.loads((self.stores.out / REPORT_BODY).read_bytes())
        reports.finish(
            self.stores.out, body, checkpoint.head, checkpoint.count, checkpoint.signature.key_id
        )
        return {"head": checkpoint.head, "entries": checkpoint.count}

    def record_cancellation(self, reason: str) -> None:
        """A cancelled analysis still ends with a sealed report saying so."""
        self._record("cancel", {"reason": reason})
        self._write_report("cancelled", reason)
        self.seal({})

    def record_resume(self, state: str, attempt: int, discarded: int) -> None:
        self._record("resume", {"from": state, "attempt": attempt, "discarded_entries": discarded})

    def record_failure(self, state: dict[str, Any]) -> dict[str, Any]:
        error = state.get("error") or {}
        reason = f"{error.get('Error', 'error')}: {error.get('Cause', '')}".strip()
        self._write_report("failed", reason)
        self.seal(state)
        return {"reason": reason}
