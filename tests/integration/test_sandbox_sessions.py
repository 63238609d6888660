"""Fargate sandbox sessions against the stand-in (tests/support/fargate.py): moto's S3 over
HTTP on loopback and the real runner in `--session` mode, started as the workflow's
RunSession state would start it (its Parameters rendered from the definition)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.analysis.pipeline import definition
from assay.sandbox import Job, Limits
from assay.sandbox.fargate import FargateSessions
from assay.sandbox.port import Ending, SandboxUnavailable
from assay.sandbox.sessions import SessionRef, Suspended
from assay.workflow import paths
from tests.support.fargate import BUCKET, SessionTasks, fake_sessions

SCOPE = "tenants/t1/analyses/a1/run/sandbox"


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[tuple[FargateSessions, SessionTasks, Any]]:
    with fake_sessions(tmp_path) as made:
        yield made


def _start(tasks: SessionTasks, ref: SessionRef) -> threading.Thread:
    """The task as Step Functions starts it: the definition's own RunSession parameters."""
    phase = definition()["States"]["FinishPhase"]
    (state,) = phase["Branches"][0]["States"].values()
    parameters = paths.render(state["Parameters"], {"session": ref.model_dump()}, {})
    thread = threading.Thread(target=tasks, args=(parameters,), daemon=True)
    thread.start()
    return thread


def _job(work: Path, script: str) -> Job:
    work.mkdir(parents=True, exist_ok=True)
    return Job(argv=["/bin/sh", "-c", script], workdir=work, limits=Limits(wall_s=30))


def test_one_task_runs_a_whole_unit_of_works_jobs_each_from_a_clean_slate(
    sessions: tuple[FargateSessions, SessionTasks, Any], tmp_path: Path
) -> None:
    port, tasks, s3 = sessions
    ref = port.open(SCOPE, image="python", network=False, lifetime_s=600)
    assert port.ready(ref) is False  # no task yet: the workflow waits, not a step
    task = _start(tasks, ref)
    deadline = time.monotonic() + 30
    while not port.ready(ref) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert port.ready(ref), tasks.stderr
    first = port.sandbox(ref)
    built = first.run(_job(tmp_path / "w1", "echo built > out.txt; echo stray > stray.txt"))
    assert built.ok, tasks.stderr
    assert (tmp_path / "w1" / "out.txt").read_text() == "built\n"
    # The next job does not see what the previous one left in the task.
    clean = first.run(_job(tmp_path / "w2", "test ! -e ../w1/stray.txt"))
    assert clean.ok, clean.stdout
    failing = first.run(_job(tmp_path / "w3", "echo failing; exit 3"))
    assert (failing.ending, failing.exit_code) == (Ending.EXITED, 3)
    assert "failing" in failing.stdout
    # Another step invocation (a new sandbox over the same session) goes on where it ended.
    later = port.sandbox(ref).run(_job(tmp_path / "w4", "echo later"))
    assert later.ok and "later" in later.stdout
    port.close(ref)
    task.join(timeout=60)
    assert not task.is_alive()
    # One task start for four jobs; it got one presigned URL (and the session's id).
    (started,) = tasks.started
    assert started["TaskDefinition"] == "assay-sandbox-python"
    assert started["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"] == ["sg-tests"]
    (override,) = started["Overrides"]["ContainerOverrides"]
    assert {e["Name"] for e in override["Environment"]} == {"ASSAY_SESSION_ID",
                                                           "ASSAY_SESSION_URL"}  # fmt: skip
    # Consumed jobs are gone; results stay (a suspended step called again reads them) until
    # the analysis's run files are cleared.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=SCOPE)["Contents"]]
    assert not [k for k in keys if "/jobs/" in k]
    assert len([k for k in keys if "/results/" in k]) == 4


def test_hard_links_travel_both_ways(
    sessions: tuple[FargateSessions, SessionTasks, Any], tmp_path: Path
) -> None:
    """Build caches hard-link their entries (Go's, cargo's target/): a job ships them, and
    what the job links comes back."""
    port, tasks, _ = sessions
    ref = port.open(SCOPE, image="go", network=False, lifetime_s=600)
    task = _start(tasks, ref)
    work = tmp_path / "w"
    (work / "cache").mkdir(parents=True)
    (work / "cache" / "entry").write_text("cached\n")
    (work / "cache" / "entry-link").hardlink_to(work / "cache" / "entry")
    script = "cat cache/entry-link > seen.txt && echo built > out && ln out out-link"
    outcome = port.sandbox(ref).run(_job(work, script))
    port.close(ref)
    task.join(timeout=60)
    assert outcome.ok, (outcome.stdout, tasks.stderr)
    assert (work / "seen.txt").read_text() == "cached\n"
    assert (work / "out-link").read_text() == "built\n"


def test_a_job_past_its_wall_time_is_a_timeout_and_the_session_goes_on(
    sessions: tuple[FargateSessions, SessionTasks, Any], tmp_path: Path
) -> None:
    port, tasks, _ = sessions
    ref = port.open(SCOPE, image="python", network=False, lifetime_s=600)
    task = _start(tasks, ref)
    sandbox = port.sandbox(ref)
    slow = Job(argv=["/bin/sh", "-c", "sleep 5"], workdir=tmp_path / "w",
               limits=Limits(wall_s=0.5))  # fmt: skip
    (tmp_path / "w").mkdir()
    assert sandbox.run(slow).ending is Ending.TIMEOUT
    assert sandbox.run(_job(tmp_path / "v", "true")).ok
    port.close(ref)
    task.join(timeout=60)
    assert len(tasks.started) == 1


def test_a_job_outliving_its_steps_invocation_suspends_the_step_and_runs_once(
    sessions: tuple[FargateSessions, SessionTasks, Any], tmp_path: Path
) -> None:
    """The Lambda's end comes before the job's: the step is suspended; called again (its code
    from the start), it meets the same job, which is not sent twice, and gets its results."""
    port, tasks, s3 = sessions
    ref = port.open(SCOPE, image="python", network=False, lifetime_s=600)
    task = _start(tasks, ref)
    slow = _job(tmp_path / "w", "sleep 2; echo slow > out.txt")
    with pytest.raises(Suspended, match="still running"):
        port.sandbox(ref, step="Install#", deadline=time.monotonic() + 0.3).run(slow)
    outcome = port.sandbox(ref, step="Install#", deadline=time.monotonic() + 60).run(slow)
    assert outcome.ok, outcome.stdout
    assert (tmp_path / "w" / "out.txt").read_text() == "slow\n"
    # The next step goes on after it.
    assert port.sandbox(ref, step="Baseline#").run(_job(tmp_path / "v", "true")).ok
    port.close(ref)
    task.join(timeout=60)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{ref.prefix}/results/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in listed] == ["00000.tar.gz", "00001.tar.gz"]
    assert len(tasks.started) == 1


def test_a_session_whose_task_never_starts_is_given_up(
    sessions: tuple[FargateSessions, SessionTasks, Any],
) -> None:
    port, _, s3 = sessions
    ref = port.open(SCOPE, image="python", network=False, lifetime_s=600)
    later = FargateSessions(port.target, s3=s3, now=lambda: ref.opened_at + 601)
    with pytest.raises(SandboxUnavailable, match="did not start"):
        later.ready(ref)


def test_only_an_install_session_reaches_the_package_repository(
    sessions: tuple[FargateSessions, SessionTasks, Any], tmp_path: Path
) -> None:
    port, _, _ = sessions
    tests = port.open(SCOPE, image="go", network=False, lifetime_s=600)
    install = port.open(SCOPE, image="go", network=True, lifetime_s=600)
    assert (tests.security_groups, install.security_groups) == (["sg-tests"], ["sg-install"])
    job = _job(tmp_path / "w", "true").model_copy(
        update={"limits": Limits(wall_s=30, network=True)}
    )
    with pytest.raises(SandboxUnavailable, match="without it"):
        port.sandbox(tests).run(job)
