"""Secrets: provider credentials and signing material, sealed per tenant."""

from assay.vault.port import Vault

__all__ = ["Vault"]
