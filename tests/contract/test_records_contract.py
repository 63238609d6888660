"""The records port's contract, run against every adapter: SQLite and DynamoDB (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import boto3
import pytest

from assay.errors import (
    AlreadyExists,
    IdempotencyConflict,
    ImmutableRecord,
    InvalidCursor,
    NotFound,
    StaleWrite,
    ValidationFailed,
)
from assay.records import (
    Analysis,
    AnalysisEvent,
    AnalysisStatus,
    ApiKey,
    AuditEntry,
    Scope,
    Tenant,
    UsageEntry,
)
from assay.records.api_keys import hash_key
from assay.store import SYSTEM_TENANT, RecordStore
from tests.conftest import REGION

TENANT = "01hzytenanta"
OTHER = "01hzytenantb"


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    if request.param == "sqlite":
        from assay.store.sqlite import SqliteStore

        sqlite = SqliteStore(tmp_path / "assay.db")
        yield sqlite
        sqlite.close()
        return
    from moto import mock_aws

    from assay.store.dynamodb import DynamoStore, table_schema

    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(**table_schema("assay-test"))
        yield DynamoStore("assay-test", region=REGION)


def _analysis(tenant: str = TENANT, **extra: object) -> Analysis:
    return Analysis(tenant_id=tenant, source="https://example.invalid/repo.git", **extra)


def test_create_then_get_round_trips(store: RecordStore) -> None:
    created = store.create(_analysis(ref="main", budget_s=90))
    assert created.version == 1
    fetched = store.get(Analysis, TENANT, created.id)
    assert fetched == created
    assert fetched is not None and fetched.ref == "main" and fetched.budget_s == 90


def test_get_missing_returns_none(store: RecordStore) -> None:
    assert store.get(Analysis, TENANT, "nope") is None


def test_create_existing_id_fails(store: RecordStore) -> None:
    first = store.create(_analysis())
    with pytest.raises(AlreadyExists):
        store.create(_analysis(id=first.id))


def test_update_bumps_version_and_rejects_stale_writes(store: RecordStore) -> None:
    created = store.create(_analysis())
    running = store.update(created.evolve(status=AnalysisStatus.RUNNING))
    assert running.version == 2
    stored = store.get(Analysis, TENANT, created.id)
    assert stored is not None and stored.status is AnalysisStatus.RUNNING and stored.version == 2

    # A writer still holding version 1 loses, and the stored record is untouched.
    with pytest.raises(StaleWrite, match="version 2, not 1"):
        store.update(created.evolve(status=AnalysisStatus.FAILED))
    stored = store.get(Analysis, TENANT, created.id)
    assert stored is not None and stored.status is AnalysisStatus.RUNNING


def test_update_missing_record_fails(store: RecordStore) -> None:
    with pytest.raises(NotFound):
        store.update(_analysis().evolve(version=1))


def test_append_only_records_cannot_change(store: RecordStore) -> None:
    entry = store.create(AuditEntry(tenant_id=TENANT, actor="k1", action="apikey.create"))
    with pytest.raises(ImmutableRecord):
        store.update(entry.evolve(outcome="denied"))
    event = AnalysisEvent(tenant_id=TENANT, analysis_id="a1", seq=1, type="started")
    store.create(event)
    # A second writer racing for the same sequence number loses instead of rewriting history.
    with pytest.raises(AlreadyExists):
        store.create(AnalysisEvent(tenant_id=TENANT, analysis_id="a1", seq=1, type="other"))


def test_events_list_in_sequence_order_per_analysis(store: RecordStore) -> None:
    for seq in (3, 1, 12, 2):
        store.create(AnalysisEvent(tenant_id=TENANT, analysis_id="a1", seq=seq, type="step"))
    store.create(AnalysisEvent(tenant_id=TENANT, analysis_id="a2", seq=1, type="step"))
    page = store.list(AnalysisEvent, TENANT, parent="a1")
    assert [e.seq for e in page.items] == [1, 2, 3, 12]
    with pytest.raises(ValidationFailed):
        store.list(AnalysisEvent, TENANT)


def test_pagination_walks_every_record_once_in_order(store: RecordStore) -> None:
    ids = [store.create(_analysis()).id for _ in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list(Analysis, TENANT, limit=3, cursor=cursor)
        seen += [a.id for a in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(ids)
    assert pages == 3

    newest = store.list(Analysis, TENANT, limit=4, newest_first=True)
    rest = store.list(Analysis, TENANT, limit=4, newest_first=True, cursor=newest.next_cursor)
    assert [a.id for a in newest.items + rest.items] == sorted(ids, reverse=True)
    assert rest.next_cursor is None


def test_exact_page_has_no_next_cursor(store: RecordStore) -> None:
    for _ in range(3):
        store.create(_analysis())
    assert store.list(Analysis, TENANT, limit=3).next_cursor is None


def test_filters_select_by_declared_fields_only(store: RecordStore) -> None:
    running = [store.update(store.create(_analysis()).evolve(status="running")) for _ in range(4)]
    for _ in range(5):
        store.create(_analysis())
    first = store.list(Analysis, TENANT, where={"status": "running"}, limit=3)
    second = store.list(
        Analysis, TENANT, where={"status": "running"}, limit=3, cursor=first.next_cursor
    )
    assert [a.id for a in first.items + second.items] == sorted(a.id for a in running)
    assert all(a.status is AnalysisStatus.RUNNING for a in first.items + second.items)
    with pytest.raises(ValidationFailed, match="cannot filter analysis by source"):
        store.list(Analysis, TENANT, where={"source": "x"})
    with pytest.raises(ValidationFailed, match="limit"):
        store.list(Analysis, TENANT, limit=0)


def test_cursors_are_bound_to_their_listing(store: RecordStore) -> None:
    for _ in range(3):
        store.create(_analysis())
    cursor = store.list(Analysis, TENANT, limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        store.list(Analysis, OTHER, limit=1, cursor=cursor)
    with pytest.raises(InvalidCursor):
        store.list(Analysis, TENANT, limit=1, cursor=cursor, where={"status": "queued"})
    with pytest.raises(InvalidCursor):
        store.list(Analysis, TENANT, limit=1, cursor="not-a-cursor!")


def test_tenants_cannot_see_each_other(store: RecordStore) -> None:
    mine = store.create(_analysis(TENANT))
    store.create(_analysis(OTHER))
    assert store.get(Analysis, OTHER, mine.id) is None
    assert [a.id for a in store.list(Analysis, TENANT).items] == [mine.id]


def test_idempotent_create_replays_the_first_result(store: RecordStore) -> None:
    first = store.create(_analysis(ref="main"), idempotency_key="req-1")
    again = store.create(_analysis(ref="main"), idempotency_key="req-1")
    assert again.id == first.id
    assert len(store.list(Analysis, TENANT).items) == 1

    with pytest.raises(IdempotencyConflict):
        store.create(_analysis(ref="dev"), idempotency_key="req-1")

    # Keys are per tenant: another tenant's identical key is a new request.
    other = store.create(_analysis(OTHER, ref="main"), idempotency_key="req-1")
    assert other.id != first.id


def test_lookup_finds_an_api_key_by_hash_across_tenants(store: RecordStore) -> None:
    record, key = ApiKey.issue(TENANT, "ci", [Scope.ANALYSES_WRITE])
    store.create(record)
    found = store.lookup(ApiKey, hash_key(key))
    assert found is not None and found.id == record.id and found.tenant_id == TENANT
    assert store.lookup(ApiKey, hash_key(key + "x")) is None
    # Revocation is an update the lookup sees at once.
    store.update(found.evolve(revoked_at=found.created_at))
    again = store.lookup(ApiKey, hash_key(key))
    assert again is not None and not again.is_active()


def test_tenants_live_in_the_system_partition(store: RecordStore) -> None:
    acme = store.create(Tenant(name="Acme", slug="acme"))
    store.create(Tenant(name="Globex", slug="globex"))
    names = [t.name for t in store.list(Tenant, SYSTEM_TENANT).items]
    assert sorted(names) == ["Acme", "Globex"]
    assert store.lookup(Tenant, "acme") == acme


def test_usage_keeps_exact_decimal_cost(store: RecordStore) -> None:
    entry = store.create(
        UsageEntry(tenant_id=TENANT, model="gpt-x", prompt_tokens=10, usd=Decimal("0.000123"))
    )
    fetched = store.get(UsageEntry, TENANT, entry.id)
    assert fetched is not None and fetched.usd == Decimal("0.000123")


def test_ping_succeeds_on_a_healthy_store(store: RecordStore) -> None:
    store.ping()


def test_id_ranges_select_by_creation_and_page_within_the_range(store: RecordStore) -> None:
    ids = sorted(store.create(_analysis()).id for _ in range(8))
    inside = ids[2:7]
    for newest_first in (False, True):
        seen: list[str] = []
        cursor = None
        while True:
            page = store.list(Analysis, TENANT, limit=2, cursor=cursor, newest_first=newest_first,
                              id_range=(inside[0], inside[-1]))  # fmt: skip
            seen += [a.id for a in page.items]
            if (cursor := page.next_cursor) is None:
                break
        assert seen == (sorted(inside, reverse=True) if newest_first else inside)
    assert store.list(Analysis, TENANT, id_range=(ids[-1] + "z", "~")).items == []
    assert store.list(Analysis, TENANT, id_range=(ids[3], ids[2])).items == []
    # A cursor belongs to its range.
    cursor = store.list(Analysis, TENANT, limit=1, id_range=(ids[0], ids[-1])).next_cursor
    with pytest.raises(InvalidCursor):
        store.list(Analysis, TENANT, limit=1, cursor=cursor)


def test_bulk_creates_store_every_record_in_one_go(store: RecordStore) -> None:
    entries = [
        UsageEntry(tenant_id=TENANT, api_key_id="k", model="m", prompt_tokens=i,
                   completion_tokens=1, latency_ms=1, status="ok", usd=Decimal("0.000001"))
        for i in range(60)  # more than one DynamoDB batch (25)
    ]  # fmt: skip
    store.create_many(entries)
    stored = store.list(UsageEntry, TENANT, limit=100).items
    assert sorted(e.prompt_tokens for e in stored) == list(range(60))
    assert all(e.version == 1 for e in stored)
    assert stored[0].usd == Decimal("0.000001")
    store.create_many([])  # nothing to do is fine
