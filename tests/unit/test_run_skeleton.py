"""The one `run_tests` every runtime shares: a fresh `.assay` folder, the runtime's commands in
the sandbox, then its readers; a run the runner never recorded, and the output's cap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay.runtimes import port
from assay.runtimes.port import OUTPUT_CAP, Commands, Detection, Environment, Idioms, Ran, Runtime
from assay.sandbox import Job, Limits, Outcome, Sandbox
from assay.sandbox.port import Ending


class Scripted(Sandbox):
    """Writes the runner's record of one step (or none) instead of running the job."""

    isolation = "none"

    def __init__(self, step: dict[str, Any] | None, ending: Ending = Ending.EXITED) -> None:
        self.step, self.ending = step, ending
        self.jobs: list[Job] = []

    def run(self, job: Job) -> Outcome:
        self.jobs.append(job)
        if self.step is not None:
            record = {"steps": [self.step]}
            (job.workdir / ".assay" / "runner.json").write_text(json.dumps(record))
        code = 0 if self.ending is Ending.EXITED else None
        return Outcome(ending=self.ending, exit_code=code, reason=str(self.ending),
                       stdout="", stderr="", duration_s=1.5)  # fmt: skip


class Toy(Runtime):
    """A runtime that is only its commands and its result reader."""

    language = "toy"

    def __init__(self, decided: port.TestRun | None = None) -> None:
        self.decided = decided
        self.read: list[Ran] = []

    def commands(self, env: Environment, detection: Detection, workdir: Path, tests: list[str],
                 *, limits: Limits, collect_only: bool) -> Commands:  # fmt: skip
        assert (workdir / ".assay" / "runner.py").is_file()  # staged first
        step = {"name": "tests", "argv": ["toy", "--check" if collect_only else "--run"]}
        return Commands(steps=[step], env={"TOY": "1"}, limits=limits.model_copy(
            update={"wall_s": 99}), decided=self.decided)  # fmt: skip

    def read_results(self, ran: Ran) -> port.TestRun:
        self.read.append(ran)
        found = [port.TestCaseResult(test_id="t::a", file="t", outcome="failed")]
        return ran.finished(found, None, reason=ran.verdict(found, "toy failed"))

    def detect(self, root: Path) -> Detection | None:
        return None

    def prepare(self, detection: Detection, root: Path, sandbox: Sandbox, cache: Path,
                extra_tools: list[str]) -> Environment:  # fmt: skip
        raise NotImplementedError

    def availability(self) -> tuple[bool, str]:
        return True, "toy"

    def idioms(self, detection: Detection) -> Idioms:
        raise NotImplementedError

    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        return module

    def import_hint(self, module: str, detection: Detection) -> str:
        return module


ENV = Environment(interpreter=Path("/usr/bin/toy"), readonly=[Path("/opt/toy")], key="k",
                  tools=[])  # fmt: skip
DETECTION = Detection(language="toy", test_runner="toy", package_manager="none",
                      source_roots=["."], modules=["m"], test_files=[])  # fmt: skip


def _run(runtime: Toy, sandbox: Scripted, workdir: Path, *, collect_only: bool) -> port.TestRun:
    return runtime.run_tests(ENV, DETECTION, workdir, ["t"], sandbox, limits=Limits(),
                             collect_only=collect_only)  # fmt: skip


def test_a_full_run_is_read_by_the_runtime_with_the_output_tail_kept(tmp_path: Path) -> None:
    sandbox = Scripted({"exit_code": 1, "output": "x" * OUTPUT_CAP + "the end"})
    runtime = Toy()
    run = _run(runtime, sandbox, tmp_path, collect_only=False)
    assert (run.ok, run.reason, run.duration_s) == (False, "some tests failed", 1.5)
    assert len(run.output) == OUTPUT_CAP and run.output.endswith("the end")
    (job,) = sandbox.jobs
    assert job.env == {"TOY": "1"} and job.limits.wall_s == 99
    assert Path("/opt/toy") in job.readonly
    job_file = json.loads((tmp_path / ".assay" / "job.json").read_text())
    assert job_file["steps"][0]["argv"] == ["toy", "--run"]
    (ran,) = runtime.read
    assert (ran.code, ran.tests, ran.workdir) == (1, ["t"], tmp_path)


def test_a_check_says_the_runtime_s_words_on_its_exit_code(tmp_path: Path) -> None:
    runtime = Toy()
    built = _run(runtime, Scripted({"exit_code": 0, "output": "ok"}), tmp_path, collect_only=True)
    assert (built.ok, built.reason, built.output) == (True, "the tests build", "ok")
    broken = _run(runtime, Scripted({"exit_code": 2}), tmp_path, collect_only=True)
    assert (broken.ok, broken.reason) == (False, "the tests do not build")
    assert runtime.read == []  # a check never reads results


def test_a_run_the_runner_never_recorded_says_what_the_sandbox_saw(tmp_path: Path) -> None:
    run = _run(Toy(), Scripted(None, Ending.TIMEOUT), tmp_path, collect_only=False)
    assert not run.ok and run.reason == "the test run timeout" and run.duration_s == 1.5


def test_a_run_decided_by_the_commands_never_reaches_the_sandbox(tmp_path: Path) -> None:
    decided = port.TestRun(ok=True, reason="not checked: the test run decides")
    sandbox = Scripted({"exit_code": 1})
    assert _run(Toy(decided), sandbox, tmp_path, collect_only=True) == decided
    assert sandbox.jobs == []
