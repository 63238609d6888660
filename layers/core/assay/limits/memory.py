"""In-process limiter (local profile): one lock, lazy expiry. Not shared between processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from assay.limits import windows
from assay.limits.port import Algorithm, Decision, Limiter, Reservation


class MemoryLimiter(Limiter):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._values: dict[str, tuple[int, float | None]] = {}  # key -> (value, expires_at)
        self._lock = threading.Lock()

    def _read(self, key: str, now: float) -> int:
        value, expires = self._values.get(key, (0, None))
        if expires is not None and expires <= now:
            self._values.pop(key, None)
            return 0
        return value

    def _bucket_key(self, key: str, bucket: int) -> str:
        return f"lim:{key}:{bucket}"

    def reserve(
        self,
        key: str,
        *,
        amount: int,
        limit: int,
        window_s: int,
        algorithm: Algorithm = Algorithm.FIXED,
    ) -> tuple[Decision, Reservation | None]:
        windows.check_args(amount, limit, window_s)
        with self._lock:
            now = self._clock()
            window = windows.locate(now, window_s, algorithm)
            current_key = self._bucket_key(key, window.bucket)
            current = self._read(current_key, now)
            previous = (
                self._read(self._bucket_key(key, window.bucket - 1), now)
                if algorithm is Algorithm.SLIDING
                else 0
            )
            allowed = windows.fits(window, limit, amount, current, previous)
            if allowed:
                # Keep a bucket for two windows: the sliding algorithm reads the previous one.
                expires = (window.bucket + 2) * window_s
                self._values[current_key] = (current + amount, expires)
        decision = windows.decide(
            window=window,
            window_s=window_s,
            limit=limit,
            amount=amount,
            current=current,
            previous=previous,
            allowed=allowed,
        )
        if not allowed:
            return decision, None
        return decision, Reservation(
            key=key, amount=amount, algorithm=algorithm, window_s=window_s, bucket=window.bucket
        )

    def settle(self, reservation: Reservation, actual: int) -> None:
        with self._lock:
            bucket_key = self._bucket_key(reservation.key, reservation.bucket)
            if bucket_key not in self._values:
                return  # the window is gone; nothing left to correct
            value, expires = self._values[bucket_key]
            if expires is not None and expires <= self._clock():
                return
            self._values[bucket_key] = (max(0, value + actual - reservation.amount), expires)

    def incr(self, key: str, amount: int = 1, *, ttl_s: int | None = None) -> int:
        with self._lock:
            now = self._clock()
            value = self._read(f"ctr:{key}", now) + amount
            _, expires = self._values.get(f"ctr:{key}", (0, None))
            if ttl_s is not None:
                expires = now + ttl_s
            self._values[f"ctr:{key}"] = (value, expires)
            return value

    def get(self, key: str) -> int:
        with self._lock:
            return self._read(f"ctr:{key}", self._clock())

    def ping(self) -> None:
        return None
