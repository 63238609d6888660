"""statemachines/eval-run.asl.json: valid ASL, deployed by the workflow stack with every
placeholder substituted, a role that lets its Distributed Map start child executions of the
machine and read and write tenants' objects, and the same file run by the local runner."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from assay.workflow import ExecutionFailed, StateMachine, StepError
from stacks.workflow_stack import (
    EVAL_DEFINITION,
    EVAL_MACHINE,
    EVAL_STEPS,
    placeholders,
    substitution,
)
from tests.infra.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def _definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EVAL_DEFINITION.read_text())
    return loaded


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _machine(synthesized: Synthesized) -> dict[str, Any]:
    (machine,) = [
        m
        for m in _resources(synthesized.workflow_json, "AWS::StepFunctions::StateMachine").values()
        if m["Properties"].get("StateMachineName") == EVAL_MACHINE
    ]
    props: dict[str, Any] = machine["Properties"]
    return props


def _statements(template: dict[str, Any], role_logical: str) -> list[dict[str, Any]]:
    found = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


# ---------------------------------------------------------------------- the definition
def test_asl_validator_accepts_the_definition() -> None:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is not installed; run `make setup` (npm ci)")
    done = subprocess.run(
        [str(VALIDATOR), "--json-path", str(EVAL_DEFINITION)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_score_items_is_a_distributed_map_over_the_dataset_in_batches_of_25() -> None:
    states = _definition()["States"]
    assert _definition()["StartAt"] == "Prepare"
    scores = states["ScoreItems"]
    assert scores["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}  # fmt: skip
    assert scores["ItemReader"]["ReaderConfig"] == {"InputType": "JSONL"}
    assert scores["ItemReader"]["Parameters"] == {"Bucket.$": "$.bucket", "Key.$": "$.dataset_key"}
    assert scores["ItemBatcher"]["MaxItemsPerBatch"] == 25
    assert set(scores["ItemBatcher"]["BatchInput"]) == {
        "run_id.$", "tenant_id.$", "bucket.$", "suite_key.$"}  # fmt: skip
    assert scores["ResultWriter"]["Parameters"] == {
        "Bucket.$": "$.bucket", "Prefix.$": "$.results_prefix"}  # fmt: skip
    assert scores["MaxConcurrencyPath"] == "$.concurrency"
    assert scores["ToleratedFailurePercentage"] == 5
    assert scores["Catch"][0]["Next"] == "RecordFailure"
    assert states["RecordFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"
    assert states["Summarize"]["End"] is True


def test_every_task_retries_lambda_errors_and_has_its_functions_timeout() -> None:
    tasks = {name: state for name, state in _definition()["States"].items()
             if state["Type"] == "Task"}  # fmt: skip
    tasks["ScoreBatch"] = _definition()["States"]["ScoreItems"]["ItemProcessor"]["States"][
        "ScoreBatch"
    ]
    timeouts = {name.removeprefix("Eval"): seconds for name, (_, seconds, _) in EVAL_STEPS.items()}
    assert set(tasks) == set(timeouts)
    for name, state in tasks.items():
        assert "Lambda.ServiceException" in state["Retry"][0]["ErrorEquals"], name
        assert state["TimeoutSeconds"] == timeouts[name], name
        if name != "ScoreBatch":  # a failed batch is a failed child, counted by the Map
            assert state["Catch"], name
    assert tasks["ScoreBatch"]["TimeoutSeconds"] < 300  # an Express child's lifetime


# ---------------------------------------------------------------------- the stack
def test_every_placeholder_is_substituted_by_its_function(synthesized: Synthesized) -> None:
    machine = _machine(synthesized)
    named = placeholders(path=EVAL_DEFINITION)
    assert named == {substitution(step) for step in EVAL_STEPS}
    assert set(machine["DefinitionSubstitutions"]) == named
    assert json.loads(machine["DefinitionString"]) == _definition()
    functions = _resources(synthesized.workflow_json, "AWS::Lambda::Function")
    for step, (handler, seconds, _memory) in EVAL_STEPS.items():
        logical = machine["DefinitionSubstitutions"][substitution(step)]["Fn::GetAtt"][0]
        props = functions[logical]["Properties"]
        assert props["Handler"] == f"handler.{handler}"
        assert props["Timeout"] == seconds
        assert props["Runtime"] == "python3.12"
        assert props["TracingConfig"] == {"Mode": "Active"}
        env = props["Environment"]["Variables"]
        assert env["ASSAY_PROFILE"] == "aws" and env["ASSAY_HOME"] == "/tmp/assay"
        assert "ASSAY_SANDBOX_STATE_MACHINE_ARN" not in env  # evals run no sandbox


def test_the_machine_is_named_logs_everything_and_traces(synthesized: Synthesized) -> None:
    machine = _machine(synthesized)
    assert machine["StateMachineName"] == EVAL_MACHINE
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"


def test_its_role_starts_child_executions_of_itself_and_reads_and_writes_tenants_objects(
    synthesized: Synthesized,
) -> None:
    template = synthesized.workflow_json
    machine = _machine(synthesized)
    statements = _statements(template, machine["RoleArn"]["Fn::GetAtt"][0])
    by_action = {a: s for s in statements for a in _actions(s)}
    start = json.dumps(by_action["states:StartExecution"]["Resource"])
    assert start.endswith(f':stateMachine:{EVAL_MACHINE}"]]}}')
    for action in ("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution"):
        assert f":execution:{EVAL_MACHINE}/*" in json.dumps(by_action[action]["Resource"])
    for action in ("s3:GetObject", "s3:PutObject"):
        assert json.dumps(by_action[action]["Resource"]).endswith('/tenants/*"]]}')
    invoked = {r["Fn::GetAtt"][0] for r in by_action["lambda:InvokeFunction"]["Resource"]}
    assert invoked == {
        machine["DefinitionSubstitutions"][substitution(s)]["Fn::GetAtt"][0] for s in EVAL_STEPS
    }
    assert "kms:Decrypt" in by_action  # the artifacts bucket is SSE-KMS
    for statement in statements:
        assert all("*" not in a for a in _actions(statement)), statement


def test_the_api_knows_the_eval_machine_and_may_start_it(synthesized: Synthesized) -> None:
    api = synthesized.api_json
    for function in _resources(api, "AWS::Lambda::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        assert "EvalRun" in json.dumps(env["ASSAY_EVAL_STATE_MACHINE_ARN"])
    starts = [
        s
        for policy in _resources(api, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "states:StartExecution"
    ]
    (start,) = starts
    assert "ExportsOutputRefEvalRun" in json.dumps(start["Resource"])


@mock_aws
def test_moto_step_functions_accepts_the_definition_as_deployed() -> None:
    text = EVAL_DEFINITION.read_text()
    arns = {
        name: f"arn:aws:lambda:us-east-1:123456789012:function:assay-{name}"
        for name in placeholders(path=EVAL_DEFINITION)
    }
    deployed = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: arns[m.group(1)], text)
    assert "${" not in deployed
    client = boto3.client("stepfunctions", region_name="us-east-1")
    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName="assay-eval", AssumeRolePolicyDocument=json.dumps({"Statement": []})
    )["Role"]["Arn"]
    created = client.create_state_machine(
        name=EVAL_MACHINE, definition=deployed, roleArn=role, type="STANDARD"
    )
    described = client.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert json.loads(described["definition"])["States"]["ScoreItems"]["Type"] == "Map"


# ---------------------------------------------------------------------- run locally
class Objects:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def get(self, bucket: str, key: str) -> bytes:
        return self.objects[(bucket, key)]

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.objects[(bucket, key)] = data


RUN: dict[str, Any] = {
    "run_id": "r1",
    "tenant_id": "t1",
    "bucket": "assay-artifacts",
    "suite_key": "tenants/t1/evals/r1/suite.yaml",
    "dataset_key": "tenants/t1/evals/r1/dataset.jsonl",
    "concurrency": 2,
}


class Steps:
    """Stand-ins for functions/evals/handler.py, recording what each receives."""

    def __init__(self, broken_ids: set[int] | None = None) -> None:
        self.broken_ids = broken_ids or set()
        self.batches: list[Any] = []
        self.summarized: list[Any] = []
        self.failures: list[Any] = []

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any]:
        prefix = f"tenants/{payload['tenant_id']}/evals/{payload['run_id']}/map"
        return {**payload, "results_prefix": prefix}

    def score_batch(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        self.batches.append(payload)
        if any(item["id"] in self.broken_ids for item in payload["Items"]):
            raise StepError("Assay.EvalBroken", "the judge answered nonsense")
        return [{"id": item["id"], "passed": True} for item in payload["Items"]]

    def summarize(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.summarized.append(payload)
        return {"passed": True}

    def record_failure(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.failures.append(payload)
        return {"recorded": True}

    def resources(self) -> dict[str, Any]:
        return {
            "EvalPrepare": self.prepare,
            "EvalScoreBatch": self.score_batch,
            "EvalSummarize": self.summarize,
            "EvalRecordFailure": self.record_failure,
        }


def _local_run(steps: Steps, items: int) -> tuple[Objects, Any]:
    objects = Objects()
    lines = "".join(json.dumps({"id": i, "input": f"q{i}"}) + "\n" for i in range(items))
    objects.objects[(RUN["bucket"], RUN["dataset_key"])] = lines.encode()
    machine = StateMachine(
        _definition(), steps.resources(), objects=objects, name=EVAL_MACHINE,
        sleep=lambda _: None,
    )  # fmt: skip
    return objects, machine.run(RUN)


def test_the_local_runner_scores_the_dataset_in_batches_and_summarizes_from_s3() -> None:
    steps = Steps()
    objects, out = _local_run(steps, 60)
    assert sorted(len(b["Items"]) for b in steps.batches) == [10, 25, 25]
    for batch in steps.batches:
        assert batch["BatchInput"] == {"run_id": "r1", "tenant_id": "t1",
                                       "bucket": "assay-artifacts",
                                       "suite_key": RUN["suite_key"]}  # fmt: skip
    (summarized,) = steps.summarized
    details = summarized["ResultWriterDetails"]
    assert details["Bucket"] == "assay-artifacts"
    assert details["Key"].startswith("tenants/t1/evals/r1/map/")
    assert details["Key"].endswith("/manifest.json")
    assert summarized["map_run_arn"].split(":mapRun:")[1].startswith(f"{EVAL_MACHINE}/ScoreItems:")
    assert {k: summarized[k] for k in ("run_id", "tenant_id", "suite_key")} == {
        "run_id": "r1", "tenant_id": "t1", "suite_key": RUN["suite_key"]}  # fmt: skip
    manifest = json.loads(objects.get(details["Bucket"], details["Key"]))
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    records = json.loads(objects.get(manifest["DestinationBucket"], succeeded["Key"]))
    scored = [result for r in records for result in json.loads(r["Output"])]
    assert sorted(result["id"] for result in scored) == list(range(60))
    assert out["summary"] == {"passed": True} and not steps.failures


def test_a_batch_failing_beyond_five_percent_records_the_failure_and_fails_the_run() -> None:
    steps = Steps(broken_ids={30})  # one batch of 25 items: 25 of 60 failed
    with pytest.raises(ExecutionFailed) as failed:
        _local_run(steps, 60)
    assert failed.value.error == "Assay.EvalRunFailed"
    (failure,) = steps.failures
    assert failure["error"]["Error"] == "States.ExceedToleratedFailureThreshold"
    assert failure["run_id"] == "r1" and not steps.summarized
