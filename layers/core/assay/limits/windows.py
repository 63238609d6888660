"""Window arithmetic shared by every limiter adapter, so they decide identically."""

from __future__ import annotations

import math
from typing import NamedTuple

from assay.errors import ValidationFailed
from assay.limits.models import Algorithm, Decision


class Window(NamedTuple):
    bucket: int  # index of the current window
    weight: float  # share of the previous window still counted (0 for fixed)
    reset_after_s: float  # until the current window ends


def locate(now: float, window_s: int, algorithm: Algorithm) -> Window:
    bucket = math.floor(now / window_s)
    elapsed = now - bucket * window_s
    weight = 1.0 - elapsed / window_s if algorithm is Algorithm.SLIDING else 0.0
    return Window(bucket, weight, window_s - elapsed)


def check_args(amount: int, limit: int, window_s: int) -> None:
    if amount < 0 or limit < 0 or window_s < 1:
        raise ValidationFailed("amount and limit must be >= 0 and window_s >= 1")


def decide(
    *,
    window: Window,
    window_s: int,
    limit: int,
    amount: int,
    current: int,
    previous: int,
    allowed: bool,
) -> Decision:
    """Describe an outcome. `current` and `previous` are the counts *before* this request."""
    used = previous * window.weight + current + (amount if allowed else 0)
    retry = (
        0.0
        if allowed
        else _retry_after(
            window,
            window_s=window_s,
            limit=limit,
            amount=amount,
            current=current,
            previous=previous,
        )
    )
    return Decision(
        allowed=allowed,
        limit=limit,
        remaining=max(0, math.floor(limit - used)),
        reset_after_s=round(window.reset_after_s, 3),
        retry_after_s=round(retry, 3),
    )


def fits(window: Window, limit: int, amount: int, current: int, previous: int) -> bool:
    return previous * window.weight + current + amount <= limit


def _retry_after(
    window: Window, *, window_s: int, limit: int, amount: int, current: int, previous: int
) -> float:
    """Earliest wait after which the same request would fit, if nothing else arrives."""
    if amount > limit:
        return float(window_s)  # never fits; say "a window" rather than "forever"
    room = limit - amount - current
    if window.weight > 0 and room >= 0 and previous > 0:
        # Still this window: wait until enough of the previous window has slid out.
        needed_weight = room / previous
        return max(0.0, (window.weight - needed_weight) * window_s)
    if window.weight == 0 or current == 0:
        return window.reset_after_s
    # Next window: the current count becomes the weighted previous one.
    needed_weight = max(0.0, (limit - amount) / current)
    return window.reset_after_s + max(0.0, (1.0 - needed_weight) * window_s)
