"""The sandbox stack: an ECS cluster and one Fargate task definition per runtime image
(`sandbox-tasks/images/<runtime>/Dockerfile`), each task a sandbox for one job.

A sandbox task has no task role (no AWS credentials at all: its job and results travel
through presigned S3 URLs in its environment, and no Step Functions task token is passed to
it), runs as uid 10001 on a read-only root filesystem with `/scratch` and `/tmp` as task
volumes, and may only reach S3 over HTTPS through the VPC's gateway endpoint (its security
group allows nothing else, in or out). The workflow's step functions start it
(`assay.sandbox.fargate`) in an isolated subnet (no route out: S3 and the endpoints needed to
start are all it can reach) without a public IP, and stop it at the job's wall time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import nag
from stacks.data_stack import DataStack
from stacks.package_repository import PackageRepository

SANDBOX_TASKS = Path(__file__).resolve().parent.parent / "sandbox-tasks"
RUNTIMES = ("python",)  # one image each under sandbox-tasks/images/
SANDBOX_UID = "10001"


CLUSTER_NAME = "assay-sandbox"


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
        self.task_definitions = {runtime: self._task_definition(runtime) for runtime in RUNTIMES}
        self.log_group.grant_write(self.execution_role)
        nag.suppress(
            self.execution_role,
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken has no resource to name; every other action is "
            "on this stack's image repository and log group",
            findings=["Resource::*"],
        )

    def settings(self) -> dict[str, str]:
        """What the step functions' FargateSandbox reads (assay.config)."""
        return {
            "ASSAY_SANDBOX_CLUSTER": self.cluster.cluster_arn,
            "ASSAY_SANDBOX_TASK_DEFINITION": self.task_definitions["python"].ref,
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
        """Start sandbox tasks of these definitions in this cluster, watch and stop them, and
        hand them the execution role (image pull, logs) and nothing else."""
        self.packages.grant_read(function)
        principal = function.grant_principal
        in_cluster = {"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}}
        families = [
            self.format_arn(
                service="ecs", resource="task-definition", resource_name=f"{d.family}:*"
            )
            for d in self.task_definitions.values()
        ]
        tasks = self.format_arn(service="ecs", resource="task", resource_name=f"{CLUSTER_NAME}/*")
        for statement in (
            iam.PolicyStatement(actions=["ecs:RunTask"], resources=families, conditions=in_cluster),
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks", "ecs:StopTask"],
                resources=[tasks],
                conditions=in_cluster,
            ),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.execution_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
        ):
            principal.add_to_principal_policy(statement)

    def _task_definition(self, runtime: str) -> ecs.CfnTaskDefinition:
        image = ecr_assets.DockerImageAsset(
            self,
            f"{runtime.title()}Image",
            directory=str(SANDBOX_TASKS),
            file=f"images/{runtime}/Dockerfile",
            platform=ecr_assets.Platform.LINUX_AMD64,
        )
        image.repository.grant_pull(self.execution_role)
        # L1 on purpose: the L2 always creates a task role, and a sandbox must have none.
        return ecs.CfnTaskDefinition(
            self,
            f"{runtime.title()}Sandbox",
            family=f"assay-sandbox-{runtime}",
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
                    name="sandbox",
                    image=image.image_uri,
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
