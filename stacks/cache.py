"""ElastiCache Serverless for Redis: shared limits, counters and health state.

Serverless: TLS always on, replicated across AZs, scales without sizing. Only members of
`clients` (Lambda functions, tasks) may connect, on the Redis port only.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from constructs import Construct

REDIS_PORT = 6379


class Cache(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self.clients = ec2.SecurityGroup(
            self,
            "Clients",
            vpc=vpc,
            description="Assay: members may connect to the cache",
            allow_all_outbound=True,
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "Server",
            vpc=vpc,
            description="Assay: the cache accepts Redis connections from its clients only",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            self.clients, ec2.Port.tcp(REDIS_PORT), "Redis from Assay clients"
        )
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.cache = elasticache.CfnServerlessCache(
            self,
            "Serverless",
            engine="redis",
            major_engine_version="7",
            serverless_cache_name="assay-limits",
            description="Assay: rate and token limits, counters, health state",
            kms_key_id=key.key_arn,
            security_group_ids=[self.security_group.security_group_id],
            subnet_ids=subnets.subnet_ids,
            snapshot_retention_limit=1,
        )

    @property
    def url(self) -> str:
        """`rediss://` because serverless caches only accept TLS."""
        return f"rediss://{self.cache.attr_endpoint_address}:{self.cache.attr_endpoint_port}/0"
