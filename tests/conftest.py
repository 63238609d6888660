"""Fixtures shared by every test folder.

AWS is always moto here: fake credentials are set for the whole session so that no test can
reach a real account, and `aws` starts moto's in-process mock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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

REGION = "eu-west-1"


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield
