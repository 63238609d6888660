"""The auth stack: a Cognito user pool whose ID tokens the API accepts as OIDC JWTs.

- Users carry their tenant in `custom:tenant` (set by an admin; users cannot change it) and
  their Assay scopes as group memberships (`analyses:read`, `analyses:write`,
  `gateway:invoke`, `admin`); the API reads them with ASSAY_OIDC_TENANT_CLAIM=custom:tenant and
  ASSAY_OIDC_SCOPES_CLAIM=cognito:groups.
- The console signs in with the authorization-code flow and PKCE (a public client, no secret).
- Optional SAML federation: `-c assay:samlMetadataUrl=https://idp/metadata.xml` (with
  `assay:samlProviderName`) adds the identity provider and offers it on the hosted sign-in.
- Self sign-up is off, passwords are strong, advanced security enforces compromised-credential
  checks, MFA (TOTP) is required of pool users.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from assay.records import Scope

TENANT_ATTRIBUTE = "tenant"  # the token carries it as custom:tenant


class AuthStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            custom_attributes={
                TENANT_ATTRIBUTE: cognito.StringAttribute(min_len=1, max_len=64, mutable=False)
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED,  # for pool users; federated users' MFA is their IdP's
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for assay_scope in Scope:
            cognito.CfnUserPoolGroup(
                self,
                f"Group{assay_scope.name.title().replace('_', '')}",
                user_pool_id=self.pool.user_pool_id,
                group_name=assay_scope.value,
                description=f"Assay scope {assay_scope.value}",
            )
        providers = [cognito.UserPoolClientIdentityProvider.COGNITO]
        saml = self._saml()
        if saml is not None:
            providers.append(cognito.UserPoolClientIdentityProvider.custom(saml.provider_name))
        callbacks = self.node.try_get_context("assay:consoleCallbackUrls") or [
            "http://localhost:8080/"
        ]
        self.console_client = self.pool.add_client(
            "Console",
            generate_secret=False,  # a browser app: authorization code with PKCE
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[
                    cognito.OAuthScope.OPENID,
                    cognito.OAuthScope.EMAIL,
                    cognito.OAuthScope.PROFILE,
                ],
                callback_urls=callbacks,
                logout_urls=callbacks,
            ),
            supported_identity_providers=providers,
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(7),
        )
        if saml is not None:
            self.console_client.node.add_dependency(saml)
        prefix = self.node.try_get_context("assay:authDomainPrefix")
        if prefix:
            self.pool.add_domain(
                "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix)
            )
        self.issuer = f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool.user_pool_id}"
        CfnOutput(self, "UserPoolId", value=self.pool.user_pool_id)
        CfnOutput(self, "ConsoleClientId", value=self.console_client.user_pool_client_id)
        CfnOutput(self, "OidcIssuer", value=self.issuer)

    def oidc_settings(self) -> dict[str, str]:
        """What the API's functions need to accept this pool's ID tokens."""
        return {
            "ASSAY_OIDC_ISSUER": self.issuer,
            "ASSAY_OIDC_AUDIENCE": self.console_client.user_pool_client_id,
            "ASSAY_OIDC_ALGORITHMS": "RS256",
            "ASSAY_OIDC_TENANT_CLAIM": f"custom:{TENANT_ATTRIBUTE}",
            "ASSAY_OIDC_SCOPES_CLAIM": "cognito:groups",
        }

    def _saml(self) -> cognito.UserPoolIdentityProviderSaml | None:
        metadata = self.node.try_get_context("assay:samlMetadataUrl")
        if not metadata:
            return None
        name = self.node.try_get_context("assay:samlProviderName") or "Corporate"
        return cognito.UserPoolIdentityProviderSaml(
            self,
            "Saml",
            user_pool=self.pool,
            name=name,
            metadata=cognito.UserPoolIdentityProviderSamlMetadata.url(metadata),
            attribute_mapping=cognito.AttributeMapping(
                email=cognito.ProviderAttribute.other(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
                ),
            ),
        )
