"""Redis limiter (aws profile, or local with ASSAY_REDIS_URL): atomic Lua scripts.

Keys carry a `{hash tag}` so both windows of one limit live in the same cluster slot, which
ElastiCache Serverless (always clustered) requires of multi-key scripts. The caller's clock
picks the window; hosts running NTP agree to well under a window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from assay.errors import StoreUnavailable
from assay.limits.models import Reservation
from assay.limits.port import Limiter
from assay.limits.windows import Window

_SCRIPTS = files("assay.limits")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


class RedisLimiter(Limiter):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "assay",
        clock: Callable[[], float] = time.time,
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__(clock)
        self._url = url
        self._prefix = prefix
        try:
            self._redis: redis.Redis = redis.Redis.from_url(
                url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
            )
        except ValueError as exc:
            raise StoreUnavailable(
                f"ASSAY_REDIS_URL is not a valid Redis URL: {exc}",
                fix="use redis://host:port/db or rediss://... for TLS",
            ) from None
        self._acquire = self._redis.register_script(
            (_SCRIPTS / "acquire.lua").read_text(encoding="utf-8")
        )
        self._settle = self._redis.register_script(
            (_SCRIPTS / "settle.lua").read_text(encoding="utf-8")
        )

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            raise StoreUnavailable(
                f"Redis at {redact(self._url)} is unreachable",
                fix="start Redis or fix ASSAY_REDIS_URL (unset it locally to count in memory)",
            ) from None
        except redis.exceptions.ResponseError as exc:
            raise StoreUnavailable(f"Redis at {redact(self._url)} refused: {exc}") from None

    def _bucket_key(self, key: str, bucket: int) -> str:
        return f"{self._prefix}:lim:{{{key}}}:{bucket}"

    def _take(
        self, key: str, window: Window, *, window_s: int, amount: int, limit: int
    ) -> tuple[bool, int, int]:
        # Live until the end of the next window, when a sliding limit stops reading it.
        ttl_ms = max(1, math.ceil((window.reset_after_s + window_s) * 1000))
        allowed, current, previous = self._call(
            lambda: self._acquire(
                keys=[
                    self._bucket_key(key, window.bucket),
                    self._bucket_key(key, window.bucket - 1),
                ],
                args=[amount, limit, repr(window.weight), ttl_ms],
            )
        )
        return bool(allowed), int(current), int(previous)

    def settle(self, reservation: Reservation, actual: int) -> None:
        delta = actual - reservation.amount
        if delta == 0:
            return
        self._call(
            lambda: self._settle(
                keys=[self._bucket_key(reservation.key, reservation.bucket)], args=[delta]
            )
        )

    def incr(self, key: str, amount: int = 1, *, ttl_s: int | None = None) -> int:
        name = f"{self._prefix}:ctr:{key}"

        def run() -> int:
            pipe = self._redis.pipeline(transaction=True)
            pipe.incrby(name, amount)
            if ttl_s is not None:
                pipe.expire(name, ttl_s)
            return int(pipe.execute()[0])

        return int(self._call(run))

    def get(self, key: str) -> int:
        value = self._call(lambda: self._redis.get(f"{self._prefix}:ctr:{key}"))
        return int(value or 0)

    def ping(self) -> None:
        self._call(self._redis.ping)

    def close(self) -> None:
        self._redis.close()
