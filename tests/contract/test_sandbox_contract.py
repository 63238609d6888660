"""The sandbox port's contract, run against every adapter: the process sandbox, and the Fargate
adapter over its stand-in (tests/support/fargate.py).

What the port promises every caller: the job runs `argv` in its work directory with the
environment it was given (never the caller's), its exit code and output come back, what it
wrote there comes back, a job past its wall time ends as a timeout, and nothing of the job is
left running. What comes back is the job's and untrusted: callers read it through
runtimes.results.read_inside, which follows no link out of the directory.

Isolation itself (no network, a read-only host, no host secrets) is the process sandbox's own
suite (tests/integration/test_process_sandbox.py): the stand-in runs the task's program, not
its container."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.sandbox import Job, Limits, Sandbox
from assay.sandbox.port import Ending


@pytest.fixture(params=["process", "fargate"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    if request.param == "process":
        from assay.sandbox.process import ProcessSandbox

        yield ProcessSandbox(hidden=(tmp_path / "hidden",))
        return
    from tests.support.fargate import fake_fargate

    with fake_fargate(tmp_path / "fargate") as (fargate, _, _):
        yield fargate


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    (path / "in.txt").write_text("given\n")
    return path


def _sh(work: Path, script: str, **limits: float) -> Job:
    return Job(argv=["/bin/sh", "-c", script], workdir=work,
               limits=Limits(**{"wall_s": 60, **limits}))  # fmt: skip


def test_exit_code_and_output_come_back(sandbox: Sandbox, work: Path) -> None:
    outcome = sandbox.run(_sh(work, "echo out; echo err >&2; exit 7"))
    assert outcome.ending is Ending.EXITED
    assert outcome.exit_code == 7 and not outcome.ok
    assert "out" in outcome.stdout
    assert sandbox.run(_sh(work, "true")).ok


def test_the_job_works_in_its_directory_and_what_it_writes_comes_back(
    sandbox: Sandbox, work: Path
) -> None:
    outcome = sandbox.run(_sh(work, "cat in.txt > out.txt; mkdir -p deep/er; echo x > deep/er/f"))
    assert outcome.ok, outcome.reason + outcome.stderr
    assert (work / "out.txt").read_text() == "given\n"
    assert (work / "deep" / "er" / "f").read_text() == "x\n"


def test_the_job_sees_the_environment_it_was_given_and_not_the_callers(
    sandbox: Sandbox, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_CONTRACT_HOST_SECRET", "s3cr3t")
    job = Job(argv=["/bin/sh", "-c", "env > env.txt"], workdir=work,
              env={"GIVEN": "yes"}, limits=Limits(wall_s=60))  # fmt: skip
    assert sandbox.run(job).ok
    seen = (work / "env.txt").read_text()
    assert "GIVEN=yes" in seen
    assert "s3cr3t" not in seen


def test_a_job_past_its_wall_time_is_a_timeout(sandbox: Sandbox, work: Path) -> None:
    outcome = sandbox.run(_sh(work, "sleep 30", wall_s=1))
    assert outcome.ending is Ending.TIMEOUT
    assert not outcome.ok
    assert outcome.duration_s < 25


def test_nothing_of_the_job_is_left_running(sandbox: Sandbox, work: Path) -> None:
    outcome = sandbox.run(_sh(work, "(sleep 30 &) ; echo started"))
    assert outcome.ending is Ending.EXITED
    assert outcome.leftover_processes == 0


def test_a_background_process_holding_the_output_does_not_hold_the_job(
    sandbox: Sandbox, work: Path
) -> None:
    """Through the runner, as every test run goes: a step that leaves a process behind with
    its output pipe open ends when the step does, and the leftover is killed."""
    import shutil
    import sys
    from importlib.resources import files

    shutil.copyfile(str(files("assay.sandbox") / "assay_runner.py"), work / "runner.py")
    job_file = work / "job.json"
    job_file.write_text(
        '{"steps": [{"name": "t", "argv": ["/bin/sh", "-c", "sleep 30 & echo started"]}],'
        ' "results": "results.json"}'
    )
    base = Path(sys.base_prefix)
    outcome = sandbox.run(
        Job(
            argv=[str(base / "bin" / "python3"), "runner.py", "job.json"],
            workdir=work,
            readonly=[base],
            limits=Limits(wall_s=25),
        )
    )
    assert outcome.ending is Ending.EXITED, outcome.reason
    assert outcome.duration_s < 20
    assert '"exit_code": 0' in (work / "results.json").read_text()
    assert "started" in (work / "results.json").read_text()
