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
        self.data = self._key(
            "DataKey",
            "alias/assay/data",
            "Assay: encrypts the records table, artifacts bucket and cache at rest",
        )
        self.secrets = self._key(
            "SecretsKey",
            "alias/assay/secrets",
            "Assay: envelope encryption of tenants' secrets (context: tenant)",
        )

    def _key(self, key_id: str, alias: str, description: str) -> kms.Key:
        key = kms.Key(
            self,
            key_id,
            description=description,
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            removal_policy=RemovalPolicy.RETAIN,
        )
        key.add_alias(alias)
        return key
