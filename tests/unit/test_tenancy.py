from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay import tenancy
from assay.errors import AlreadyExists, NotFound
from assay.records import ApiKey, AuditEntry, Scope, TenantStatus
from assay.records.api_keys import PREFIX, hash_key, is_well_formed, mint_key
from assay.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "db")
    yield s
    s.close()


def test_minted_keys_have_the_scannable_shape() -> None:
    key = mint_key()
    assert key.startswith(PREFIX)
    assert len(key) == len(PREFIX) + 38
    assert is_well_formed(key)
    assert mint_key() != key


@given(st.integers(min_value=len(PREFIX), max_value=len(PREFIX) + 37), st.sampled_from("aZ09"))
def test_a_single_changed_character_fails_the_checksum(position: int, replacement: str) -> None:
    key = mint_key()
    changed = key[:position] + replacement + key[position + 1 :]
    if changed != key:
        assert not is_well_formed(changed)


def test_malformed_keys() -> None:
    for key in ("", "assay_", "ghp_" + "a" * 36, mint_key() + "x", mint_key()[:-1] + "!"):
        assert not is_well_formed(key)


def test_key_records_store_only_a_hash(store: SqliteStore) -> None:
    tenant = tenancy.create_tenant(store, "Acme")
    issued = tenancy.issue_key(store, tenant, "ci", [Scope.ANALYSES_READ])
    assert issued.key not in issued.record.model_dump_json()
    assert issued.record.key_hash == hash_key(issued.key)
    assert issued.record.hint == issued.key[:10]


def test_authenticate_accepts_active_keys_only(store: SqliteStore) -> None:
    tenant = tenancy.create_tenant(store, "Acme")
    issued = tenancy.issue_key(store, tenant, "ci", [Scope.ANALYSES_WRITE])
    found = tenancy.authenticate(store, issued.key)
    assert found is not None
    assert found.allows(Scope.ANALYSES_WRITE)
    assert not found.allows(Scope.ADMIN)
    assert tenancy.authenticate(store, mint_key()) is None  # well formed, unknown
    assert tenancy.authenticate(store, "assay_nonsense") is None

    tenancy.revoke_key(store, tenant, issued.record.id)
    assert tenancy.authenticate(store, issued.key) is None


def test_keys_of_a_suspended_tenant_stop_working(store: SqliteStore) -> None:
    tenant = tenancy.create_tenant(store, "Acme")
    issued = tenancy.issue_key(store, tenant, "ci", [Scope.ADMIN])
    store.update(tenant.evolve(status=TenantStatus.SUSPENDED))
    assert tenancy.authenticate(store, issued.key) is None


def test_admin_scope_allows_everything() -> None:
    record, _ = ApiKey.issue("t1", "root", [Scope.ADMIN])
    assert all(record.allows(scope) for scope in Scope)


def test_tenants_resolve_by_slug_or_id_and_slugs_are_unique(store: SqliteStore) -> None:
    tenant = tenancy.create_tenant(store, "Acme Corp!")
    assert tenant.slug == "acme-corp"
    assert tenancy.resolve_tenant(store, "acme-corp") == tenant
    assert tenancy.resolve_tenant(store, tenant.id) == tenant
    with pytest.raises(AlreadyExists):
        tenancy.create_tenant(store, "ACME corp")
    with pytest.raises(NotFound):
        tenancy.resolve_tenant(store, "globex")
    with pytest.raises(ValueError, match="slug"):
        tenancy.create_tenant(store, "Bad", slug="Not A Slug")


def test_changes_are_audited(store: SqliteStore) -> None:
    tenant = tenancy.create_tenant(store, "Acme", actor="admin-1")
    issued = tenancy.issue_key(store, tenant, "ci", [Scope.ANALYSES_READ], actor="admin-1")
    tenancy.revoke_key(store, tenant, issued.record.id, actor="admin-2")
    trail = store.list(AuditEntry, tenant.id).items
    assert [(e.actor, e.action) for e in trail] == [
        ("admin-1", "tenant.create"),
        ("admin-1", "apikey.create"),
        ("admin-2", "apikey.revoke"),
    ]
    assert all(issued.key not in e.model_dump_json() for e in trail)


def test_names_without_ascii_letters_still_get_a_stable_slug() -> None:
    assert tenancy.slugify("Acme -- Corp!") == "acme-corp"
    assert tenancy.slugify("日本") == tenancy.slugify("日本")
    assert tenancy.slugify("日本").startswith("tenant-")
    assert tenancy.slugify("日本") != tenancy.slugify("中国")
