"""The sandbox stack: an ECS cluster and one Fargate task definition per runtime image
(`sandbox-tasks/images/<runtime>/Dockerfile`), each task a sandbox for one job.

A sandbox task has no task role (no AWS credentials at all: its job and results travel
through presigned S3 URLs in its environment, and no Step Functions task token is passed to
it), runs as uid 10001 on a read-only root filesystem with `/scratch` and `/tmp` as task
volumes, and may only reach S3 over HTTPS through the VPC's gateway endpoint (its security
group allows nothing else, in or out). A job is one execution of
the sandbox-job state machine (`statemachines/sandbox-job.asl.json`), which runs the task with
`ecs:runTask.sync` in an isolated subnet (no route out: S3 and the endpoints needed to start
are all it can reach) without a public IP, stops it at the job's wall time and retries a task
that failed to start; the workflow's step functions start executions and wait for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from assay.sandbox.images import IMAGES, task_family
from stacks import nag
from stacks.data_stack import DataStack
from stacks.package_repository import PackageRepository
from stacks.sandbox_images import SandboxImages

SANDBOX_TASKS = Path(__file__).resolve().parent.parent / "sandbox-tasks"
RUNTIMES = IMAGES  # images/<name>/: one task definition each, chosen per analysis
SANDBOX_UID = "10001"


CLUSTER_NAME = "assay-sandbox"
SANDBOX_JOB_MACHINE = "assay-sandbox-job"
SANDBOX_JOB = Path(__file__).resolve().parent.parent / "statemachines" / "sandbox-job.asl.json"
CONTAINER = "sandbox"
ECS_SYNC_RULE = "StepFunctionsGetEventsForECSTaskRule"


class SandboxStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, data: DataStack, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = data.network.vpc
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            cluster_name=CLUSTER_NAME,  # named, so IAM can fence its tasks without an import
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
        )
        # Isolated subnets have no route out: HTTPS reaches only the S3 gateway endpoint and
        # the ECR and Logs interface endpoints the task needs to start (network.py).
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.security_group = ec2.SecurityGroup(
            self,
            "Tasks",
            vpc=vpc,
            allow_all_outbound=False,
            description="Assay sandboxes: HTTPS, routed to VPC endpoints only",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "HTTPS: S3 and ECR/Logs endpoints (no route out)",
        )
        # What RunTask gives each sandbox: its own group and the endpoints' client group.
        self.security_groups = [self.security_group, data.network.endpoint_clients]
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=data.keys.data,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Assay sandboxes: ECS pulls the image and writes logs (no task role)",
        )
        self.packages = PackageRepository(
            self, "Packages", vpc=vpc, key=data.keys.data,
            endpoint_clients=data.network.endpoint_clients,
        )  # fmt: skip
        self._data_key = data.keys.data
        # Built in the account by CodeBuild (no Docker where `cdk deploy` runs), pinned by digest.
        self.images = SandboxImages(self, "Images", names=tuple(RUNTIMES), key=data.keys.data)
        self.images.repository.grant_pull(self.execution_role)
        self.task_definitions = {runtime: self._task_definition(runtime) for runtime in RUNTIMES}
        self.job_machine = self._job_machine()
        self.log_group.grant_write(self.execution_role)
        nag.suppress(
            self.execution_role,
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken has no resource to name; every other action is "
            "on this stack's image repository and log group",
            findings=["Resource::*"],
        )

    def settings(self) -> dict[str, str]:
        """What the step functions' sandbox sessions read (assay.config): where session tasks
        run. They start none themselves: the analysis state machine does."""
        return {
            "ASSAY_SANDBOX_SUBNETS": ",".join(
                s.subnet_id
                for s in self.cluster.vpc.select_subnets(
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ).subnets
            ),
            "ASSAY_SANDBOX_SECURITY_GROUPS": ",".join(
                g.security_group_id for g in self.security_groups
            ),
            **self.packages.settings(),
        }

    def families(self) -> list[str]:
        return [str(d.family) for d in self.task_definitions.values()]

    def grant_run(self, function: iam.IGrantable) -> None:
        """What a step function needs for sandbox jobs beyond the artifacts bucket (where jobs
        and results travel): the package repository, for installs. No ECS rights, no PassRole
        and no Step Functions rights: the analysis state machine starts the session tasks."""
        self.packages.grant_read(function)

    def substitutions(self) -> dict[str, str]:
        """What a definition's session states name (`${ClusterArn}`, `${ContainerName}`)."""
        return {"ClusterArn": self.cluster.cluster_arn, "ContainerName": CONTAINER}

    def grant_sessions(self, role: iam.Role) -> None:
        """A state machine's role: start sandbox tasks (`ecs:runTask.sync`) in the sandbox
        cluster from its task definitions, with no task role, and wait for them."""
        in_cluster = {"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}}
        families = [
            self.format_arn(
                service="ecs", resource="task-definition", resource_name=f"{d.family}:*"
            )
            for d in self.task_definitions.values()
        ]
        tasks = self.format_arn(service="ecs", resource="task", resource_name=f"{CLUSTER_NAME}/*")
        rule = self.format_arn(service="events", resource="rule", resource_name=ECS_SYNC_RULE)
        for statement in (
            iam.PolicyStatement(actions=["ecs:RunTask"], resources=families, conditions=in_cluster),
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=[tasks],
                conditions=in_cluster,
            ),
            # How `.sync` learns that a task stopped: a rule Step Functions manages.
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[rule],
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        ):
            role.add_to_policy(statement)
        nag.suppress(
            role,
            "AwsSolutions-IAM5",
            "The sandbox task definitions' revisions and the tasks of the sandbox cluster "
            "(each session is a new task ARN; RunTask is also conditioned on the cluster); log "
            "delivery and X-Ray take no resource",
            findings=[
                *(
                    "Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:"
                    f"task-definition/{family}:*"
                    for family in self.families()
                ),
                "Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:"
                f"task/{CLUSTER_NAME}/*",
                "Resource::*",
            ],
        )

    def _job_machine(self) -> sfn.StateMachine:
        """`statemachines/sandbox-job.asl.json`: one job, one Fargate task, `ecs:runTask.sync`
        (for single jobs outside an analysis; analyses run sessions from their own machine)."""
        role = iam.Role(
            self,
            "JobMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="Assay: runs sandbox tasks in the sandbox cluster and waits for them",
        )
        self.grant_sessions(role)
        log_group = logs.LogGroup(
            self,
            "JobLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=self._data_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "JobMachine",
            state_machine_name=SANDBOX_JOB_MACHINE,
            definition_body=sfn.DefinitionBody.from_string(SANDBOX_JOB.read_text()),
            definition_substitutions=self.substitutions(),
            role=role,
            timeout=Duration.hours(2),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        return machine

    def _task_definition(self, runtime: str) -> ecs.CfnTaskDefinition:
        # L1 on purpose: the L2 always creates a task role, and a sandbox must have none.
        return ecs.CfnTaskDefinition(
            self,
            f"{runtime.title()}Sandbox",
            family=task_family(runtime),
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu="1024",
            memory="2048",
            execution_role_arn=self.execution_role.role_arn,
            runtime_platform=ecs.CfnTaskDefinition.RuntimePlatformProperty(
                cpu_architecture="X86_64", operating_system_family="LINUX"
            ),
            volumes=[
                ecs.CfnTaskDefinition.VolumeProperty(name="scratch"),
                ecs.CfnTaskDefinition.VolumeProperty(name="tmp"),
            ],
            container_definitions=[
                ecs.CfnTaskDefinition.ContainerDefinitionProperty(
                    name=CONTAINER,
                    image=self.images.image(runtime),  # by digest: what this deploy built
                    essential=True,
                    user=SANDBOX_UID,
                    readonly_root_filesystem=True,
                    privileged=False,
                    mount_points=[
                        ecs.CfnTaskDefinition.MountPointProperty(
                            source_volume="scratch", container_path="/scratch", read_only=False
                        ),
                        ecs.CfnTaskDefinition.MountPointProperty(
                            source_volume="tmp",
                            container_path="/tmp",  # noqa: S108 - the task's own volume
                            read_only=False,
                        ),
                    ],
                    linux_parameters=ecs.CfnTaskDefinition.LinuxParametersProperty(
                        capabilities=ecs.CfnTaskDefinition.KernelCapabilitiesProperty(drop=["ALL"]),
                        init_process_enabled=True,
                    ),
                    log_configuration=ecs.CfnTaskDefinition.LogConfigurationProperty(
                        log_driver="awslogs",
                        options={
                            "awslogs-group": self.log_group.log_group_name,
                            "awslogs-region": self.region,
                            "awslogs-stream-prefix": runtime,
                        },
                    ),
                    stop_timeout=10,
                )
            ],
        )
