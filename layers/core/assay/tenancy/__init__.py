"""Tenants and API keys: create, resolve, issue, revoke, authenticate. Audited."""

from assay.tenancy.service import (
    IssuedKey,
    audit,
    authenticate,
    create_tenant,
    every_tenant,
    issue_key,
    list_keys,
    resolve_tenant,
    revoke_key,
    slugify,
)

__all__ = [
    "IssuedKey",
    "audit",
    "authenticate",
    "create_tenant",
    "every_tenant",
    "issue_key",
    "list_keys",
    "resolve_tenant",
    "revoke_key",
    "slugify",
]
