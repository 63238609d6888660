"""The data stack: everything stateful. Other stacks reference it; it references none."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.artifacts import ArtifactBuckets
from stacks.cache import Cache
from stacks.keys import Keys
from stacks.network import Network
from stacks.records_table import RecordsTable


class DataStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.keys = Keys(self, "Keys")
        self.records = RecordsTable(self, "Records", key=self.keys.data)
        self.buckets = ArtifactBuckets(self, "Buckets", key=self.keys.data)
        self.network = Network(self, "Network", key=self.keys.data)
        self.cache = Cache(self, "Cache", vpc=self.network.vpc, key=self.keys.data)

        # What the aws profile's Settings need (ASSAY_TABLE_NAME and friends).
        CfnOutput(self, "TableName", value=self.records.table.table_name)
        CfnOutput(self, "ArtifactsBucket", value=self.buckets.artifacts.bucket_name)
        CfnOutput(self, "SecretsKeyArn", value=self.keys.secrets.key_arn)
        CfnOutput(self, "SigningKeyArn", value=self.keys.signing.key_arn)
        CfnOutput(self, "RedisUrl", value=self.cache.url)
