"""The step host walks a JavaScript, a Go, a Java and a Rust analysis on moto, with the
stand-in Fargate running the real runner.

Every AWS client of the aws profile talks to one moto server over HTTP on loopback (DynamoDB,
S3, KMS); `assay.wiring.make_sessions` builds Fargate sessions because the sandbox's subnets
and groups are set. The definition (`statemachines/analysis.asl.json`) is interpreted by the
local runner, each Task state an "invocation" of the real step entry points
(`functions/steps/handler.py`), and each RunSession state (`ecs:runTask.sync`) starts
`sandbox-tasks/runner/assay_runner.py --remote` in a subprocess with a /tmp of its own
(tests/support/fargate.py), which takes its jobs through presigned URLs.

The step Lambdas run Python only: the walk runs with a PATH on which no toolchain (node, npm,
go, java, mvn, cargo, ...) is found, and every toolchain the Lambda side looks up or starts
is recorded with where; the session's task (the language's image) has the machine's full PATH.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

import tests.integration.test_golang as go_cases
import tests.integration.test_java as java_cases
import tests.integration.test_javascript as js_cases
import tests.integration.test_rust as rust_cases
from assay import tenancy
from assay.analysis import outputs
from assay.analysis.pipeline import definition
from assay.analysis.report import validate
from assay.analysis.steps import RUN_SESSION
from assay.config import load_settings
from assay.records import Analysis, AnalysisStatus
from assay.sandbox.fargate import FargateSessions
from assay.store.dynamodb import table_schema
from assay.wiring import build_ports
from assay.workflow import StateMachine
from stacks.workflow_stack import STEPS
from tests.conftest import REGION
from tests.integration.test_aws_workflow import _as_lambda, _load_handler
from tests.support.fake_llm import ScriptedLLM
from tests.support.fargate import SessionTasks, moto_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUCKET = "assay-lang-artifacts"
TOOLCHAINS = ("node", "npm", "npx", "go", "java", "javac", "mvn", "cargo", "rustc")
# What the step Lambdas' own code may run (intake's git, archives); Python is the Lambda's.
LAMBDA_TOOLS = ("git", "sh", "tar", "gzip")


class ToolchainUsed(AssertionError):
    """The Lambda side looked up or started a toolchain, which a step Lambda does not have."""


@dataclass(frozen=True)
class Case:
    example: str
    image: str
    rules: list[tuple[str, str]]
    finding: str  # how the test id of the one wrong assertion ends (pruned, a finding)


CASES = {
    "javascript": Case(
        "js-shop", "javascript",
        [("Module `src/pricing.js`", js_cases.PRICING_TESTS),
         ("Module `src/cart.js`", js_cases.CART_TESTS)],
        "::pricing median of an even count is the mean of the middle values",
    ),
    "go": Case(
        "go-shop", "go",
        [("Module `pricing/pricing.go`", go_cases.PRICING_TESTS),
         ("Module `cart/cart.go`", go_cases.CART_TESTS)],
        "::TestMedianOfEvenCountIsMeanOfMiddle",
    ),
    "java": Case(
        "java-shop", "java",
        [("Module `src/main/java/shop/Pricing.java`", java_cases.PRICING_TESTS),
         ("Module `src/main/java/shop/Cart.java`", java_cases.CART_TESTS)],
        "::medianOfAnEvenCountIsTheMeanOfTheMiddle",
    ),
    "rust": Case(
        "rust-shop", "rust",
        [("Module `src/pricing.rs`", rust_cases.PRICING_TESTS),
         ("Module `src/cart.rs`", rust_cases.CART_TESTS)],
        "::median_of_an_even_count_is_the_mean_of_the_middle",
    ),
}  # fmt: skip


def _toolchain_on_lambda(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(raises=ToolchainUsed, strict=True, reason=reason)


# Each language as its own tests are marked (toolchain skips, the hosts installs reach), and
# where its runtime needs a toolchain on the step Lambda (the first place the walk stops).
PARAMS = [
    pytest.param("javascript", marks=[*js_cases.pytestmark, _toolchain_on_lambda(
        "Install: runtimes/javascript.py JavaScriptRuntime.prepare runs `node --version` "
        "(_version) and resolves node()/npm_cli() (port.toolchain) on the step Lambda")]),
    pytest.param("go", marks=[go_cases.pytestmark, _toolchain_on_lambda(
        "Install: runtimes/golang.py GoRuntime.prepare runs `go env GOVERSION` (_version) and "
        "`go env GOROOT` (goroot) and resolves go() (port.toolchain) on the step Lambda")]),
    pytest.param("java", marks=[*java_cases.pytestmark, _toolchain_on_lambda(
        "Detect: runtimes/java.py JavaRuntime.build_tool -> maven_here looks up mvn on the step "
        "Lambda (none: the pom is built with javac); Install: JavaRuntime.prepare -> jdk() "
        "looks up javac (port.toolchain)")]),
    pytest.param("rust", marks=[rust_cases.pytestmark, _toolchain_on_lambda(
        "Install: runtimes/rust.py RustRuntime.prepare runs `rustc --print sysroot` (sysroot) "
        "and `rustc -vV` (llvm_tools) on the step Lambda")]),
]  # fmt: skip


@pytest.fixture
def lambda_env(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The aws profile's settings, every client pointed at one moto server on loopback."""
    with moto_server() as endpoint:
        dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        dynamodb.create_table(**table_schema("assay-lang"))
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        kms = boto3.client("kms", region_name=REGION, endpoint_url=endpoint)
        secrets = kms.create_key()["KeyMetadata"]["Arn"]
        signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        env = {
            "ASSAY_PROFILE": "aws",
            "AWS_REGION": REGION,
            "ASSAY_AWS_ENDPOINT_URL": endpoint,
            "ASSAY_TABLE_NAME": "assay-lang",
            "ASSAY_ARTIFACTS_BUCKET": BUCKET,
            "ASSAY_KMS_KEY_ID": secrets,
            "ASSAY_SIGNING_KEY_ID": signing["Arn"],
            "ASSAY_REDIS_URL": redis_url,
            "ASSAY_HOME": str(tmp_path / "lambda-tmp"),
            "ASSAY_SANDBOX_SUBNETS": "subnet-1",
            "ASSAY_SANDBOX_SECURITY_GROUPS": "sg-tests",
            "ASSAY_SANDBOX_INSTALL_SECURITY_GROUPS": "sg-install",
            "ASSAY_REPAIR_TURNS": "1",
            "ASSAY_RERUNS": "2",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        server_log = logging.getLogger("werkzeug")
        level = server_log.level
        server_log.setLevel(logging.WARNING)  # not every request moto serves
        try:
            yield env
        finally:
            server_log.setLevel(level)


def _lambda_path(tmp_path: Path) -> str:
    """A PATH holding only what the step Lambdas' own code runs: no toolchain is found."""
    tools = tmp_path / "lambda-bin"
    tools.mkdir()
    for name in LAMBDA_TOOLS:
        found = shutil.which(name)
        assert found is not None, name
        (tools / name).symlink_to(found)
    for name in ("python3", "python"):
        (tools / name).symlink_to(sys.executable)
    return str(tools)


class Toolchains:
    """Every toolchain this process looks up (shutil.which) or starts (subprocess), with where:
    the innermost Assay frames, `file:function` from the call outward."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.used: list[str] = []
        which, popen = shutil.which, subprocess.Popen
        spy = self

        def spied_which(cmd: Any, mode: int = os.F_OK | os.X_OK, path: Any = None) -> Any:
            spy.note(str(cmd))
            return which(cmd, mode, path)

        class SpiedPopen(popen):  # type: ignore[valid-type,misc]
            def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
                first = args.split()[0] if isinstance(args, str) else args[0]
                spy.note(str(first))
                super().__init__(args, *rest, **options)

        monkeypatch.setattr(shutil, "which", spied_which)
        monkeypatch.setattr(subprocess, "Popen", SpiedPopen)

    def note(self, command: str) -> None:
        if Path(command).name not in TOOLCHAINS:
            return
        frames = [f"{Path(f.filename).name}:{f.name}" for f in traceback.extract_stack()
                  if "/layers/core/assay/" in f.filename]  # fmt: skip
        self.used.append(f"{Path(command).name} from {' < '.join(reversed(frames[-4:]))}")


def _unless_failed(tasks: SessionTasks) -> Callable[[float], None]:
    """A step waiting for its job's results stops once a task failed (in AWS the Parallel's
    failed branch would stop the other; the local runner waits for both)."""

    def sleep(seconds: float) -> None:
        if tasks.failed:
            raise RuntimeError(f"a session's task failed: {tasks.failed[-1][-3000:]}")
        time.sleep(seconds)

    return sleep


def _quick(seconds: float) -> None:
    """The definition's waits (for a session's task to start, between retries), shortened."""
    time.sleep(min(seconds, 0.2))


@pytest.mark.parametrize("language", PARAMS)
def test_the_step_host_walks_an_analysis_with_the_stand_in_fargate(
    language: str, lambda_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[language]
    image_path = os.environ["PATH"]  # the session's task: the language's image, its toolchain
    monkeypatch.setenv("PATH", _lambda_path(tmp_path))
    for tool in TOOLCHAINS:
        assert shutil.which(tool) is None, f"{tool} is still on the Lambda's PATH"
    tasks = SessionTasks(tmp_path / "container", path=image_path, private_tmp=True)
    toolchains = Toolchains(monkeypatch)
    llm = ScriptedLLM(case.rules)
    seen: list[str] = []
    with llm.serve() as base:
        monkeypatch.setenv("ASSAY_OPENAI_API_BASE", base)
        monkeypatch.setenv("ASSAY_OPENAI_API_KEY", "sk-scripted")
        ports = build_ports(load_settings())
        tenant = tenancy.create_tenant(ports.records, "Acme")
        analysis = ports.records.create(
            Analysis(tenant_id=tenant.id, source=str(EXAMPLES / case.example), engine="llm",
                     model="openai/gpt-4o-mini", budget_s=900)
        )  # fmt: skip
        handler = _load_handler()
        sessions = handler._host.ports.sessions
        assert isinstance(sessions, FargateSessions)
        sessions.poll_s = 0.1  # how often a step looks for its job's results (1 s in AWS)
        sessions.sleep = _unless_failed(tasks)
        steps: dict[str, Callable[[Any], Any]] = {
            step: _as_lambda(handler, step, seen) for step in STEPS
        }
        steps[RUN_SESSION] = tasks
        # One Map item at a time: the items would share the process's environment directory.
        StateMachine(definition(), steps, max_workers=1, sleep=_quick).run(
            {"tenant_id": tenant.id, "analysis_id": analysis.id}
        )
    final = ports.records.get(Analysis, tenant.id, analysis.id)
    report_bytes = outputs.report(ports.blobs, tenant.id, analysis.id)
    ports.close()
    assert final is not None

    # A task per session opened, each of the language's task definition and ended cleanly;
    # the install session's alone reached the package repository.
    assert tasks.started, final.reason
    assert len(tasks.started) == seen.count("OpenSession") == seen.count("CloseSession")
    assert tasks.failed == []
    assert {p["TaskDefinition"] for p in tasks.started} == {f"assay-sandbox-{case.image}"}
    groups = [p["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
              for p in tasks.started]  # fmt: skip
    assert groups[0] == ["sg-install"] and all(g == ["sg-tests"] for g in groups[1:]), groups
    # The step Lambdas looked for no toolchain and started none: all of it ran in the tasks.
    if toolchains.used:
        raise ToolchainUsed("\n".join(dict.fromkeys(toolchains.used)) + f"\n({final.reason})")

    assert report_bytes is not None, final.reason
    report = json.loads(report_bytes)
    assert final.status is AnalysisStatus.SUCCEEDED, final.reason
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    assert report["language"] == language
    # Both modules' files built, passed and were kept; the wrong assertion became a finding.
    funnel = report["funnel"]
    assert (funnel["generated"], funnel["kept"]) == (2, 2), funnel
    (finding,) = report["findings"]
    assert finding["test_id"].endswith(case.finding)
