"""Records in one SQLite file (local profile): WAL mode, migrations, and clear errors.

The keys are exactly the DynamoDB adapter's, so both pass the same contract suite.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

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
from assay.store.migrations import MIGRATIONS
from assay.store.port import (
    IDEMPOTENCY_TTL_S,
    Page,
    R,
    RecordStore,
    check_parent,
    plan_listing,
    to_page,
)
from assay.store.record import Record, partition_key


class SqliteStore(RecordStore):
    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000) -> None:
        self._path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._errors():
            self._db = sqlite3.connect(
                str(path),
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,  # we issue BEGIN ourselves
                check_same_thread=False,  # guarded by self._lock
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate SQLite's errors into ones that name the file and the fix."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise StoreUnavailable(
                    f"the database {self._path} is locked by another process",
                    fix="wait for or stop the other assay process, "
                    "or raise ASSAY_SQLITE_BUSY_TIMEOUT_MS",
                ) from None
            if "unable to open" in text or "readonly" in text:
                raise StoreUnavailable(
                    f"cannot open the database {self._path}: {text}",
                    fix="check that ASSAY_HOME exists and is writable by this user",
                ) from None
            raise StoreUnavailable(f"database error on {self._path}: {text}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailable(
                f"the database {self._path} is corrupt or not a SQLite file ({exc})",
                fix=f"move it aside (mv {self._path} {self._path}.bad) and run again; "
                "Assay never overwrites it",
            ) from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            yield self._db

    def _migrate(self) -> None:
        (current,) = self._db.execute("PRAGMA user_version").fetchone()
        if current > len(MIGRATIONS):
            raise StoreUnavailable(
                f"the database {self._path} was written by a newer Assay (schema {current})",
                fix="upgrade assay; your data is untouched",
            )
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, script.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ port
    def create(self, record: R, *, idempotency_key: str | None = None) -> R:
        now = int(time.time())
        pk = partition_key(record.partition_tenant(), record.kind, record.parent_id())
        stored = record.evolve(version=1)
        with self._tx() as db:
            if idempotency_key is not None:
                idem_pk = f"{record.partition_tenant()}#idem#{record.kind}"
                row = db.execute(
                    "SELECT record_sk, fingerprint FROM idempotency "
                    "WHERE pk = ? AND idem_key = ? AND expires_at > ?",
                    (idem_pk, idempotency_key, now),
                ).fetchone()
                if row is not None:
                    if row[1] != record.fingerprint():
                        raise IdempotencyConflict(
                            "this Idempotency-Key was already used with a different request"
                        )
                    body = db.execute(
                        "SELECT body FROM records WHERE pk = ? AND sk = ?", (pk, row[0])
                    ).fetchone()
                    if body is not None:
                        return type(record).model_validate_json(body[0])
                db.execute(
                    "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?)",
                    (
                        idem_pk,
                        idempotency_key,
                        record.id,
                        record.fingerprint(),
                        now + IDEMPOTENCY_TTL_S,
                    ),
                )
            lookup = record.lookup_value()
            try:
                db.execute(
                    "INSERT INTO records (pk, sk, kind, version, body, f, lk) "
                    "VALUES (?, ?, ?, 1, ?, ?, ?)",
                    (
                        pk,
                        record.id,
                        record.kind,
                        stored.to_json(),
                        json.dumps(record.filter_values()),
                        None if lookup is None else f"{record.kind}#{lookup}",
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"{record.kind} {record.id} already exists") from None
        return stored

    def create_many(self, records: Sequence[Record]) -> None:
        """One transaction for the lot; an id already stored is left as it is."""
        rows = []
        for record in records:
            lookup = record.lookup_value()
            rows.append((
                partition_key(record.partition_tenant(), record.kind, record.parent_id()),
                record.id, record.kind, record.evolve(version=1).to_json(),
                json.dumps(record.filter_values()),
                None if lookup is None else f"{record.kind}#{lookup}",
            ))  # fmt: skip
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO records (pk, sk, kind, version, body, f, lk) "
                "VALUES (?, ?, ?, 1, ?, ?, ?)",
                rows,
            )

    def get(
        self, cls: type[R], tenant_id: str, record_id: str, *, parent: str | None = None
    ) -> R | None:
        check_parent(cls, parent)
        with self._read() as db:
            row = db.execute(
                "SELECT body FROM records WHERE pk = ? AND sk = ?",
                (partition_key(tenant_id, cls.kind, parent), record_id),
            ).fetchone()
        return None if row is None else cls.model_validate_json(row[0])

    def update(self, record: R) -> R:
        if record.append_only:
            raise ImmutableRecord(f"{record.kind} records are append-only")
        pk = partition_key(record.partition_tenant(), record.kind, record.parent_id())
        stored = record.evolve(version=record.version + 1, updated_at=utcnow())
        lookup = record.lookup_value()
        with self._tx() as db:
            changed = db.execute(
                "UPDATE records SET version = ?, body = ?, f = ?, lk = ? "
                "WHERE pk = ? AND sk = ? AND version = ?",
                (
                    stored.version,
                    stored.to_json(),
                    json.dumps(record.filter_values()),
                    None if lookup is None else f"{record.kind}#{lookup}",
                    pk,
                    record.id,
                    record.version,
                ),
            ).rowcount
            if changed == 0:
                row = db.execute(
                    "SELECT version FROM records WHERE pk = ? AND sk = ?", (pk, record.id)
                ).fetchone()
                if row is None:
                    raise NotFound(f"{record.kind} {record.id} does not exist")
                raise StaleWrite(
                    f"{record.kind} {record.id} changed since it was read "
                    f"(version {row[0]}, not {record.version})",
                    fix="read it again and reapply the change",
                )
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
        sql = ["SELECT sk, body FROM records WHERE pk = ?"]
        args: list[object] = [pk]
        if id_range is not None:
            sql.append("AND sk BETWEEN ? AND ?")
            args += list(id_range)
        if cursor is not None:
            sql.append("AND sk < ?" if newest_first else "AND sk > ?")
            args.append(cursors.decode(listing, cursor))
        for name, value in sorted(filters.items()):
            sql.append("AND json_extract(f, ?) = ?")
            args += [f"$.{name}", value]
        sql.append("ORDER BY sk DESC" if newest_first else "ORDER BY sk ASC")
        sql.append("LIMIT ?")
        args.append(limit + 1)
        with self._read() as db:
            rows = db.execute(" ".join(sql), args).fetchall()
        return to_page([(sk, cls.model_validate_json(body)) for sk, body in rows], limit, listing)

    def lookup(self, cls: type[R], value: str) -> R | None:
        with self._read() as db:
            row = db.execute(
                "SELECT body FROM records WHERE lk = ?", (f"{cls.kind}#{value}",)
            ).fetchone()
        return None if row is None else cls.model_validate_json(row[0])

    def ping(self) -> None:
        with self._read() as db:
            (result,) = db.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise StoreUnavailable(
                f"the database {self._path} failed its integrity check: {result}",
                fix=f"restore it from a backup or move it aside ({self._path}.bad)",
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
