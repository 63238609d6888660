"""The selection funnel for one candidate: built -> passed -> reliable, with findings.

A candidate is *built* if its file is collected without errors (JavaScript and TypeScript: it
parses; failing tests are the run's business), *passed* if its tests pass (failing test
functions are pruned and the rest kept), and *reliable* if the pruned file passes N of N
reruns. Tests that fail on an assertion the same way in every rerun are *findings*: possible
bugs in the code under test, reported with their evidence instead of being dropped. Gain and
the final whole-suite check happen in `selection.py`, across candidates, whose funnel counts
take each repair turn as a candidate of its own.
"""

from __future__ import annotations

import shutil
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from assay.engines import Candidate, Feedback
from assay.intake.local import copy_tree
from assay.intake.policy import IntakePolicy
from assay.runtimes import (
    CoverageMap,
    Detection,
    Environment,
    Runtime,
    TestCaseResult,
    TestRun,
)
from assay.runtimes.coverage import FileCoverage
from assay.sandbox import Limits, Sandbox


class Stage(StrEnum):
    GENERATED = "generated"
    BUILT = "built"
    PASSED = "passed"
    RELIABLE = "reliable"
    GAINED = "gained"
    KEPT = "kept"


class Finding(BaseModel):
    """A generated test that fails consistently on an assertion: the code may be wrong."""

    finding_id: str
    candidate_id: str
    module: str
    test_id: str
    test_name: str
    error_type: str
    message: str
    detail: str
    test_code: str
    runs: int


class Evaluation(BaseModel):
    candidate: Candidate
    reached: Stage  # the last stage it passed
    discarded_at: Stage | None = None
    reason: str
    passing_tests: list[str] = Field(default_factory=list)
    coverage: CoverageMap | None = None
    findings: list[Finding] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)  # what went wrong, for a repair turn
    runs: int = 0
    # The stage each earlier turn of this item reached before it was sent back for repair: the
    # funnel counts every turn, so a file refused at build and then repaired is not `built`.
    earlier: list[Stage] = Field(default_factory=list)

    @property
    def survived(self) -> bool:
        return self.discarded_at is None

    def feedback(self, baseline: CoverageMap) -> Feedback | None:
        """What a repair turn needs to know, or None when there is nothing to repair."""
        if not self.survived:
            return Feedback(
                stage=str(self.discarded_at), reason=self.reason, failures=self.failures
            )
        if self.coverage is not None and sum(self.coverage.gain_over(baseline)) == 0:
            missing = sorted(baseline.files.get(self.candidate.module, FileCoverage()).missing)
            return Feedback(
                stage=Stage.GAINED.value,
                reason="the tests pass but cover nothing the existing tests do not",
                still_missing_lines=missing,
            )
        return None


class Workspace:
    """Fresh copies of the snapshot for candidate runs (each run may write anything)."""

    def __init__(self, snapshot: Path, root: Path) -> None:
        self.snapshot = snapshot
        self.root = root

    def fresh(self, name: str, files: dict[str, str]) -> Path:
        workdir = self.root / name
        shutil.rmtree(workdir, ignore_errors=True)
        copy_tree(self.snapshot, workdir, IntakePolicy())
        for rel, content in files.items():
            path = workdir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        return workdir


class Evaluator:
    def __init__(
        self,
        runtime: Runtime,
        environment: Environment,
        detection: Detection,
        sandbox: Sandbox,
        workspace: Workspace,
        *,
        reruns: int,
        limits: Limits,
    ) -> None:
        self._runtime = runtime
        self._env = environment
        self._detection = detection
        self._sandbox = sandbox
        self._workspace = workspace
        self._reruns = reruns
        self._limits = limits

    def _run(self, name: str, files: dict[str, str], tests: list[str], *, collect: bool) -> TestRun:
        workdir = self._workspace.fresh(name, files)
        try:
            return self._runtime.run_tests(
                self._env,
                self._detection,
                workdir,
                tests,
                self._sandbox,
                limits=self._limits,
                collect_only=collect,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def evaluate(self, candidate: Candidate) -> Evaluation:
        key = f"{candidate.candidate_id}-t{candidate.turn}"
        files = {candidate.path: candidate.code}
        invalid = self._runtime.syntax_error(candidate.code)
        if invalid is not None:
            return self._discard(
                candidate, Stage.GENERATED, Stage.BUILT, invalid, [f"SyntaxError: {invalid}"]
            )

        collected = self._run(f"{key}-collect", files, [candidate.path], collect=True)
        if not collected.ok:
            tail = collected.output.strip().splitlines()[-5:]
            return self._discard(
                candidate,
                Stage.GENERATED,
                Stage.BUILT,
                f"collection failed: {collected.reason}",
                tail,
            )

        first = self._run(f"{key}-run1", files, [candidate.path], collect=False)
        runs = [first]
        failing = {t.test_id.rsplit("::", 1)[-1]: t for t in first.failed}
        # Skipped tests neither pass nor fail: they go with the failing ones when pruning.
        skipped = {t.test_id.rsplit("::", 1)[-1] for t in first.skipped} - set(failing)
        if not first.passed:
            findings = self._findings(candidate, failing, runs=1)
            evaluation = self._discard(
                candidate,
                Stage.BUILT,
                Stage.PASSED,
                f"no test passed ({first.counts()}; {first.reason})",
                [f"{t.test_id}: {t.message}" for t in first.failed][:10],
            )
            evaluation.findings = self._confirm(candidate, evaluation.findings or findings)
            return evaluation

        code = candidate.code
        if skipped:
            code = self._runtime.prune(code, skipped) or code
        if failing:
            pruned_code = self._runtime.prune(code, set(failing))
            if pruned_code is None:
                evaluation = self._discard(
                    candidate, Stage.BUILT, Stage.PASSED,
                    f"{len(failing)} test(s) failed and this language's tests cannot be pruned",
                    [f"{t.test_id}: {t.message}" for t in first.failed][:10],
                )  # fmt: skip
                evaluation.findings = self._confirm(
                    candidate, self._findings(candidate, failing, runs=1)
                )
                return evaluation
            code = pruned_code
        kept_files = {candidate.path: code}
        # Reliability: the (pruned) file must pass every rerun.
        # (A pruned file was not what run 1 ran, so it gets all N runs of its own.)
        for attempt in range(1 if code != candidate.code else 2, self._reruns + 1):
            rerun = self._run(f"{key}-run{attempt}", kept_files, [candidate.path], collect=False)
            runs.append(rerun)
            if not rerun.ok:
                return self._discard(
                    candidate,
                    Stage.PASSED,
                    Stage.RELIABLE,
                    f"flaky: failed on rerun {attempt} of {self._reruns} ({rerun.reason})",
                    [f"{t.test_id}: {t.message}" for t in rerun.failed][:10],
                )
        coverage = runs[-1].coverage or CoverageMap()
        pruned = candidate.model_copy(update={"code": code})
        return Evaluation(
            candidate=pruned,
            reached=Stage.RELIABLE,
            reason=f"passed {self._reruns} of {self._reruns} runs"
            + (f"; {len(failing)} failing test(s) pruned" if failing else ""),
            passing_tests=[t.test_id for t in runs[-1].passed],
            coverage=coverage,
            findings=self._confirm(candidate, self._findings(candidate, failing, runs=1)),
            runs=len(runs),
        )

    def _discard(
        self, candidate: Candidate, reached: Stage, at: Stage, reason: str, failures: list[str]
    ) -> Evaluation:
        return Evaluation(
            candidate=candidate, reached=reached, discarded_at=at, reason=reason, failures=failures
        )

    def _findings(
        self, candidate: Candidate, failing: dict[str, TestCaseResult], runs: int
    ) -> list[Finding]:
        return [
            Finding(
                finding_id=f"{candidate.candidate_id}-{name}",
                candidate_id=candidate.candidate_id,
                module=candidate.module,
                test_id=result.test_id,
                test_name=name,
                error_type=result.error_type or "AssertionError",
                message=(result.message or "")[:500],
                detail=(result.detail or "")[-2000:],
                test_code=candidate.code,
                runs=runs,
            )
            for name, result in failing.items()
            if self._runtime.is_assertion_failure(result.error_type, result.message)
        ]

    def _confirm(self, candidate: Candidate, findings: list[Finding]) -> list[Finding]:
        """Keep only findings that fail the same way in every rerun."""
        if not findings:
            return []
        confirmed = {f.test_name: f for f in findings}
        for attempt in range(2, self._reruns + 1):
            run = self._run(
                f"{candidate.candidate_id}-t{candidate.turn}-finding{attempt}",
                {candidate.path: candidate.code},
                [candidate.path],
                collect=False,
            )
            still = {t.test_id.rsplit("::", 1)[-1]: t for t in run.failed}
            for name in list(confirmed):
                result = still.get(name)
                if result is None or not self._runtime.is_assertion_failure(
                    result.error_type, result.message
                ):
                    del confirmed[name]
        return [f.model_copy(update={"runs": self._reruns}) for f in confirmed.values()]
