"""The workflow stack: the state machine from statemachines/analysis.asl.json with every
placeholder substituted, explicit IAM, logging ALL and tracing, and one function per step;
and moto's Step Functions takes the definition as deployed."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
from moto import mock_aws

from stacks.workflow_stack import DEFINITION, EVAL_MACHINE, STEPS, placeholders, substitution
from tests.infra.conftest import Synthesized


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _machine(synthesized: Synthesized) -> dict[str, Any]:
    """The analysis machine (the stack also holds the eval-run machine, tested apart)."""
    (machine,) = [
        m
        for m in _resources(synthesized.workflow_json, "AWS::StepFunctions::StateMachine").values()
        if m["Properties"].get("StateMachineName") != EVAL_MACHINE
    ]
    props: dict[str, Any] = machine["Properties"]
    return props


def _step_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        k: f
        for k, f in _resources(template, "AWS::Lambda::Function").items()
        if f["Properties"]["Description"].startswith("Assay: the analysis workflow's")
    }


def test_every_placeholder_has_a_substitution_and_every_substitution_is_used(
    synthesized: Synthesized,
) -> None:
    machine = _machine(synthesized)
    named = placeholders()
    # The steps' functions, and where the sessions' tasks run.
    assert named == {substitution(step) for step in STEPS} | {"ClusterArn", "ContainerName"}
    assert set(machine["DefinitionSubstitutions"]) == named
    # The template carries the file's text verbatim; CloudFormation substitutes at deploy.
    assert json.loads(machine["DefinitionString"]) == json.loads(DEFINITION.read_text())


def test_each_substitution_is_its_steps_function(synthesized: Synthesized) -> None:
    machine = _machine(synthesized)
    functions = _resources(synthesized.workflow_json, "AWS::Lambda::Function")
    for step, (handler, _memory) in STEPS.items():
        ref = machine["DefinitionSubstitutions"][substitution(step)]
        logical = ref["Fn::GetAtt"][0]
        props = functions[logical]["Properties"]
        assert props["Handler"] == f"handler.{handler}"
        assert props["Timeout"] == 900
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["EphemeralStorage"] == {"Size": 10240}
        env = props["Environment"]["Variables"]
        assert env["ASSAY_PROFILE"] == "aws" and env["ASSAY_HOME"] == "/tmp/assay"
        assert "ASSAY_SIGNING_KEY_ID" in env


def test_logging_all_with_execution_data_and_tracing(synthesized: Synthesized) -> None:
    machine = _machine(synthesized)
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
    groups = _resources(synthesized.workflow_json, "AWS::Logs::LogGroup")
    assert groups
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] > 0
        assert "KmsKeyId" in group["Properties"]


def _statements(template: dict[str, Any], role_logical: str) -> list[dict[str, Any]]:
    found = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def test_the_state_machine_may_invoke_exactly_its_step_functions(
    synthesized: Synthesized,
) -> None:
    machine = _machine(synthesized)
    role = machine["RoleArn"]["Fn::GetAtt"][0]
    statements = _statements(synthesized.workflow_json, role)
    (invoke,) = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    targets = {r["Fn::GetAtt"][0] for r in invoke["Resource"]}
    assert targets == {
        machine["DefinitionSubstitutions"][substitution(s)]["Fn::GetAtt"][0] for s in STEPS
    }
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [
            statement["Action"]]  # fmt: skip
        assert all("*" not in a for a in actions), statement


def test_step_functions_have_no_wildcard_actions_and_sign_with_the_signing_key_only(
    synthesized: Synthesized,
) -> None:
    template = synthesized.workflow_json
    functions = _step_functions(template)
    assert len(functions) == len(STEPS)
    for props in (f["Properties"] for f in functions.values()):
        role = props["Role"]["Fn::GetAtt"][0]
        statements = _statements(template, role)
        signing = [s for s in statements if "kms:Sign" in json.dumps(s["Action"])]
        assert len(signing) == 1
        assert "SigningKey" in json.dumps(signing[0]["Resource"])
        assert "Encrypt" not in json.dumps(signing[0]["Action"])
        for statement in statements:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [
                statement["Action"]]  # fmt: skip
            assert all(not a.endswith("*") for a in actions), statement
            resources = json.dumps(statement["Resource"])
            if any(a.startswith("s3:") and a != "s3:ListBucket" for a in actions):
                assert "/tenants/*" in resources  # tenant-fenced objects only


def test_the_api_queues_analyses_and_only_the_dispatcher_starts_them(
    synthesized: Synthesized,
) -> None:
    api = synthesized.api_json
    text = json.dumps(api)
    assert "ASSAY_STATE_MACHINE_ARN" in text and "ASSAY_ANALYSIS_QUEUE_URL" in text
    statements = [
        s
        for policy in _resources(api, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (starts,) = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert "ExportsOutputRefEvalRun" in json.dumps(starts["Resource"])  # eval runs only
    assert "ExportsOutputRefAnalysis" not in json.dumps(starts["Resource"])
    (sends,) = [s for s in statements if s["Action"] == "sqs:SendMessage"]
    assert "AnalysisQueue" in json.dumps(sends["Resource"])
    # The dispatcher: one at a time, fed by the queue, the one that starts analyses.
    workflow = synthesized.workflow_json
    (dispatcher,) = [
        f for f in _resources(workflow, "AWS::Lambda::Function").values()
        if f["Properties"]["Description"].startswith("Assay: admits queued analyses")
    ]  # fmt: skip
    assert dispatcher["Properties"]["ReservedConcurrentExecutions"] == 1
    env = dispatcher["Properties"]["Environment"]["Variables"]
    assert (env["ASSAY_MAX_RUNNING_ANALYSES"], env["ASSAY_TENANT_MAX_RUNNING_ANALYSES"]) == (
        "20",
        "5",
    )
    (mapping,) = _resources(workflow, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (queue,) = _resources(workflow, "AWS::SQS::Queue").values()
    assert "KmsMasterKeyId" in queue["Properties"]
    role = dispatcher["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = [s["Action"] for s in _statements(workflow, role)]
    assert "states:StartExecution" in actions and "states:DescribeExecution" in actions
    # An alarm when an analysis has waited 30 minutes for a slot.
    alarms = _resources(synthesized.observability_json, "AWS::CloudWatch::Alarm").values()
    (waiting,) = [a for a in alarms
                  if a["Properties"]["MetricName"] == "ApproximateAgeOfOldestMessage"]  # fmt: skip
    assert waiting["Properties"]["Threshold"] == 1800


@mock_aws
def test_moto_step_functions_accepts_the_definition_as_deployed() -> None:
    """Substituted as CloudFormation would (real-looking function ARNs), then created and
    started in moto's Step Functions."""
    text = DEFINITION.read_text()
    arns = {
        name: f"arn:aws:lambda:us-east-1:123456789012:function:assay-{name}"
        for name in placeholders()
    }
    deployed = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda m: arns[m.group(1)], text)
    assert "${" not in deployed
    client = boto3.client("stepfunctions", region_name="us-east-1")
    iam_client = boto3.client("iam", region_name="us-east-1")
    role = iam_client.create_role(
        RoleName="assay-sfn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    created = client.create_state_machine(
        name="assay-analysis", definition=deployed, roleArn=role, type="STANDARD",
        loggingConfiguration={"level": "ALL", "includeExecutionData": True},
        tracingConfiguration={"enabled": True},
    )  # fmt: skip
    described = client.describe_state_machine(stateMachineArn=created["stateMachineArn"])
    assert json.loads(described["definition"])["StartAt"] == "Intake"
    started = client.start_execution(
        stateMachineArn=created["stateMachineArn"], name="01ANALYSIS",
        input=json.dumps({"tenant_id": "t1", "analysis_id": "01ANALYSIS"}),
    )  # fmt: skip
    execution = client.describe_execution(executionArn=started["executionArn"])
    assert execution["status"] in {"RUNNING", "SUCCEEDED"}


def test_steps_hold_no_ecs_rights_the_analysis_machine_starts_the_session_tasks(
    synthesized: Synthesized,
) -> None:
    template = synthesized.workflow_json
    for props in (f["Properties"] for f in _step_functions(template).values()):
        env = props["Environment"]["Variables"]
        assert {"ASSAY_SANDBOX_SUBNETS", "ASSAY_SANDBOX_SECURITY_GROUPS",
                "ASSAY_SANDBOX_INSTALL_SECURITY_GROUPS"} <= set(env)  # fmt: skip
        assert "ASSAY_SANDBOX_STATE_MACHINE_ARN" not in env
        assert env["ASSAY_PACKAGE_REPOSITORY"] == "assay/pypi-store"
        statements = _statements(template, props["Role"]["Fn::GetAtt"][0])
        # Steps never touch ECS, pass roles or start executions: the analysis machine runs
        # the sessions' tasks (ecs:runTask.sync) and the steps only write jobs to S3.
        actions = json.dumps([s["Action"] for s in statements])
        assert "ecs:" not in actions and "iam:PassRole" not in actions
        assert "states:" not in actions
        bearer = [s for s in statements if s["Action"] == "sts:GetServiceBearerToken"]
        assert bearer[0]["Condition"] == {
            "StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}
        }
        reading = [s for s in statements if "codeartifact:ReadFromRepository" in s["Action"]]
        assert "repository/assay/pypi-store" in json.dumps(reading[0]["Resource"])
    machine = _machine(synthesized)
    statements = _statements(template, machine["RoleArn"]["Fn::GetAtt"][0])
    (run,) = [s for s in statements if s["Action"] == "ecs:RunTask"]
    assert "assay-sandbox-" in json.dumps(run["Resource"]) and "ecs:cluster" in json.dumps(
        run["Condition"]
    )
    (passing,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    # A session's task outlives any Lambda: bounded by its own TimeoutSecondsPath only.
    sessions = [
        state for state in _all_states(json.loads(machine["DefinitionString"]))
        if state.get("Resource") == "arn:aws:states:::ecs:runTask.sync"
    ]  # fmt: skip
    assert len(sessions) == 4
    for state in sessions:
        assert state["TimeoutSecondsPath"] == "$.session.timeout_s"
        assert "TimeoutSeconds" not in state and "HeartbeatSeconds" not in state


def _all_states(machine: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for state in machine["States"].values():
        found.append(state)
        for branch in state.get("Branches", []):
            found += _all_states(branch)
        if "ItemProcessor" in state:
            found += _all_states(state["ItemProcessor"])
    return found
