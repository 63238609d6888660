"""The API's FastAPI dependencies for who is calling; the work is in `identity.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request

from assay.api.identity import (
    Authenticator,
    Forbidden,
    Principal,
    TooManyRequests,
    Unauthorized,
)
from assay.records import Scope
from assay.wiring import Ports

__all__ = ["Forbidden", "Principal", "TooManyRequests", "Unauthorized", "ports", "principal",
           "require"]  # fmt: skip


async def ports(request: Request) -> Ports:
    found: Ports = request.app.state.ports
    return found


async def principal(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.authenticate(request.headers.get("authorization", ""))


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must hold `scope` (or admin)."""

    async def check(caller: Principal = Depends(principal)) -> Principal:  # noqa: B008
        if not caller.allows(scope):
            raise Forbidden(f"the caller lacks the '{scope.value}' scope")
        return caller

    return check
