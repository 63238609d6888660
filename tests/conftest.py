"""Fixtures shared by every test folder.

AWS is always moto here: fake credentials are set for the whole session so that no test can
reach a real account, and `aws` starts moto's in-process mock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Final

import pytest

# Set before any boto3 client exists; tests never see real credentials.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
)
for _var in ("AWS_PROFILE", "ASSAY_PROFILE", "ASSAY_HOME", "ASSAY_REDIS_URL"):
    os.environ.pop(_var, None)

REGION: Final = "eu-west-1"


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis server on a free loopback port, for this test session only.

    `ASSAY_TEST_REDIS_URL` points the tests at an existing server instead. A missing
    `redis-server` fails the tests rather than skipping them: `make setup` installs it.
    """
    import shutil
    import subprocess
    import time

    import redis

    existing = os.environ.get("ASSAY_TEST_REDIS_URL")
    if existing:
        yield existing
        return
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run `make setup` (it installs it)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"redis-server did not start on port {port}")
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
