"""Limits that keep a hostile repository or archive from hurting the host."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class IntakePolicy(BaseModel):
    max_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_files: int = Field(default=50_000, ge=1)
    # An archive member may expand at most this many times its compressed size.
    max_ratio: float = Field(default=100.0, gt=1)
    clone_timeout_s: float = Field(default=300.0, gt=0)
    # Tests and air-gapped mirrors only: permit loopback/private hosts and plain http.
    allow_private_hosts: bool = False
    allow_http: bool = False
    # For a private repository: `user:password` or a token, sent to the git host only (see
    # intake/credentials.py). Never serialized in the clear.
    git_credential: SecretStr | None = None
