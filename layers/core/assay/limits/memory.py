"""In-process limiter (local profile): one lock, lazy expiry. Not shared between processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ClassVar

from assay.limits import windows
from assay.limits.models import Reservation
from assay.limits.port import Limiter
from assay.limits.windows import Window


class MemoryLimiter(Limiter):
    blocking: ClassVar[bool] = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
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

    def _take(
        self, key: str, window: Window, *, window_s: int, amount: int, limit: int
    ) -> tuple[bool, int, int]:
        with self._lock:
            now = self._clock()
            current_key = self._bucket_key(key, window.bucket)
            current = self._read(current_key, now)
            previous = (
                self._read(self._bucket_key(key, window.bucket - 1), now)
                if window.weight > 0
                else 0
            )
            allowed = windows.fits(window, limit, amount, current, previous)
            if allowed:
                # Keep a bucket for two windows: the sliding algorithm reads the previous one.
                self._values[current_key] = (current + amount, (window.bucket + 2) * window_s)
        return allowed, current, previous

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
