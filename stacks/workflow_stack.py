"""The workflow stack: the analysis state machine and its step functions.

`statemachines/analysis.asl.json` is loaded from the file, as the local runner loads it; every
`${<Step>FunctionArn}` in it is substituted with the ARN of the Lambda that runs that step
(`functions/steps/handler.py`, one function per Task state, all calling `assay`'s
`StepHost`). The state machine's role may invoke exactly those functions; it logs every event
(ALL, with execution data) to an encrypted log group and traces with X-Ray.

`statemachines/eval-run.asl.json` is the eval-run state machine, built the same way from
`functions/evals/handler.py`'s four functions. Its Distributed Map reads the dataset from the
artifacts bucket, starts child executions of this very machine and writes their results back,
so its role may also start its own executions and get and put tenants' objects.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks import nag
from stacks.artifacts import artifacts_bucket_arn
from stacks.data_stack import DataStack
from stacks.grants import TENANTS_PREFIX, acknowledge_function, grant_data, profile_environment
from stacks.lambdas import Placement, assay_function, assay_layer
from stacks.sandbox_stack import SandboxStack

DEFINITION = Path(__file__).resolve().parent.parent / "statemachines" / "analysis.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
# Task state -> (handler in functions/steps/handler.py, memory MB). Steps that build, install
# or run tests get more memory (and with it CPU); the rest only move records and files.
STEPS: dict[str, tuple[str, int]] = {
    "Intake": ("intake", 1769),
    "Detect": ("detect", 1024),
    "Install": ("install", 3008),
    "Baseline": ("baseline", 3008),
    "Plan": ("plan", 1024),
    "Generate": ("generate", 1769),
    "Execute": ("execute", 3008),
    "Repair": ("repair", 1769),
    "Select": ("select", 3008),
    "Findings": ("findings", 1024),
    "Mutation": ("mutation", 3008),
    "Report": ("report", 1024),
    "Seal": ("seal", 1024),
    "RecordFailure": ("record_failure", 1024),
    # Sandbox sessions: presign a session's manifest, or say it is over (no files pulled).
    "OpenSession": ("open_session", 512),
    "CloseSession": ("close_session", 512),
    "SessionReady": ("session_ready", 512),
}
MAX_EXECUTION = Duration.hours(6)

EVAL_DEFINITION = DEFINITION.parent / "eval-run.asl.json"
# Named, so its role can start the Distributed Map's child executions of itself without a
# reference to the machine (which would be circular).
EVAL_MACHINE = "assay-eval-run"
# Task state -> (handler in functions/evals/handler.py, timeout in seconds, memory MB). Each
# timeout is the state's TimeoutSeconds in the definition; ScoreBatch runs in an Express
# child execution, which lives at most 5 minutes.
EVAL_STEPS: dict[str, tuple[str, int, int]] = {
    "EvalPrepare": ("prepare", 300, 1024),
    "EvalScoreBatch": ("score_batch", 240, 1024),
    "EvalSummarize": ("summarize", 600, 1769),
    "EvalRecordFailure": ("record_failure", 120, 1024),
}


def substitution(step: str) -> str:
    return f"{step}FunctionArn"


def placeholders(definition: dict[str, Any] | None = None, *, path: Path = DEFINITION) -> set[str]:
    """Every `${...}` the definition names (the analysis file's unless told)."""
    text = json.dumps(definition) if definition is not None else path.read_text()
    return set(PLACEHOLDER.findall(text))


class WorkflowStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataStack,
        sandbox: SandboxStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        arm = self.node.try_get_context("assay:architecture") == "arm64"
        architecture = lambda_.Architecture.ARM_64 if arm else lambda_.Architecture.X86_64
        placement = Placement(
            layer=assay_layer(self, "AssayLayer", architecture),
            vpc=data.network.vpc,
            security_groups=[data.cache.clients],
            log_key=data.keys.data,
            architecture=architecture,
            environment={
                **profile_environment(data),
                "ASSAY_HOME": "/tmp/assay",  # noqa: S108 - Lambda's only writable place
                **sandbox.settings(),
            },
        )
        self.functions: dict[str, lambda_.Function] = {}
        for step, (handler, memory) in STEPS.items():
            function = assay_function(
                self,
                f"{step}Step",
                placement=placement,
                folder="steps",
                handler=f"handler.{handler}",
                description=f"Assay: the analysis workflow's {step} step",
                memory_mb=memory,
                timeout=Duration.minutes(15),
                ephemeral_mb=10240,  # the snapshot, its environments and test runs
            )
            grant_data(function, data)
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["kms:Sign"], resources=[data.keys.signing.key_arn])
            )
            sandbox.grant_run(function)
            acknowledge_function(function)
            self.functions[step] = function

        log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=data.keys.data,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Assay: the analysis state machine invokes its step functions",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in self.functions.values()],
            )
        )
        sandbox.grant_sessions(role)  # the sessions' tasks: Step Functions starts and waits
        self.state_machine = sfn.StateMachine(
            self,
            "Analysis",
            # Inline, as the file says it: the template shows exactly what will run.
            definition_body=sfn.DefinitionBody.from_string(DEFINITION.read_text()),
            definition_substitutions={
                **{substitution(step): f.function_arn for step, f in self.functions.items()},
                **sandbox.substitutions(),
            },
            role=role,
            timeout=MAX_EXECUTION,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        data.keys.data.grant_encrypt_decrypt(iam.ServicePrincipal("logs.amazonaws.com"))
        CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)
        self.analysis_queue = self._queue(placement, data)
        nag.suppress(
            role,
            "AwsSolutions-IAM5",
            "Log delivery and X-Ray take no resource (CloudWatch Logs' delivery API and "
            "PutTraceSegments); invoking is limited to the step functions' own ARNs",
            findings=["Resource::*"],
        )
        evals = dataclasses.replace(
            placement,
            environment={
                **profile_environment(data),
                "ASSAY_HOME": "/tmp/assay",  # noqa: S108 - Lambda's only writable place
            },
        )
        self.eval_functions = self._eval_functions(evals, data)
        self.eval_state_machine = self._eval_machine(data)
        CfnOutput(self, "EvalStateMachineArn", value=self.eval_state_machine.state_machine_arn)

    def _queue(self, placement: Placement, data: DataStack) -> sqs.Queue:
        """Submissions wait here until the dispatcher (functions/queue) admits them: at most
        `assay:maxRunningAnalyses` running (the account's Fargate capacity), at most
        `assay:tenantMaxRunningAnalyses` per tenant (assay.analysis.admission)."""
        queue = sqs.Queue(
            self,
            "AnalysisQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=data.keys.data,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            visibility_timeout=Duration.seconds(60),  # how often a waiting one is looked at
        )
        nag.suppress(
            queue,
            "AwsSolutions-SQS3",
            "No dead-letter queue: a submission waiting for a slot comes back until admitted "
            "(moving it aside would strand the analysis); the dispatcher drops malformed ones",
        )
        context = self.node.try_get_context
        dispatcher = assay_function(
            self,
            "QueueDispatcher",
            placement=placement,
            folder="queue",
            handler="handler.handler",
            description="Assay: admits queued analyses and starts their executions",
            memory_mb=512,
            timeout=Duration.seconds(50),
            environment={
                "ASSAY_STATE_MACHINE_ARN": self.state_machine.state_machine_arn,
                "ASSAY_MAX_RUNNING_ANALYSES": str(context("assay:maxRunningAnalyses") or 20),
                "ASSAY_TENANT_MAX_RUNNING_ANALYSES": str(
                    context("assay:tenantMaxRunningAnalyses") or 5
                ),
            },
        )
        # One at a time: admissions read the slots and take one, so two would race.
        cfn = dispatcher.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        cfn.reserved_concurrent_executions = 1
        dispatcher.add_event_source(
            sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True)
        )
        grant_data(dispatcher, data)
        executions = self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        for statement in (
            iam.PolicyStatement(
                actions=["states:StartExecution"], resources=[self.state_machine.state_machine_arn]
            ),
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]),
        ):
            dispatcher.add_to_role_policy(statement)
        acknowledge_function(dispatcher)
        machine = self.state_machine.node.default_child
        assert isinstance(machine, sfn.CfnStateMachine)
        nag.suppress(
            dispatcher,
            "AwsSolutions-IAM5",
            "An admission asks whether a slot's execution ended: the executions of the "
            "analysis machine, each named after its analysis",
            findings=[
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                f"<{self.resolve(machine.logical_id)}.Name>:*"
            ],
        )
        self.dispatcher = dispatcher
        # The steps give a finished analysis's slot back.
        for function in self.functions.values():
            function.add_environment("ASSAY_ANALYSIS_QUEUE_URL", queue.queue_url)
        CfnOutput(self, "AnalysisQueueUrl", value=queue.queue_url)
        return queue

    def _eval_functions(self, placement: Placement, data: DataStack) -> dict[str, lambda_.Function]:
        """functions/evals: data access only (no sandbox, no signing)."""
        functions = {}
        for step, (handler, seconds, memory) in EVAL_STEPS.items():
            function = assay_function(
                self,
                f"{step}Function",
                placement=placement,
                folder="evals",
                handler=f"handler.{handler}",
                description=f"Assay: the eval run's {step.removeprefix('Eval')} step",
                memory_mb=memory,
                timeout=Duration.seconds(seconds),
            )
            grant_data(function, data)
            acknowledge_function(function)
            functions[step] = function
        return functions

    def _eval_machine(self, data: DataStack) -> sfn.StateMachine:
        role = iam.Role(
            self,
            "EvalMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Assay: the eval-run state machine, its Distributed Map and functions",
        )
        machine_arn = self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=EVAL_MACHINE,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # A Map Run's child executions: arn:...:execution:<machine>/<label>:<id>.
        children = self.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{EVAL_MACHINE}/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        for statement in (
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in self.eval_functions.values()],
            ),
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine_arn]),
            iam.PolicyStatement(
                actions=[
                    "states:DescribeExecution",
                    "states:StopExecution",
                    "states:RedriveExecution",
                ],
                resources=[children],
            ),
            # ItemReader gets the dataset; ResultWriter puts the results (multipart when large).
            iam.PolicyStatement(
                actions=[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                resources=[f"{artifacts_bucket_arn()}/{TENANTS_PREFIX}"],
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],  # the bucket is SSE-KMS
                resources=[data.keys.data.key_arn],
            ),
        ):
            role.add_to_policy(statement)
        log_group = logs.LogGroup(
            self,
            "EvalExecutionLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            encryption_key=data.keys.data,
            removal_policy=RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "EvalRun",
            state_machine_name=EVAL_MACHINE,
            definition_body=sfn.DefinitionBody.from_string(EVAL_DEFINITION.read_text()),
            definition_substitutions={
                substitution(step): f.function_arn for step, f in self.eval_functions.items()
            },
            role=role,
            timeout=MAX_EXECUTION,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        nag.suppress(
            role,
            "AwsSolutions-IAM5",
            "Log delivery and X-Ray take no resource; the Distributed Map's child executions "
            "are new ARNs under this machine's name; the dataset and results are tenants' "
            "objects, one prefix fenced by the application",
            findings=[
                "Resource::*",
                "Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:{EVAL_MACHINE}/*",
                "Resource::arn:<AWS::Partition>:s3:::"
                f"assay-artifacts-<AWS::AccountId>-<AWS::Region>/{TENANTS_PREFIX}",
            ],
        )
        return machine
