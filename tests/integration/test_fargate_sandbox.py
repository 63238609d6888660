"""The Fargate sandbox adapter against a stand-in for Fargate (tests/support/fargate.py):
moto's Step Functions and S3 over HTTP on loopback, the sandbox-job state machine as deployed,
and a poller running the real runner as the task would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.sandbox import Job, Limits
from assay.sandbox.fargate import FargateSandbox
from assay.sandbox.port import Ending, SandboxUnavailable
from tests.support.fargate import BUCKET, FakeFargate, fake_fargate


@pytest.fixture
def fargate(tmp_path: Path) -> Iterator[tuple[FargateSandbox, FakeFargate, Any]]:
    with fake_fargate(tmp_path) as made:
        yield made


def test_a_job_runs_in_the_task_and_its_work_directory_comes_back(
    fargate: tuple[FargateSandbox, FakeFargate, Any], tmp_path: Path
) -> None:
    sandbox, fake, s3 = fargate
    work = tmp_path / "work"
    work.mkdir()
    (work / "in.txt").write_text("from the step\n")
    script = "cat in.txt > out.txt; ln -s /etc/passwd leak; echo ran in $(pwd); exit 3"
    outcome = sandbox.run(Job(argv=["/bin/sh", "-c", script], workdir=work,
                              limits=Limits(wall_s=30)))  # fmt: skip
    assert outcome.ending is Ending.EXITED and outcome.exit_code == 3, fake.stderr
    # It ran in the container's copy, at the step's own path under the container's root.
    assert f"ran in {tmp_path / 'container'}{work}" in outcome.stdout
    assert (work / "out.txt").read_text() == "from the step\n"
    assert not (work / "leak").exists() and not (work / "leak").is_symlink()
    # The task got two presigned URLs and nothing else: no credentials, no task token.
    (env,) = fake.environments
    assert set(env) == {"ASSAY_JOB_URL", "ASSAY_RESULTS_URL"}
    assert "tenants/t1/analyses/a1/run/sandbox/" in env["ASSAY_JOB_URL"]
    # The job's objects are gone once its results are in.
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="tenants/")
    assert listed.get("KeyCount", 0) == 0


def test_a_job_past_its_wall_time_in_the_task_is_a_timeout(
    fargate: tuple[FargateSandbox, FakeFargate, Any], tmp_path: Path
) -> None:
    sandbox, _, _ = fargate
    work = tmp_path / "work"
    work.mkdir()
    outcome = sandbox.run(Job(argv=["/bin/sh", "-c", "sleep 5"], workdir=work,
                              limits=Limits(wall_s=0.5)))  # fmt: skip
    assert outcome.ending is Ending.TIMEOUT


def test_only_install_jobs_get_the_install_security_group(
    fargate: tuple[FargateSandbox, FakeFargate, Any], tmp_path: Path
) -> None:
    sandbox, fake, _ = fargate
    target = sandbox._target
    work = tmp_path / "work"
    work.mkdir()
    tests = sandbox.run(Job(argv=["/bin/true"], workdir=work))
    install = sandbox.run(Job(argv=["/bin/true"], workdir=work, limits=Limits(network=True)))
    assert tests.ok and install.ok
    assert fake.groups == [set(target.security_groups), set(target.install_security_groups)]
    without = FargateSandbox(
        target.model_copy(update={"install_security_groups": []}), sfn=fake.sfn,
        s3=sandbox._s3, prefix="tenants/t1/x",
    )  # fmt: skip
    with pytest.raises(SandboxUnavailable, match="INSTALL_SECURITY_GROUPS"):
        without.run(Job(argv=["pip", "install", "x"], workdir=tmp_path,
                        limits=Limits(network=True)))  # fmt: skip
    assert len(fake.environments) == 2


def test_an_analysis_runs_its_jobs_in_its_languages_task_definition(
    fargate: tuple[FargateSandbox, FakeFargate, Any], tmp_path: Path
) -> None:
    sandbox, fake, _ = fargate
    work = tmp_path / "work"
    work.mkdir()
    assert sandbox.run(Job(argv=["/bin/true"], workdir=work)).ok
    go = sandbox.scoped("tenants/t1/analyses/a1", image="go")
    assert go.run(Job(argv=["/bin/true"], workdir=work)).ok
    assert go.scoped("tenants/t1/analyses/a1/x").image == "go"  # kept when not given
    assert fake.families == ["assay-sandbox-universal", "assay-sandbox-go"]
