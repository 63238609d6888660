"""Where sandboxes install dependencies from: a CodeArtifact repository with public PyPI as its
upstream, reached through a VPC interface endpoint that accepts only the install tasks'
security group. Test runs never get that group, so while tests run a sandbox reaches S3 and
nothing else; installs reach the repository and nothing else. No NAT gateway, no proxy fleet:
the allow-list is the repository's upstream connection.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_codeartifact as codeartifact
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

DOMAIN = "assay"
REPOSITORY = "pypi-store"


class PackageRepository(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        key: kms.IKey,
        endpoint_clients: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self.domain = codeartifact.CfnDomain(
            self, "Domain", domain_name=DOMAIN, encryption_key=key.key_arn
        )
        self.repository = codeartifact.CfnRepository(
            self,
            "PyPI",
            domain_name=DOMAIN,
            repository_name=REPOSITORY,
            description="Assay: public PyPI, for the sandboxes' dependency installs",
            external_connections=["public:pypi"],
        )
        self.repository.add_dependency(self.domain)
        # Install tasks: HTTPS out (isolated subnets route it only to VPC endpoints).
        self.install_group = ec2.SecurityGroup(
            self,
            "InstallTasks",
            vpc=vpc,
            allow_all_outbound=False,
            description="Assay install sandboxes: HTTPS to the package repository and S3 only",
        )
        self.install_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS: the repository endpoint and S3"
        )
        endpoint_group = ec2.SecurityGroup(
            self,
            "RepositoryEndpoint",
            vpc=vpc,
            allow_all_outbound=False,
            description="Assay: the CodeArtifact endpoint, for install sandboxes only",
        )
        endpoint_group.add_ingress_rule(
            self.install_group, ec2.Port.tcp(443), "HTTPS from install sandboxes"
        )
        # In this stack, not through vpc.add_interface_endpoint (that would put it in the data
        # stack, which must not depend on this one).
        ec2.InterfaceVpcEndpoint(
            self,
            "CodeArtifactRepositories",
            vpc=vpc,
            service=ec2.InterfaceVpcEndpointAwsService.CODEARTIFACT_REPOSITORIES,
            private_dns_enabled=True,
            open=False,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[endpoint_group],
        )
        # What RunTask gives an install task: this group and the one that reaches ECR/Logs.
        self.install_groups = [self.install_group, endpoint_clients]

    def settings(self) -> dict[str, str]:
        return {
            "ASSAY_PACKAGE_REPOSITORY": f"{DOMAIN}/{REPOSITORY}",
            "ASSAY_PACKAGE_REPOSITORY_OWNER": Stack.of(self).account,
            "ASSAY_SANDBOX_INSTALL_SECURITY_GROUPS": ",".join(
                g.security_group_id for g in self.install_groups
            ),
        }

    def grant_read(self, principal: iam.IGrantable) -> None:
        """A token for this domain, and reading this one repository."""
        stack = Stack.of(self)
        domain = stack.format_arn(service="codeartifact", resource="domain", resource_name=DOMAIN)
        repository = stack.format_arn(
            service="codeartifact", resource="repository", resource_name=f"{DOMAIN}/{REPOSITORY}"
        )
        for statement in (
            iam.PolicyStatement(actions=["codeartifact:GetAuthorizationToken"], resources=[domain]),
            iam.PolicyStatement(
                actions=["codeartifact:GetRepositoryEndpoint", "codeartifact:ReadFromRepository"],
                resources=[repository],
            ),
            iam.PolicyStatement(
                actions=["sts:GetServiceBearerToken"],
                resources=["*"],  # the action names no resource; the condition fences it
                conditions={"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}},
            ),
        ):
            principal.grant_principal.add_to_principal_policy(statement)
