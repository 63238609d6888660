"""The VPC: private subnets for functions and sandboxes, isolated ones for the cache.

Gateway endpoints keep DynamoDB and S3 traffic off the NAT gateway; flow logs record every
connection for incident response.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


class Network(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, nat_gateways: int = 1
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                ),
            },
            restrict_default_security_group=True,
        )
        # What a task in an isolated subnet needs to start: its image (ECR; layers come from
        # S3 through the gateway endpoint) and its log stream.
        self.endpoint_clients = ec2.SecurityGroup(
            self,
            "EndpointClients",
            vpc=self.vpc,
            allow_all_outbound=False,
            description="Assay: members may use the interface endpoints",
        )
        self.endpoints_security_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            allow_all_outbound=False,
            description="Assay: interface endpoints accept HTTPS from their clients only",
        )
        self.endpoints_security_group.add_ingress_rule(
            self.endpoint_clients, ec2.Port.tcp(443), "HTTPS from endpoint clients"
        )
        for name, service in (
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
        ):
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                private_dns_enabled=True,
                open=False,  # only endpoint clients, not the whole VPC
                subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                security_groups=[self.endpoints_security_group],
            )
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
