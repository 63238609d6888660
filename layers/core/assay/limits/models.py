"""What the limits port takes and returns."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class Algorithm(StrEnum):
    FIXED = "fixed"
    SLIDING = "sliding"


class Decision(BaseModel):
    allowed: bool
    limit: int
    remaining: int = Field(ge=0)
    # Seconds until the current window ends (for RateLimit-Reset headers).
    reset_after_s: float = Field(ge=0)
    # Seconds to wait before this request could pass, 0 when allowed.
    retry_after_s: float = Field(ge=0)


class Reservation(BaseModel):
    key: str
    amount: int
    algorithm: Algorithm
    window_s: int
    bucket: int
