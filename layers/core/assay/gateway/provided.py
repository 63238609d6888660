"""Ports handed to the gateway either built or as a getter that builds them on first use.

The gateway Lambda builds its adapters (DynamoDB, Redis, KMS clients) on the first request
rather than at import, so its module import stays short; `assay serve` passes them built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar, cast

T = TypeVar("T")


def getter(source: T | Callable[[], T]) -> Callable[[], T]:
    if inspect.isfunction(source) or inspect.ismethod(source):
        return cast("Callable[[], T]", source)
    return lambda: cast("T", source)
