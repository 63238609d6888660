"""The README's deploy guide, tried as far as no account is needed: its first-key commands,
read from the README itself, run as a user runs them (separate processes) against the stores
a deployment creates, here moto's DynamoDB, S3 and KMS over HTTP on loopback. What only a real
account proves (the deploy itself, CodeBuild building the images, Fargate starting tasks) is
said in the README's status."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from assay import tenancy
from assay.records import Scope
from assay.records.api_keys import PREFIX
from assay.store.dynamodb import DynamoStore, table_schema
from tests.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
ASSAY = shutil.which("assay", path=str(Path(sys.executable).parent)) or "assay"


def _first_key_commands() -> list[str]:
    """The shell block under 'The first API key' in the README."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("**The first API key**") :]
    block = re.search(r"```\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README's first-key commands are gone"
    return [line for line in block.group(1).splitlines() if line.strip()]


@pytest.fixture
def deployed(redis_url: str) -> Iterator[dict[str, str]]:
    """What `cdk deploy` leaves for these commands: the table, the bucket, the secrets key."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION)  # fmt: skip
    session.client("dynamodb", endpoint_url=endpoint).create_table(**table_schema("assay-guide"))
    session.client("s3", endpoint_url=endpoint).create_bucket(
        Bucket="assay-guide", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    key = session.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["Arn"]
    try:
        yield {
            "REGION": REGION, "<TableName>": "assay-guide", "<ArtifactsBucket>": "assay-guide",
            "<SecretsKeyArn>": key, "<RedisUrl>": redis_url, "endpoint": endpoint,
        }  # fmt: skip
    finally:
        urllib.request.urlopen(  # moto's own reset, on loopback
            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
        ).close()
        server.stop()


def test_the_first_key_commands_work_against_the_deployed_stores(
    deployed: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.update({"ASSAY_HOME": str(tmp_path), "ASSAY_AWS_ENDPOINT_URL": deployed["endpoint"],
                "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})  # fmt: skip
    printed = ""
    for line in _first_key_commands():
        for placeholder in ("<TableName>", "<ArtifactsBucket>", "<SecretsKeyArn>", "<RedisUrl>",
                            "REGION"):  # fmt: skip
            line = line.replace(placeholder, deployed[placeholder])  # noqa: PLW2901
        words = shlex.split(line)
        if words[0] == "export":
            env.update(dict(word.split("=", 1) for word in words[1:]))
            continue
        assert words[0] == "assay", line
        done = subprocess.run([ASSAY, *words[1:]], env=env, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        printed = done.stdout
    # The key printed last is an admin key of the new tenant, in the deployed table.
    (key,) = re.findall(rf"\b{re.escape(PREFIX)}\S+", printed)
    records = DynamoStore("assay-guide", region=REGION, endpoint_url=deployed["endpoint"])
    found = tenancy.authenticate(records, key)
    assert found is not None and Scope.ADMIN in found.scopes
