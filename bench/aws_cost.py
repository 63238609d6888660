"""What an analysis costs in AWS, counted rather than guessed: the analysis walks through the
real step Lambdas (`functions/steps/handler.py`) as `statemachines/analysis.asl.json` orders
them, on moto (DynamoDB, S3, KMS), a real Redis, and a scripted model on loopback, as
tests/integration/test_aws_workflow.py does. Counted: Lambda invocations and their duration by
function memory, state transitions, sandbox sessions (each one a Fargate task start) and the
jobs they ran, every S3, DynamoDB and KMS call. Then priced with the published us-east-1 list
prices below.

Sessions are served by the local process sandbox here (the RunSession states run in process);
on Fargate each is a task start, billed from its start until the steps close it (at least a
minute). No Lambda waits for a start: before a step hands the session its first job, a Wait
loop polls whether the task is up (a SessionReady invocation and three transitions every 10 s,
for `FARGATE_START_S` minus the time since the session was opened; locally sessions are up at
once, so those polls are added here by that model). That start-up
(image pull and provisioning) is a parameter from AWS's published guidance for Fargate tasks
with images of a few hundred MB (tens of seconds), not a measurement.

The figures before sessions (one task per job, each waited for by its step Lambda) are kept in
the results file under "before" (measured by this script at d0ab638).

    .venv/bin/python bench/aws_cost.py [--projects shop twenty] [--fargate-start-s 40]

Results go to bench/results/aws_cost.json. Needs `make setup` (redis-server, the venv) and the
package index (the example installs pytest and coverage into its environment).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Published us-east-1 list prices (USD), as read on 2026-12-05 from the AWS pricing pages;
# check them before relying on the dollars.
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s": 0.0000166667,  # x86
    "sfn_transition": 0.025 / 1000,  # Standard workflows
    "fargate_vcpu_h": 0.04048,  # Linux x86
    "fargate_gb_h": 0.004445,
    "s3_write": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_read": 0.0004 / 1000,  # GET and the rest
    "ddb_write_unit": 0.625 / 1e6,  # on demand
    "ddb_read_unit": 0.125 / 1e6,
    "kms_request": 0.03 / 10_000,  # symmetric
    "kms_asymmetric": 0.15 / 10_000,  # Sign with an ECC key
    "apigw_http_request": 1.00 / 1e6,
}
# One task per job, each start waited for by its step Lambda (this script at d0ab638).
BEFORE = {
    "shop": {"task_starts": 14, "lambda_invocations": 16, "state_transitions": 27,
             "longest_lambda_s": 284.6, "usd_total": 0.038},
    "twenty": {"task_starts": 83, "lambda_invocations": 50, "state_transitions": 113,
               "usd_total": 0.219},
}  # fmt: skip
TASK_VCPU, TASK_GB = 1.0, 2.0  # the sandbox task definitions (stacks/sandbox_stack.py)
POLL_S = 10  # the Wait loop's period before a session's first job (analysis.asl.json)
STEPS_MEMORY_READY = 512  # SessionReady's memory (stacks/workflow_stack.py)
S3_WRITES = {"PutObject", "CopyObject", "ListObjectsV2", "ListObjects", "CreateMultipartUpload",
             "UploadPart", "CompleteMultipartUpload"}  # fmt: skip
DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def twenty_modules(root: Path) -> list[tuple[str, str]]:
    """A project of 20 modules with untested branches, and the scripted model's test for each
    (20 candidates, all of which pass)."""
    package = root / "calc20"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (root / "tests").mkdir()
    (root / "tests" / "test_smoke.py").write_text(
        "from calc20.m00 import step\n\n\ndef test_positive():\n    assert step(1) == 1\n"
    )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "calc20"\nversion = "0.1"\n[tool.setuptools]\npackages = ["calc20"]\n'
    )
    rules = []
    for index in range(20):
        (package / f"m{index:02d}.py").write_text(
            f"def step(x):\n    if x > 0:\n        return x + {index}\n"
            f"    if x == 0:\n        return {index}\n    return x - {index}\n"
        )
        test = (
            "```python\n"
            f"from calc20.m{index:02d} import step\n\n\n"
            f"def test_zero():\n    assert step(0) == {index}\n\n\n"
            f"def test_negative():\n    assert step(-1) == {-1 - index}\n```\n"
        )
        rules.append((f"Module `calc20/m{index:02d}.py`", test))
    return rules


class Meter:
    """Counts AWS calls (by service and operation) and sandbox jobs, attributed to the step
    that made them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.jobs: list[tuple[str, float]] = []  # (step, seconds)
        # Per session: [opened (perf_counter), closed, first job's step, its offset in s].
        self.sessions: dict[str, list[Any]] = {}
        self.job_invocation: list[int] = []  # which invocation ran each job
        self.invocations: list[tuple[str, float, int]] = []  # (step, seconds, memory MB)
        self.transitions = 0
        self.step = ""

    def install(self) -> None:
        import botocore.endpoint

        from assay.sandbox import sessions
        from assay.sandbox.process import ProcessSandbox

        meter = self
        original_request = botocore.endpoint.Endpoint.make_request
        original_run = ProcessSandbox.run
        original_serve = sessions.LocalSessions.serve
        original_submit = sessions.LocalSessions.submit

        def serve(port: Any, parameters: dict[str, Any]) -> Any:
            session = sessions.session_of(parameters)
            meter.sessions[session] = [time.perf_counter(), None, None, None]
            try:
                return original_serve(port, parameters)
            finally:
                meter.sessions[session][1] = time.perf_counter()

        def submit(port: Any, session: str, item: Any) -> None:
            found = meter.sessions.get(session)
            if found is not None and found[2] is None:
                found[2], found[3] = meter.step, time.perf_counter() - found[0]
            original_submit(port, session, item)

        if not getattr(sessions.LocalSessions.serve, "metered", False):
            serve.metered = True  # type: ignore[attr-defined]
            sessions.LocalSessions.serve = serve  # type: ignore[method-assign]
            sessions.LocalSessions.submit = submit  # type: ignore[method-assign]

        def request(endpoint: Any, operation: Any, request_dict: Any) -> Any:
            meter.calls[(operation.service_model.service_name, operation.name)] += 1
            return original_request(endpoint, operation, request_dict)

        def run(sandbox: Any, job: Any) -> Any:
            started = time.perf_counter()
            try:
                return original_run(sandbox, job)
            finally:
                meter.jobs.append((meter.step, time.perf_counter() - started))
                meter.job_invocation.append(len(meter.invocations))

        if not getattr(botocore.endpoint.Endpoint.make_request, "metered", False):
            request.metered = True  # type: ignore[attr-defined]
            botocore.endpoint.Endpoint.make_request = request  # type: ignore[method-assign]
        if not getattr(ProcessSandbox.run, "metered", False):
            run.metered = True  # type: ignore[attr-defined]
            ProcessSandbox.run = run  # type: ignore[method-assign]


def walk(project: str, work: Path, meter: Meter) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from assay.store.dynamodb import table_schema
    from tests.integration.test_pipeline import CART_BROKEN, CART_REPAIRED, PRICING_TESTS
    from tests.support.fake_llm import ScriptedLLM

    source = work / "source"
    if project == "shop":
        shutil.copytree(ROOT / "examples" / "shop", source)
        rules = [("Your previous test file for `shop/cart.py`", CART_REPAIRED),
                 ("Module `shop/pricing.py`", PRICING_TESTS),
                 ("Module `shop/cart.py`", CART_BROKEN)]  # fmt: skip
    else:
        source.mkdir()
        rules = twenty_modules(source)
    with mock_aws():
        region = os.environ["AWS_REGION"]
        boto3.client("dynamodb", region_name=region).create_table(
            **table_schema(os.environ["ASSAY_TABLE_NAME"])
        )
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=os.environ["ASSAY_ARTIFACTS_BUCKET"],
            CreateBucketConfiguration={"LocationConstraint": region},
        )
        kms = boto3.client("kms", region_name=region)
        os.environ["ASSAY_KMS_KEY_ID"] = kms.create_key()["KeyMetadata"]["Arn"]
        os.environ["ASSAY_SIGNING_KEY_ID"] = kms.create_key(
            KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]  # fmt: skip
        llm = ScriptedLLM(rules)
        with llm.serve() as base:
            os.environ["ASSAY_OPENAI_API_BASE"] = base
            return _run(source, meter)


def _run(source: Path, meter: Meter) -> dict[str, Any]:
    from types import SimpleNamespace

    from assay import tenancy
    from assay.analysis import outputs
    from assay.analysis.pipeline import definition
    from assay.analysis.steps import RUN_SESSION
    from assay.config import load_settings
    from assay.records import Analysis
    from assay.wiring import build_ports
    from assay.workflow import StateMachine
    from stacks.workflow_stack import STEPS

    settings = load_settings()
    ports = build_ports(settings)
    tenant = tenancy.create_tenant(ports.records, f"Bench {time.time_ns()}")
    analysis = ports.records.create(Analysis(tenant_id=tenant.id, source=str(source),
                                             engine="llm", model="openai/gpt-4o-mini",
                                             budget_s=900))  # fmt: skip
    spec = importlib.util.spec_from_file_location(
        "assay_steps_handler", ROOT / "functions" / "steps" / "handler.py")  # fmt: skip
    assert spec is not None
    assert spec.loader is not None
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    meter.reset()  # count the analysis, not the setup

    def lambda_for(step: str) -> Any:
        entry = getattr(handler, STEPS[step][0])

        def invoke(state: Any) -> Any:
            meter.step = step
            context = SimpleNamespace(
                get_remaining_time_in_millis=lambda: 900_000,
                function_name=f"assay-{step}",
                aws_request_id="r",
                memory_limit_in_mb=STEPS[step][1],
                invoked_function_arn=f"arn:aws:lambda:x:1:function:{step}",
            )
            started = time.perf_counter()
            try:
                return json.loads(json.dumps(entry(json.loads(json.dumps(state)), context)))
            finally:
                meter.invocations.append((step, time.perf_counter() - started, STEPS[step][1]))

        return invoke

    def counted(kind: str, _state: str, _data: Any) -> None:
        if kind == "entered":
            meter.transitions += 1

    resources = {s: lambda_for(s) for s in STEPS}
    resources[RUN_SESSION] = handler._host.ports.sessions.serve  # ECS's part, in process
    StateMachine(definition(), resources, max_workers=1, on_event=counted).run(
        {"tenant_id": tenant.id, "analysis_id": analysis.id}
    )
    report = json.loads(outputs.report(ports.blobs, tenant.id, analysis.id) or b"{}")
    ports.close()
    return {"status": report.get("status"), "funnel": report.get("funnel")}


def price(meter: Meter, start_s: float) -> dict[str, Any]:
    p = PRICES
    jobs_by_step = Counter(step for step, _ in meter.jobs)
    lambda_gbs = sum(seconds * mb / 1024 for _, seconds, mb in meter.invocations)
    # Until a session's task is up, a Wait loop polls it every 10 s (SessionReady, a Choice
    # and the Wait): no Lambda waits for a start.
    waits = {session: max(0.0, start_s - offset) for session, (_, _, step, offset)
             in meter.sessions.items() if step is not None}  # fmt: skip
    polls = sum(-(-int(wait) // POLL_S) for wait in waits.values())
    waiting_gbs = polls * 0.1 * STEPS_MEMORY_READY / 1024
    # Billed from the start until the steps close the session, one minute at least.
    task_s = sum(max(60.0, start_s + (closed - opened))
                 for opened, closed, _, _ in meter.sessions.values())  # fmt: skip
    s3 = [(op, n) for (service, op), n in meter.calls.items() if service == "s3"]
    ddb = [(op, n) for (service, op), n in meter.calls.items() if service == "dynamodb"]
    kms = [(op, n) for (service, op), n in meter.calls.items() if service == "kms"]
    s3_writes = sum(n for op, n in s3 if op in S3_WRITES)
    s3_reads = sum(n for op, n in s3 if op not in S3_WRITES)
    ddb_writes = sum(n for op, n in ddb if op in DDB_WRITES)
    ddb_reads = sum(n for op, n in ddb if op not in DDB_WRITES)
    kms_sign = sum(n for op, n in kms if op == "Sign")
    kms_other = sum(n for op, n in kms if op != "Sign")
    dollars = {
        "lambda": (len(meter.invocations) + polls) * p["lambda_request"]
        + (lambda_gbs + waiting_gbs) * p["lambda_gb_s"],
        "step_functions": (meter.transitions + 3 * polls) * p["sfn_transition"],
        "fargate": task_s / 3600 * (TASK_VCPU * p["fargate_vcpu_h"] + TASK_GB * p["fargate_gb_h"]),
        "s3": s3_writes * p["s3_write"] + s3_reads * p["s3_read"],
        # One request unit per call: items here are under 1 KB (writes) and 4 KB (reads).
        "dynamodb": ddb_writes * p["ddb_write_unit"] + ddb_reads * p["ddb_read_unit"],
        "kms": kms_other * p["kms_request"] + kms_sign * p["kms_asymmetric"],
    }
    longest = max(((seconds, step) for step, seconds, _ in meter.invocations), default=(0.0, ""))
    return {
        "lambda_invocations": len(meter.invocations),
        "lambda_invocations_by_step": dict(Counter(s for s, _, _ in meter.invocations)),
        "lambda_gb_s_running": round(lambda_gbs, 1),
        "lambda_gb_s_polling_task_starts": round(waiting_gbs, 2),
        "longest_lambda_s": round(longest[0], 1),
        "longest_lambda_step": longest[1],
        "state_transitions": meter.transitions + 3 * polls,
        "wait_loop_polls": polls,
        "task_starts": len(meter.sessions),
        "jobs": len(meter.jobs),
        "jobs_by_step": dict(jobs_by_step),
        "first_job_by_step": dict(Counter(step for _, _, step, _ in meter.sessions.values())),
        "fargate_vcpu_s": round(task_s * TASK_VCPU, 1),
        "fargate_gb_s": round(task_s * TASK_GB, 1),
        "s3_requests": {"write": s3_writes, "read": s3_reads},
        "dynamodb_requests": {"write": ddb_writes, "read": ddb_reads},
        "kms_requests": {"sign": kms_sign, "other": kms_other},
        "usd": {k: round(v, 5) for k, v in dollars.items()},
        "usd_total": round(sum(dollars.values()), 4),
    }


def gateway_per_thousand(upstream_s: float, overhead_s: float = 0.001) -> dict[str, float]:
    """1,000 chat requests through API Gateway (HTTP API) and the gateway Lambda (1,769 MB,
    response streaming: billed while it waits on the model), one usage item written each.
    Redis (ElastiCache) is a fixed hourly cost, not per request."""
    p = PRICES
    lambda_s = upstream_s + overhead_s
    parts = {
        "api_gateway": 1000 * p["apigw_http_request"],
        "lambda": 1000 * (p["lambda_request"] + lambda_s * 1769 / 1024 * p["lambda_gb_s"]),
        "dynamodb_usage": 1000 * p["ddb_write_unit"],
    }
    return {**{k: round(v, 5) for k, v in parts.items()}, "total": round(sum(parts.values()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", nargs="+", default=["shop", "twenty"],
                        choices=["shop", "twenty"])  # fmt: skip
    parser.add_argument("--fargate-start-s", type=float, default=40.0)
    args = parser.parse_args()
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                              "--appendonly", "no"], stdout=subprocess.DEVNULL)  # fmt: skip
    results: dict[str, Any] = {"prices_usd": PRICES, "prices_read": "2026-12-05, us-east-1",
                               "fargate_start_s": args.fargate_start_s}  # fmt: skip
    # The tests' support modules clear ASSAY_* variables when imported: import them first.
    import tests.integration.test_pipeline  # noqa: F401

    meter = Meter()
    meter.install()
    try:
        for project in args.projects:
            with tempfile.TemporaryDirectory() as scratch:
                work = Path(scratch)
                os.environ.update({
                    "ASSAY_PROFILE": "aws", "AWS_REGION": "eu-west-1",
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "ASSAY_TABLE_NAME": "assay-bench", "ASSAY_ARTIFACTS_BUCKET": "assay-bench",
                    "ASSAY_REDIS_URL": f"redis://127.0.0.1:{port}/0",
                    "ASSAY_HOME": str(work / "lambda-tmp"), "ASSAY_REPAIR_TURNS": "2",
                    "ASSAY_RERUNS": "3", "ASSAY_OPENAI_API_KEY": "sk-scripted",
                })  # fmt: skip
                meter.reset()
                outcome = walk(project, work, meter)
                results[project] = {"analysis": outcome, **price(meter, args.fargate_start_s)}
                print(project, json.dumps(results[project], indent=1), flush=True)
        results["gateway_per_1000_requests"] = {
            f"upstream_{s}s": gateway_per_thousand(s) for s in (0.5, 2.0)}  # fmt: skip
    finally:
        redis.terminate()
    out = ROOT / "bench" / "results" / "aws_cost.json"
    results["before"] = BEFORE
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["gateway_per_1000_requests"], indent=1))


if __name__ == "__main__":
    main()
