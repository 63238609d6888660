"""The error vocabulary shared by every capability.

Each error says what went wrong and, where there is one, how to fix it. The CLI prints
`error: <message>` and `fix: <hint>`; the API maps `status` onto a problem+json body.
"""

from __future__ import annotations


class AssayError(Exception):
    """Base of every error Assay raises on purpose. Never carries secrets in its message."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message} ({self.fix})"


class ConfigError(AssayError):
    """Settings are missing or wrong."""

    status = 500
    code = "config"


class ValidationFailed(AssayError):
    status = 400
    code = "invalid"


class NotFound(AssayError):
    status = 404
    code = "not_found"


class AlreadyExists(AssayError):
    status = 409
    code = "already_exists"


class StaleWrite(AssayError):
    """An optimistic-concurrency update lost the race: reread and try again."""

    status = 409
    code = "stale_write"


class IdempotencyConflict(AssayError):
    """The same idempotency key was reused with a different request."""

    status = 422
    code = "idempotency_conflict"


class InvalidCursor(AssayError):
    status = 400
    code = "invalid_cursor"


class ImmutableRecord(AssayError):
    """Append-only records (events, usage, audit) cannot be changed once written."""

    status = 409
    code = "immutable"


class StoreUnavailable(AssayError):
    """A backing store (SQLite file, DynamoDB, S3, Redis, KMS) cannot be used."""

    status = 503
    code = "store_unavailable"


class DecryptionFailed(AssayError):
    """A sealed secret could not be opened: wrong key, wrong tenant or tampered data."""

    status = 500
    code = "decryption_failed"
