"""The auth stack: a Cognito pool whose ID tokens the API accepts, secure by default, with an
optional SAML identity provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.records import Scope
from tests.infra.conftest import Synthesized


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_the_pool_is_closed_strong_and_keeps_tenants_fixed(synthesized: Synthesized) -> None:
    (pool,) = _resources(synthesized.auth_json, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"
    assert pool["DeletionProtection"] == "ACTIVE"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    (tenant,) = [a for a in pool["Schema"] if a["Name"] == "tenant"]
    assert tenant["Mutable"] is False


def test_every_assay_scope_is_a_group(synthesized: Synthesized) -> None:
    groups = {
        g["GroupName"] for g in _resources(synthesized.auth_json, "AWS::Cognito::UserPoolGroup")
    }
    assert groups == {scope.value for scope in Scope}


def test_the_console_client_uses_the_code_flow_without_a_secret(synthesized: Synthesized) -> None:
    (client,) = _resources(synthesized.auth_json, "AWS::Cognito::UserPoolClient")
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_the_api_accepts_the_pools_id_tokens(synthesized: Synthesized) -> None:
    functions = _resources(synthesized.api_json, "AWS::Lambda::Function")
    for function in functions:
        settings = function["Environment"]["Variables"]
        assert settings["ASSAY_OIDC_TENANT_CLAIM"] == "custom:tenant"
        assert settings["ASSAY_OIDC_SCOPES_CLAIM"] == "cognito:groups"
        assert settings["ASSAY_OIDC_ALGORITHMS"] == "RS256"
        assert "ASSAY_OIDC_ISSUER" in settings and "ASSAY_OIDC_AUDIENCE" in settings


def test_a_saml_provider_comes_from_context(tmp_path: Path, layer: Path) -> None:
    from stacks.assay_app import AssayStacks, new_app
    from stacks.lambdas import LAYER_CONTEXT

    app = new_app(outdir=str(tmp_path), context={
        LAYER_CONTEXT: str(layer),
        "assay:samlMetadataUrl": "https://idp.example.com/saml/metadata.xml",
        "assay:samlProviderName": "Okta",
    })  # fmt: skip
    AssayStacks(app)
    template = app.synth().get_stack_by_name("AssayAuth").template
    ((logical_id, provider),) = [
        (k, r["Properties"]) for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Cognito::UserPoolIdentityProvider"
    ]  # fmt: skip
    assert provider["ProviderType"] == "SAML" and provider["ProviderName"] == "Okta"
    assert provider["ProviderDetails"]["MetadataURL"].startswith("https://idp.example.com/")
    (client,) = _resources(template, "AWS::Cognito::UserPoolClient")
    assert client["SupportedIdentityProviders"] == ["COGNITO", {"Ref": logical_id}]
