"""A LiteLLM proxy `model_list` becomes connections and resources: provider options kept as
options, every secret sealed (several as one JSON object), references resolved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.config import load_settings, secret_value
from assay.errors import ConfigError
from assay.gateway import litellm_config
from assay.records import GatewayConnection, GatewayResource
from assay.wiring import build_ports


def test_provider_options_and_secrets_are_kept_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = build_ports(load_settings(home=tmp_path))
    monkeypatch.setenv("BEDROCK_SECRET", "bedrock-secret-value")
    deployments = litellm_config.parse([
        {"model_name": "claude", "litellm_params": {
            "model": "bedrock/anthropic.claude-3-haiku", "aws_region_name": "eu-west-1",
            "aws_access_key_id": "AKIAEXAMPLE",
            "aws_secret_access_key": "os.environ/BEDROCK_SECRET",
        }},
        {"model_name": "claude", "litellm_params": {
            "model": "azure/gpt-4o-deploy", "api_base": "https://example.openai.azure.com",
            "api_key": "azure-key", "api_version": "2024-10-21", "rpm": 60,
        }},
    ])  # fmt: skip
    made = litellm_config.apply(ports.records, ports.vault, "t1", deployments, secret_value)
    assert made == {"connections": 2, "resources": ["claude"]}

    connections = ports.records.list(GatewayConnection, "t1").items
    bedrock = next(c for c in connections if c.provider == "bedrock")
    azure = next(c for c in connections if c.provider == "azure")
    assert bedrock.options.aws_region_name == "eu-west-1"
    assert json.loads(bedrock.credentials(ports.vault)) == {
        "aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "bedrock-secret-value",
    }  # fmt: skip
    assert "bedrock-secret-value" not in bedrock.model_dump_json()
    assert azure.options.api_version == "2024-10-21"
    assert azure.credentials(ports.vault) == "azure-key"
    assert azure.requests_per_minute == 60

    resource = ports.records.get(GatewayResource, "t1", "claude")
    assert resource is not None
    assert [t.model for t in resource.targets] == ["anthropic.claude-3-haiku", "gpt-4o-deploy"]

    monkeypatch.delenv("BEDROCK_SECRET")
    with pytest.raises(ConfigError, match="BEDROCK_SECRET"):
        litellm_config.apply(ports.records, ports.vault, "t1", deployments, secret_value)
    ports.close()
