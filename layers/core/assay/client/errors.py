"""Exceptions the SDK raises, one per kind of problem+json the API answers."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        detail = problem.get("detail") or problem.get("title") or "request failed"
        super().__init__(f"{status}: {detail}")


class AuthenticationError(ApiError):
    """401: the key is missing, malformed, expired or revoked."""


class PermissionDeniedError(ApiError):
    """403: the key lacks the scope."""


class NotFoundError(ApiError):
    """404: no such resource in this key's tenant."""


class RateLimitedError(ApiError):
    """429, after the retries ran out."""


class ServerError(ApiError):
    """5xx, after the retries ran out."""


_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    429: RateLimitedError,
}  # fmt: skip


def raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:500]}
    kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = ServerError if response.status_code >= 500 else ApiError
    raise kind(response.status_code, problem if isinstance(problem, dict) else {})
