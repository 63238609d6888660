"""Customer-managed KMS keys: one for data at rest, one for sealing tenants' secrets, one
that signs evidence.

Two symmetric keys so that the right to read tables and buckets never implies the right to
unwrap provider credentials; the secrets key is only ever used with a `tenant` encryption
context. The signing key is asymmetric (ECDSA P-256): anyone can verify a bundle with its
public key, only the workflow's sealing steps can sign.
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

        self.signing = kms.Key(
            self,
            "SigningKey",
            description="Assay: signs the checkpoints of analyses' evidence logs",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=RemovalPolicy.RETAIN,  # old bundles stay verifiable
        )
        self.signing.add_alias("alias/assay/evidence-signing")

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
