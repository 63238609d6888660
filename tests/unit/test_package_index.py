"""Installs in AWS read a CodeArtifact repository: the index URL carries a short-lived token
and is fetched again before it can expire mid-install; the install job then reads that index
over the install sandbox's network instead of the allow-list proxy. (moto has no
CodeArtifact: botocore's Stubber checks each request against the service model.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from assay.runtimes import Detection
from assay.runtimes.package_index import CodeArtifactIndex
from assay.runtimes.python import PythonRuntime
from assay.sandbox import Job, Outcome, Sandbox
from assay.sandbox.port import Ending, SandboxUnavailable

ENDPOINT = "https://assay-123456789012.d.codeartifact.eu-west-1.amazonaws.com/pypi/pypi-store/"


def _stubbed(tokens: list[str]) -> tuple[object, Stubber]:
    client = boto3.client("codeartifact", region_name="eu-west-1")
    stubber = Stubber(client)
    where = {"domain": "assay", "domainOwner": "123456789012"}
    for token in tokens:
        stubber.add_response(
            "get_authorization_token", {"authorizationToken": token, "expiration": 0},
            {**where, "durationSeconds": 3600},
        )  # fmt: skip
        stubber.add_response(
            "get_repository_endpoint", {"repositoryEndpoint": ENDPOINT},
            {**where, "repository": "pypi-store", "format": "pypi"},
        )  # fmt: skip
    return client, stubber


def test_the_index_url_carries_the_token_and_is_refreshed_before_it_expires() -> None:
    client, stubber = _stubbed(["tok/1+=", "tok2"])
    now = [0.0]
    index = CodeArtifactIndex(client, domain="assay", owner="123456789012",
                              repository="pypi-store", clock=lambda: now[0])  # fmt: skip
    with stubber:
        first = index()
        assert first == (
            "https://aws:tok%2F1%2B%3D@assay-123456789012.d.codeartifact.eu-west-1."
            "amazonaws.com/pypi/pypi-store/simple/"
        )
        now[0] = 2000.0  # within the hour, but less than 20 minutes would be left
        assert index() == first
        now[0] = 2500.0
        assert "aws:tok2@" in index()
        stubber.assert_no_pending_responses()


def test_an_unreachable_repository_is_a_clear_sandbox_error() -> None:
    client = boto3.client("codeartifact", region_name="eu-west-1")
    stubber = Stubber(client)
    stubber.add_client_error("get_authorization_token", "AccessDeniedException", "denied")
    index = CodeArtifactIndex(client, domain="assay", owner="1", repository="r")
    with stubber, pytest.raises(SandboxUnavailable, match="package repository"):
        index()


class Refusing(Sandbox):
    """Keeps the install job it is given and fails it (nothing is installed here)."""

    isolation = "none"

    def __init__(self) -> None:
        self.jobs: list[tuple[Job, dict[str, Any]]] = []

    def run(self, job: Job) -> Outcome:
        spec = json.loads(Path(job.argv[-1]).read_text())
        self.jobs.append((job, spec))
        return Outcome(ending=Ending.EXITED, exit_code=1, reason="refused", stdout="",
                       stderr="refused", duration_s=0.0)  # fmt: skip


@pytest.mark.parametrize("with_index", [True, False])
def test_the_install_job_reads_the_index_or_goes_through_the_proxy(
    tmp_path: Path, with_index: bool
) -> None:
    url = "https://aws:t@repo.example/pypi/r/simple/"
    runtime = PythonRuntime(package_index=(lambda: url) if with_index else None)
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "mod.py").write_text("x = 1\n")
    detection = runtime.detect(project)
    assert isinstance(detection, Detection)
    sandbox = Refusing()
    with pytest.raises(Exception, match="installing the project's dependencies failed"):
        runtime.prepare(detection, project, sandbox, tmp_path / "cache", [])
    ((job, spec),) = sandbox.jobs
    (step,) = spec["steps"]
    env = step["env"]
    if with_index:
        assert env["PIP_INDEX_URL"] == url and "HTTPS_PROXY" not in env
        assert "bridge" not in spec and job.limits.network is True
    else:
        assert "PIP_INDEX_URL" not in env and env["HTTPS_PROXY"].startswith("http://127.0.0.1:")
        assert "bridge" in spec and job.limits.network is False


def test_go_module_downloads_go_through_the_proxy_and_fail_clearly(tmp_path: Path) -> None:
    import shutil as _shutil

    from assay.runtimes.golang import GoRuntime
    from assay.runtimes.port import EnvironmentFailed as GoFailed

    if _shutil.which("go") is None:
        pytest.skip("Go is not installed")
    project = tmp_path / "project"
    project.mkdir()
    (project / "go.mod").write_text(
        "module example.com/x\n\ngo 1.19\n\nrequire rsc.io/quote v1.5.2\n"
    )
    (project / "go.sum").write_text(
        "rsc.io/quote v1.5.2 h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=\n"
    )
    (project / "x.go").write_text("package x\n")
    runtime = GoRuntime(package_hosts=("proxy.golang.org", "sum.golang.org"))
    detection = runtime.detect(project)
    assert detection is not None
    sandbox = Refusing()
    with pytest.raises(GoFailed, match=r"proxy\.golang\.org and sum\.golang\.org"):
        runtime.prepare(detection, project, sandbox, tmp_path / "cache", [])
    ((job, spec),) = sandbox.jobs
    (step,) = spec["steps"]
    assert step["argv"][1:] == ["mod", "download"]
    assert step["env"]["HTTPS_PROXY"].startswith("http://127.0.0.1:")  # the only way out
    assert step["env"]["GOMODCACHE"].endswith("/mod") and "bridge" in spec
    assert job.limits.network is False
    assert not list((tmp_path / "cache" / "envs").glob("*/.ready"))  # nothing half-made kept
