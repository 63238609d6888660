"""When and how long to wait before retrying a request."""

from __future__ import annotations

import random

import httpx

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_WAIT_S = 60.0


def delay(response: httpx.Response | None, attempt: int, backoff_s: float) -> float:
    """Honour Retry-After when the server sends one; else exponential backoff with jitter."""
    if response is not None:
        header = response.headers.get("retry-after", "")
        if header.isdigit():
            return min(float(header), MAX_WAIT_S)
    return float(min(backoff_s * 2**attempt, MAX_WAIT_S) * (0.5 + random.random() / 2))  # noqa: S311


def should_retry(response: httpx.Response | None) -> bool:
    return response is None or response.status_code in RETRY_STATUSES
