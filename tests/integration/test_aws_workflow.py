"""One analysis walked through the step Lambdas, as Step Functions would run them.

The real entry point (`functions/steps/handler.py`) is loaded with the aws profile's settings:
records in DynamoDB, files in S3 and evidence signed by an asymmetric key in KMS (all moto),
limits on a real Redis server, the LLM a scripted OpenAI-compatible server on loopback. The
definition is `statemachines/analysis.asl.json`, interpreted by the local runner; every state
is its own "invocation" (the state passed through JSON, a fresh scratch directory), so nothing
but S3 and DynamoDB carries anything from one step to the next.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest

from assay import tenancy
from assay.analysis import outputs
from assay.analysis.pipeline import definition
from assay.analysis.report import validate
from assay.analysis.steps import RUN_SESSION
from assay.config import Settings, load_settings
from assay.evidence import verify_dir
from assay.evidence.signers import KmsSigner
from assay.records import Analysis, AnalysisEvent, AnalysisStatus
from assay.store.dynamodb import table_schema
from assay.wiring import build_ports
from assay.workflow import StateMachine
from stacks.workflow_stack import STEPS
from tests.conftest import REGION
from tests.integration.conftest import EXAMPLE, REGISTRY
from tests.integration.test_pipeline import CART_BROKEN, CART_REPAIRED, PRICING_TESTS
from tests.support.fake_llm import ScriptedLLM
from tests.support.modules import load

HANDLER = Path(__file__).resolve().parents[2] / "functions" / "steps" / "handler.py"
BUCKET = "assay-wf-artifacts"


@pytest.fixture
def lambda_env(
    aws: None, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    boto3.client("dynamodb", region_name=REGION).create_table(**table_schema("assay-wf"))
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    kms = boto3.client("kms", region_name=REGION)
    secrets = kms.create_key()["KeyMetadata"]["Arn"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    env = {
        "ASSAY_PROFILE": "aws",
        "AWS_REGION": REGION,
        "ASSAY_TABLE_NAME": "assay-wf",
        "ASSAY_ARTIFACTS_BUCKET": BUCKET,
        "ASSAY_KMS_KEY_ID": secrets,
        "ASSAY_SIGNING_KEY_ID": signing["Arn"],
        "ASSAY_REDIS_URL": redis_url,
        "ASSAY_HOME": str(tmp_path / "lambda-tmp"),
        "ASSAY_REPAIR_TURNS": "2",
        "ASSAY_RERUNS": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _load_handler() -> ModuleType:
    return load(HANDLER, "assay_steps_handler")


def _context(step: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=f"assay-{step}", memory_limit_in_mb=3008, aws_request_id="req-1",
        get_remaining_time_in_millis=lambda: 900_000,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:assay-{step}",
    )  # fmt: skip


def _as_lambda(handler: ModuleType, step: str, seen: list[str]) -> Callable[[Any], Any]:
    entry = getattr(handler, STEPS[step][0])

    def invoke(state: Any) -> Any:
        seen.append(step)
        event = json.loads(json.dumps(state))  # what Step Functions would pass
        return json.loads(json.dumps(entry(event, _context(step))))

    return invoke


def _walk(settings: Settings, analysis: Analysis, seen: list[str]) -> None:
    handler = _load_handler()
    steps: dict[str, Callable[[Any], Any]] = {
        step: _as_lambda(handler, step, seen) for step in STEPS
    }
    # The sessions' tasks: served by the process sandbox (no Fargate configured here).
    steps[RUN_SESSION] = handler._host.ports.sessions.serve
    # One item at a time: items of one Lambda container never overlap, and here they would
    # share the process's environment directory.
    StateMachine(definition(), steps, max_workers=1).run(
        {"tenant_id": analysis.tenant_id, "analysis_id": analysis.id}
    )


@REGISTRY
def test_an_analysis_walks_through_the_step_lambdas_on_the_aws_adapters(
    lambda_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = ScriptedLLM(
        [
            ("Your previous test file for `shop/cart.py`", CART_REPAIRED),
            ("Module `shop/pricing.py`", PRICING_TESTS),
            ("Module `shop/cart.py`", CART_BROKEN),
        ]
    )
    # The example with a front end beside it: the step Lambdas analyze the main project only.
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source)
    (source / "web" / "src").mkdir(parents=True)
    (source / "web" / "package.json").write_text('{"name": "web"}')
    (source / "web" / "src" / "a.js").write_text("exports.one = () => 1;\n")
    with llm.serve() as base:
        monkeypatch.setenv("ASSAY_OPENAI_API_BASE", base)
        monkeypatch.setenv("ASSAY_OPENAI_API_KEY", "sk-scripted")
        settings = load_settings()
        ports = build_ports(settings)
        tenant = tenancy.create_tenant(ports.records, "Acme")
        analysis = ports.records.create(
            Analysis(
                tenant_id=tenant.id,
                source=str(source),
                engine="llm",
                model="openai/gpt-4o-mini",
                budget_s=600,
            )
        )
        seen: list[str] = []
        _walk(settings, analysis, seen)

    work = [step for step in seen if "Session" not in step]
    assert work[:5] == ["Intake", "Detect", "Install", "Baseline", "Plan"]
    assert work[-5:] == ["Select", "Findings", "Mutation", "Report", "Seal"]
    # A session per unit of work: install, baseline, each Map item, the steps after the Map.
    items = seen.count("Generate")  # each item starts with one (a repair goes on from Repair)
    assert items == 2
    assert seen.count("OpenSession") == seen.count("CloseSession") == 3 + items
    assert seen.count("Repair") == 1

    final = ports.records.get(Analysis, tenant.id, analysis.id)
    assert final is not None and final.status is AnalysisStatus.SUCCEEDED
    report_bytes = outputs.report(ports.blobs, tenant.id, analysis.id)
    assert report_bytes is not None
    report = json.loads(report_bytes)
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == []
    # The same verdicts as the local runner reaches on the same project and script.
    assert report["funnel"] == {"generated": 3, "built": 2, "passed": 2, "reliable": 2,
                                "gained": 2, "kept": 2}  # fmt: skip
    (finding,) = report["findings"]
    assert finding["test_id"].endswith("test_median_of_even_count_is_mean_of_middle_values")
    assert report["cost"]["prompt_tokens"] == 3 * 900
    assert {"Generate", "Execute", "Repair", "Select"} <= set(report["stages"])
    shop, web = report["projects"]
    assert (shop["root"], shop["status"], shop["funnel"]["kept"]) == (".", "analyzed", 2)
    assert (web["root"], web["language"], web["status"]) == ("web", "javascript", "skipped")
    assert web["reason"].startswith("not analyzed: the AWS workflow analyzes one project")
    assert any(w.startswith("web: not analyzed") for w in report["warnings"])

    # The published bundle verifies against the KMS key's public half.
    bundle = outputs.bundle(ports.blobs, tenant.id, analysis.id)
    out = tmp_path / "bundle"
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        tar.extractall(out, filter="data")
    signer = KmsSigner(lambda_env["ASSAY_SIGNING_KEY_ID"], boto3.client("kms", region_name=REGION))
    verdict = verify_dir(out, signer.public_key_pem())
    assert verdict.ok, verdict
    # Items' entries were chained by Select, in item order, between plan and select.
    kinds = [
        json.loads(line)["type"] for line in (out / "evidence/log.jsonl").read_text().splitlines()
    ]
    assert kinds.index("plan") < kinds.index("generate") < kinds.index("select")
    assert kinds.count("repair") == 1 and kinds[-1] == "report"

    # Progress events from every invocation, numbered without gaps.
    events = ports.records.list(AnalysisEvent, tenant.id, parent=analysis.id, limit=1000).items
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {"intake", "generate", "execute", "repair", "select"} <= {e.type for e in events}

    # Nothing of the run is left behind: not in S3, not in the Lambdas' /tmp.
    run_prefix = f"tenants/{tenant.id}/analyses/{analysis.id}/run/"
    assert list(ports.blobs.list(run_prefix)) == []
    assert not any((settings.home / "steps").glob(f"{analysis.id}*"))
    ports.close()


def test_a_cancelled_analysis_ends_with_a_sealed_report_and_skips_the_rest(
    lambda_env: dict[str, str], tmp_path: Path
) -> None:
    settings = load_settings()
    ports = build_ports(settings)
    tenant = tenancy.create_tenant(ports.records, "Acme")
    analysis = ports.records.create(
        Analysis(tenant_id=tenant.id, source=str(EXAMPLE), engine="offline", budget_s=600)
    )
    handler = _load_handler()
    event = {"tenant_id": tenant.id, "analysis_id": analysis.id}
    handler.intake(dict(event), _context("Intake"))
    running = ports.records.get(Analysis, tenant.id, analysis.id)
    assert running is not None and running.status is AnalysisStatus.RUNNING
    ports.records.update(running.evolve(status=AnalysisStatus.CANCELLED, reason="cancelled by k1"))
    skipped = handler.detect(dict(event), _context("Detect"))
    assert skipped["skipped"] is True
    report = json.loads(outputs.report(ports.blobs, tenant.id, analysis.id) or b"{}")
    assert (report["status"], report["reason"]) == ("cancelled", "cancelled by k1")
    # Later steps, items included, do nothing and end their iteration.
    assert handler.generate({**event, "index": 0, "target": "shop/cart.py"},
                            _context("Generate"))["produced"] is False  # fmt: skip
    assert handler.seal(dict(event), _context("Seal"))["skipped"] is True
    final = ports.records.get(Analysis, tenant.id, analysis.id)
    assert final is not None and final.status is AnalysisStatus.CANCELLED
    ports.close()
