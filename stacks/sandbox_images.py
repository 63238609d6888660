"""The sandbox images, built in the customer's account: `cdk deploy` needs no container engine.

`sandbox-tasks/` is uploaded as a plain S3 asset (a zip made at synth); a CodeBuild project
builds every `images/<name>/Dockerfile` from it and pushes them to one ECR repository, tagged
`<name>-<source hash>`; a custom resource (functions/image_builds) starts that build during the
deployment, waits for it, and answers each image's digest. The task definitions name their image
by that digest, so a task runs exactly what this deployment built, and a change to
`sandbox-tasks/` is a new build and new task definition revisions.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks import nag

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_TASKS = ROOT / "sandbox-tasks"
HANDLER = ROOT / "functions" / "image_builds"


class SandboxImages(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, names: tuple[str, ...], key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self.repository = ecr.Repository(
            self,
            "Repository",
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
            empty_on_delete=True,
        )
        source = s3_assets.Asset(self, "Source", path=str(SANDBOX_TASKS))
        commands = [
            f'docker build -f "images/{name}/Dockerfile" -t "$REPOSITORY:{name}-$SOURCE" . && '
            f'docker push "$REPOSITORY:{name}-$SOURCE"'
            for name in names
        ]
        project = codebuild.Project(
            self,
            "Build",
            description="Assay: builds the sandbox images from sandbox-tasks/ and pushes them",
            source=codebuild.Source.s3(bucket=source.bucket, path=source.s3_object_key),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.LARGE,
                privileged=True,  # docker builds need the daemon
            ),
            environment_variables={
                "REPOSITORY": codebuild.BuildEnvironmentVariable(
                    value=self.repository.repository_uri
                ),
                "SOURCE": codebuild.BuildEnvironmentVariable(value=source.asset_hash),
                "REGISTRY": codebuild.BuildEnvironmentVariable(
                    value=self.repository.repository_uri.split("/")[0]
                ),
            },
            build_spec=codebuild.BuildSpec.from_object(
                {
                    "version": "0.2",
                    "phases": {
                        "pre_build": {
                            "commands": [
                                "aws ecr get-login-password | docker login --username AWS "
                                '--password-stdin "${REPOSITORY%%/*}"'
                            ]
                        },
                        "build": {"commands": commands},
                    },
                }
            ),
            encryption_key=key,
            timeout=Duration.hours(1),
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(
                    log_group=logs.LogGroup(
                        self,
                        "BuildLogs",
                        retention=logs.RetentionDays.ONE_MONTH,
                        encryption_key=key,
                        removal_policy=RemovalPolicy.DESTROY,
                    )
                )
            ),
        )
        self.repository.grant_pull_push(project)
        nag.suppress(
            project,
            "AwsSolutions-CB4",
            "The project is encrypted with the stack's data key (encryption_key); the rule "
            "does not follow a key passed as a construct",
        )

        def handler(name: str, entry: str) -> lambda_.Function:
            return lambda_.Function(
                self, name, runtime=lambda_.Runtime.PYTHON_3_12,
                code=lambda_.Code.from_asset(str(HANDLER)), handler=f"handler.{entry}",
                timeout=Duration.minutes(1), memory_size=256,
                description="Assay: starts and follows the sandbox images' build",
            )  # fmt: skip

        on_event, is_complete = handler("Start", "on_event"), handler("Follow", "is_complete")
        on_event.add_to_role_policy(
            iam.PolicyStatement(actions=["codebuild:StartBuild"], resources=[project.project_arn])
        )
        is_complete.add_to_role_policy(
            iam.PolicyStatement(
                actions=["codebuild:BatchGetBuilds"], resources=[project.project_arn]
            )
        )
        is_complete.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ecr:DescribeImages"], resources=[self.repository.repository_arn]
            )
        )
        provider = cr.Provider(
            self, "Provider", on_event_handler=on_event, is_complete_handler=is_complete,
            query_interval=Duration.seconds(30), total_timeout=Duration.hours(1),
        )  # fmt: skip
        self.build = CustomResource(
            self,
            "Images",
            service_token=provider.service_token,
            properties={
                "Project": project.project_name,
                "Source": source.asset_hash,
                "Repository": self.repository.repository_name,
                "Images": ",".join(names),
            },
        )
        for function in (on_event, is_complete):
            nag.suppress(
                function,
                "AwsSolutions-L1",
                "Python 3.12, the runtime every Assay function runs (one to test and patch)",
            )
            nag.suppress(
                function,
                "AwsSolutions-IAM4",
                "AWSLambdaBasicExecutionRole: the least a function needs to write its logs",
                findings=[
                    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole"
                ],
            )
        nag.suppress(
            provider,
            "AwsSolutions-IAM4",
            "The Provider framework's own functions: AWSLambdaBasicExecutionRole for their logs",
            findings=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole"
            ],
        )
        nag.suppress(
            self,
            "AwsSolutions-IAM5",
            "CodeBuild's project role as CDK grants it (the source asset's objects, its own "
            "log group and report groups, the data key's GenerateDataKey*/ReEncrypt* for the "
            "encrypted project, `ecr:GetAuthorizationToken` which has no resource); the "
            "Provider framework invoking its handlers' versions (`<function>:*`)",
            findings=[
                "Resource::*", "Action::s3:GetBucket*", "Action::s3:GetObject*",
                "Action::s3:List*", "Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*",
                "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
                "/aws/codebuild/<ImagesBuildD980D7B0>:*",
                "Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:"
                "report-group/<ImagesBuildD980D7B0>-*",
                "Resource::<ImagesFollow5E9331AA.Arn>:*", "Resource::<ImagesStartCFCFC889.Arn>:*",
                "Resource::<ImagesProviderframeworkisComplete1EF76CD6.Arn>:*",
                "Resource::<ImagesProviderframeworkonTimeout040A04D8.Arn>:*",
            ],
        )  # fmt: skip
        nag.suppress(
            provider,
            "AwsSolutions-L1",
            "The Provider framework pins its own functions' runtime",
        )
        nag.suppress(
            provider,
            "AwsSolutions-SF1",
            "The Provider framework's waiter: its execution history is the deployment's log",
        )
        nag.suppress(
            provider,
            "AwsSolutions-SF2",
            "The Provider framework's waiter: no X-Ray option; it only polls the build",
        )

    def image(self, name: str) -> str:
        """`<repository>@<digest>`: the image this deployment built for `name`."""
        return f"{self.repository.repository_uri}@{self.build.get_att_string(name)}"
