"""Properties of the window arithmetic every limiter shares."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assay.limits import Algorithm, windows


@given(
    now=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    window_s=st.integers(min_value=1, max_value=3600),
    algorithm=st.sampled_from(list(Algorithm)),
)
def test_locate_stays_inside_the_window(now: float, window_s: int, algorithm: Algorithm) -> None:
    window = windows.locate(now, window_s, algorithm)
    assert 0 < window.reset_after_s <= window_s
    assert 0 <= window.weight <= 1
    if algorithm is Algorithm.FIXED:
        assert window.weight == 0


@given(
    start=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    window_s=st.integers(min_value=1, max_value=600),
    limit=st.integers(min_value=1, max_value=1000),
    amount=st.integers(min_value=1, max_value=1000),
    current=st.integers(min_value=0, max_value=1000),
    previous=st.integers(min_value=0, max_value=1000),
    algorithm=st.sampled_from(list(Algorithm)),
)
def test_waiting_retry_after_is_enough(
    start: float,
    window_s: int,
    limit: int,
    amount: int,
    current: int,
    previous: int,
    algorithm: Algorithm,
) -> None:
    """A denied request that waits `retry_after_s` (and nothing else arrives) then fits."""
    window = windows.locate(start, window_s, algorithm)
    if amount > limit or windows.fits(window, limit, amount, current, previous):
        return
    decision = windows.decide(
        window=window,
        window_s=window_s,
        limit=limit,
        amount=amount,
        current=current,
        previous=previous if algorithm is Algorithm.SLIDING else 0,
        allowed=False,
    )
    later = start + decision.retry_after_s + 1e-3
    moved = windows.locate(later, window_s, algorithm)
    shift = moved.bucket - window.bucket
    # Counts move back one window per window passed.
    now_current = current if shift == 0 else 0
    now_previous = previous if shift == 0 else current if shift == 1 else 0
    if algorithm is Algorithm.FIXED:
        now_previous = 0
    assert windows.fits(moved, limit, amount, now_current, now_previous)
