"""A LiteLLM-proxy `model_list:` brought unchanged: each entry (a deployment) becomes a
connection, and each `model_name` a resource whose targets are its deployments in file order
(the first is the primary, the rest its fallbacks). `rpm`/`tpm` become the connection's
limits; keys given as LiteLLM environment references are resolved by `assay.config`, sealed,
never stored plain.
Applying the same file again updates what it made, so `assay serve --config` is repeatable."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.errors import ConfigError
from assay.records import GatewayConnection, GatewayResource, RouteTarget
from assay.records.gateway import ProviderOptions
from assay.store import RecordStore
from assay.vault import Vault

PREFIX = "litellm:"
# litellm_params that are secrets beside api_key: sealed together as one JSON object.
SECRET_PARAMS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token",
                 "vertex_credentials")  # fmt: skip


class LitellmParams(BaseModel):
    model_config = ConfigDict(extra="allow")  # LiteLLM has many; these are the ones we use

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: str | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)


class Deployment(BaseModel):
    model_config = ConfigDict(extra="allow")

    model_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")
    litellm_params: LitellmParams


def parse(model_list: object) -> list[Deployment]:
    if not isinstance(model_list, list):
        raise ConfigError("`model_list` must be a list of deployments")
    try:
        return [Deployment.model_validate(entry) for entry in model_list]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"`model_list` is not valid: {first['msg']} at {where}") from None


def _provider_and_model(model: str) -> tuple[str, str]:
    provider, _, name = model.partition("/")
    return ("openai", model) if not name else (provider, name)


def apply(
    records: RecordStore, vault: Vault, tenant_id: str, deployments: list[Deployment],
    secret: Callable[[str], str],
) -> dict[str, Any]:  # fmt: skip
    """Create or update the connections and resources the deployments describe."""
    existing = {c.name: c for c in records.list(GatewayConnection, tenant_id, limit=1000).items}
    targets: dict[str, list[RouteTarget]] = {}
    for index, deployment in enumerate(deployments):
        params = deployment.litellm_params
        provider, model = _provider_and_model(params.model)
        name = f"{PREFIX}{deployment.model_name}#{index}"
        extra = params.model_extra or {}
        options = ProviderOptions.model_validate(
            {k: secret(str(v)) for k, v in extra.items() if k in ProviderOptions.model_fields}
        )
        fields = {"provider": provider, "base_url": params.api_base, "options": options,
                  "requests_per_minute": params.rpm, "tokens_per_minute": params.tpm,
                  "enabled": True}  # fmt: skip
        current = existing.get(name)
        connection = (current.evolve(**fields) if current is not None
                      else GatewayConnection(tenant_id=tenant_id, name=name, **fields))  # fmt: skip
        secrets = {k: secret(str(extra[k])) for k in SECRET_PARAMS if extra.get(k)}
        if secrets:
            if params.api_key:
                secrets["api_key"] = secret(params.api_key)
            connection = connection.with_credentials(vault, json.dumps(secrets))
        elif params.api_key:
            connection = connection.with_credentials(vault, secret(params.api_key))
        saved = records.update(connection) if current is not None else records.create(connection)
        targets.setdefault(deployment.model_name, []).append(
            RouteTarget(connection_id=saved.id, model=model)
        )
    for model_name, chain in targets.items():
        resource = records.get(GatewayResource, tenant_id, model_name)
        if resource is None:
            records.create(GatewayResource(id=model_name, tenant_id=tenant_id, name=model_name,
                                           targets=chain))  # fmt: skip
        else:
            records.update(resource.evolve(targets=chain, enabled=True))
    return {"connections": len(deployments), "resources": sorted(targets)}
