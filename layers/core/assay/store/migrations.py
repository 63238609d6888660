"""SQLite schema migrations, applied in order and tracked with `PRAGMA user_version`.

Append new steps; never edit a released one. Each step runs in its own transaction.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: one table of records keyed like the DynamoDB table, plus idempotency keys.
    """
    CREATE TABLE records (
        pk         TEXT    NOT NULL,
        sk         TEXT    NOT NULL,
        kind       TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        body       TEXT    NOT NULL,
        f          TEXT    NOT NULL DEFAULT '{}',
        lk         TEXT,
        expires_at INTEGER,
        PRIMARY KEY (pk, sk)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX records_lookup ON records (lk) WHERE lk IS NOT NULL;
    CREATE TABLE idempotency (
        pk          TEXT    NOT NULL,
        idem_key    TEXT    NOT NULL,
        record_sk   TEXT    NOT NULL,
        fingerprint TEXT    NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (pk, idem_key)
    ) WITHOUT ROWID;
    """,
)
