"""Customer-managed KMS keys: one for data at rest, one for sealing tenants' secrets.

Two keys so that the right to read tables and buckets never implies the right to unwrap
provider credentials; the secrets key is only ever used with a `tenant` encryption context.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


class Keys(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.data = kms.Key(
            self,
            "DataKey",
            description="Assay: encrypts the records table, artifacts bucket and cache at rest",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.data.add_alias("alias/assay/data")
        self.secrets = kms.Key(
            self,
            "SecretsKey",
            description="Assay: envelope encryption of tenants' secrets (context: tenant)",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.secrets.add_alias("alias/assay/secrets")
