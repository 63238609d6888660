"""Records in one DynamoDB table (aws profile), through pynamodb.

Single-table layout, identical to the SQLite adapter's keys:

| item            | pk                             | sk        | other attributes          |
|-----------------|--------------------------------|-----------|---------------------------|
| record          | ``{tenant}#{kind}[#{parent}]`` | record id | version, body, f, lk      |
| idempotency key | ``{tenant}#idem#{kind}``       | the key   | ref, fp, expires_at (TTL) |

The tenant id leads every partition key, so an IAM policy with ``dynamodb:LeadingKeys`` equal to
``${tenant}#*`` confines a role to one tenant. The ``lookup`` index (hash key ``lk``) finds a
record by a globally unique value such as an API key's hash; only trusted paths query it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

from pynamodb.attributes import MapAttribute, TTLAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import (
    DoesNotExist,
    PutError,
    PynamoDBConnectionError,
    PynamoDBException,
    TransactWriteError,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from assay.clock import utcnow
from assay.errors import (
    AlreadyExists,
    IdempotencyConflict,
    ImmutableRecord,
    NotFound,
    StaleWrite,
    StoreUnavailable,
)
from assay.store import cursor as cursors
from assay.store.port import (
    IDEMPOTENCY_TTL_S,
    Page,
    R,
    RecordStore,
    check_parent,
    key_bounds,
    plan_listing,
    to_page,
)
from assay.store.record import Record, partition_key

LOOKUP_INDEX = "lookup"
TTL_ATTRIBUTE = "expires_at"


def table_schema(table_name: str) -> dict[str, Any]:
    """The table's key schema as CreateTable arguments; the CDK stack declares the same."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "lk", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": LOOKUP_INDEX,
                "KeySchema": [{"AttributeName": "lk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


def _models(table: str, region: str, host: str | None) -> tuple[type[Model], type[Model]]:
    """Build the pynamodb model for one table (pynamodb binds table names at class level)."""
    _table, _region, _host = table, region, host

    class LookupIndex(GlobalSecondaryIndex[Any]):  # type: ignore[no-untyped-call]
        class Meta:
            index_name = LOOKUP_INDEX
            projection = AllProjection()

        lk = UnicodeAttribute(hash_key=True)

    class Idempotency(Model):
        """An idempotency key: no version attribute, it is claimed by a condition instead."""

        class Meta:
            table_name = _table
            region = _region
            host = _host

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        ref = UnicodeAttribute()
        fp = UnicodeAttribute()
        expires_at = TTLAttribute()

    class Item(Model):
        class Meta:
            table_name = _table
            region = _region
            host = _host

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        kind = UnicodeAttribute(null=True)
        version = VersionAttribute()
        body = UnicodeAttribute(null=True)
        f = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
        lk = UnicodeAttribute(null=True)
        lookup_index = LookupIndex()

    return Item, Idempotency


class DynamoStore(RecordStore):
    def __init__(self, table_name: str, *, region: str, endpoint_url: str | None = None) -> None:
        self._table = table_name
        models: tuple[Any, Any] = _models(table_name, region, endpoint_url)
        self._item, self._idem = models
        self._connection = Connection(region=region, host=endpoint_url)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (PynamoDBConnectionError, PynamoDBException) as exc:
            if isinstance(exc, PutError | TransactWriteError):
                raise
            raise StoreUnavailable(
                f"DynamoDB table {self._table} cannot be used: {exc.msg}",
                fix="check ASSAY_TABLE_NAME, AWS_REGION and this role's permissions",
            ) from None

    def _to_item(self, record: R, version: int | None) -> Any:
        lookup = record.lookup_value()
        item = self._item(
            pk=partition_key(record.partition_tenant(), record.kind, record.parent_id()),
            sk=record.id,
            kind=record.kind,
            body=record.to_json(),
            f=record.filter_values() or None,
            lk=None if lookup is None else f"{record.kind}#{lookup}",
        )
        if version is not None:
            item.version = version
        return item

    @staticmethod
    def _from_item(model: type[R], item: Any) -> R:
        return model.model_validate_json(item.body).evolve(version=item.version)

    # ------------------------------------------------------------------ port
    def create(self, record: R, *, idempotency_key: str | None = None) -> R:
        stored = record.evolve(version=1)
        item = self._to_item(stored, None)  # no version: pynamodb adds "must not exist"
        with self._errors():
            if idempotency_key is None:
                try:
                    item.save()
                except PutError as exc:
                    if exc.cause_response_code == "ConditionalCheckFailedException":
                        raise AlreadyExists(f"{record.kind} {record.id} already exists") from None
                    raise StoreUnavailable(f"DynamoDB put failed: {exc.msg}") from None
                return stored
            return self._create_idempotent(record, stored, item, idempotency_key)

    def create_many(self, records: Sequence[Record]) -> None:
        """BatchWriteItem, 25 items a call (pynamodb retries unprocessed ones). Batch writes
        take no conditions, so ids must be new, as the port asks."""
        with self._errors(), self._item.batch_write() as batch:
            for record in records:
                item = self._to_item(record.evolve(version=1), None)
                item.version = 1  # what a conditional save would have set
                batch.save(item)

    def _create_idempotent(self, record: R, stored: R, item: Any, key: str) -> R:
        now = utcnow()
        idem_pk = f"{record.partition_tenant()}#idem#{record.kind}"
        idem = self._idem(
            pk=idem_pk,
            sk=key,
            ref=record.id,
            fp=record.fingerprint(),
            expires_at=now + timedelta(seconds=IDEMPOTENCY_TTL_S),
        )
        # An idempotency key is free if absent or expired (TTL deletion lags by up to days).
        free = self._idem.pk.does_not_exist() | (self._idem.expires_at < now)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(idem, condition=free)
                tx.save(item)
        except TransactWriteError as exc:
            reasons = [r.code if r else None for r in exc.cancellation_reasons]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                prior = self._idem.get(idem_pk, key, consistent_read=True)
                if prior.fp != record.fingerprint():
                    raise IdempotencyConflict(
                        "this Idempotency-Key was already used with a different request"
                    ) from None
                found = self.get(
                    type(record), record.partition_tenant(), prior.ref, parent=record.parent_id()
                )
                if found is None:
                    raise StoreUnavailable(
                        "an idempotency key points at a missing record"
                    ) from None
                return found
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise AlreadyExists(f"{record.kind} {record.id} already exists") from None
            raise StoreUnavailable(f"DynamoDB transaction failed: {exc.msg}") from None
        return stored

    def get(
        self, cls: type[R], tenant_id: str, record_id: str, *, parent: str | None = None
    ) -> R | None:
        check_parent(cls, parent)
        with self._errors():
            try:
                item = self._item.get(
                    partition_key(tenant_id, cls.kind, parent), record_id, consistent_read=True
                )
            except DoesNotExist:
                return None
        return self._from_item(cls, item)

    def update(self, record: R) -> R:
        if record.append_only:
            raise ImmutableRecord(f"{record.kind} records are append-only")
        stored = record.evolve(version=record.version + 1, updated_at=utcnow())
        item = self._to_item(stored, record.version)  # pynamodb checks and bumps the version
        with self._errors():
            try:
                item.save(condition=self._item.pk.exists())
            except PutError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise StoreUnavailable(f"DynamoDB put failed: {exc.msg}") from None
                current = self.get(
                    type(record), record.partition_tenant(), record.id, parent=record.parent_id()
                )
                if current is None:
                    raise NotFound(f"{record.kind} {record.id} does not exist") from None
                raise StaleWrite(
                    f"{record.kind} {record.id} changed since it was read "
                    f"(version {current.version}, not {record.version})",
                    fix="read it again and reapply the change",
                ) from None
        return stored

    def list(
        self,
        cls: type[R],
        tenant_id: str,
        *,
        parent: str | None = None,
        where: dict[str, str] | None = None,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = False,
        id_range: tuple[str, str] | None = None,
    ) -> Page[R]:
        pk, filters, listing = plan_listing(
            cls, tenant_id, parent=parent, where=where, limit=limit, newest_first=newest_first,
            id_range=id_range,
        )  # fmt: skip
        after = cursors.decode(listing, cursor) if cursor is not None else None
        bounds = key_bounds(after, newest_first, id_range)
        if bounds is not None and bounds[0] > bounds[1]:
            return Page[R](items=[], next_cursor=None)
        key_condition = None if bounds is None else self._item.sk.between(*bounds)
        condition = None
        for name, value in sorted(filters.items()):
            clause = self._item.f[name] == value
            condition = clause if condition is None else condition & clause
        found: list[Any] = []
        with self._errors():
            # Filters apply after DynamoDB reads a page, so keep reading until the page is full.
            for item in self._item.query(
                pk,
                range_key_condition=key_condition,
                filter_condition=condition,
                scan_index_forward=not newest_first,
                consistent_read=True,
                page_size=min(limit + 1, 1000),
            ):
                found.append(item)
                if len(found) > limit:
                    break
        return to_page([(item.sk, self._from_item(cls, item)) for item in found], limit, listing)

    def lookup(self, cls: type[R], value: str) -> R | None:
        with self._errors():
            for item in self._item.lookup_index.query(f"{cls.kind}#{value}", limit=1):
                return self._from_item(cls, item)
        return None

    def ping(self) -> None:
        with self._errors(), suppress(DoesNotExist):
            self._item.get("_system#ping", "ping")
