"""The exact-match response cache: opt-in per resource (`cache_ttl_s`), keyed by tenant,
resource and the normalized request, so a hit is exactly the answer the same request got.

Two adapters, as elsewhere: in memory (bounded LRU, this process only) and Redis (shared by
every instance; ElastiCache in AWS). Only complete, successful, non-streamed answers are kept.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Any, ClassVar

# Fields that do not change the answer (or must not split the cache).
IGNORED = {"user", "stream", "stream_options", "metadata"}


def cache_key(tenant_id: str, resource: str, payload: dict[str, Any]) -> str:
    normalized = {k: v for k, v in payload.items() if k not in IGNORED}
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"gwcache:{tenant_id}:{resource}:{digest}"


class ResponseCache(ABC):
    blocking: ClassVar[bool] = True  # whether calls wait on the network

    @abstractmethod
    def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    def put(self, key: str, value: bytes, ttl_s: int) -> None: ...


class MemoryCache(ResponseCache):
    blocking: ClassVar[bool] = False

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._max_entries, self._max_bytes = max_entries, max_bytes
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            if hit[0] < time.monotonic():
                self._bytes -= len(self._entries.pop(key)[1])
                return None
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: bytes, ttl_s: int) -> None:
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._entries[key] = (time.monotonic() + ttl_s, value)
            self._bytes += len(value)
            while self._entries and (
                len(self._entries) > self._max_entries or self._bytes > self._max_bytes
            ):
                self._bytes -= len(self._entries.popitem(last=False)[1][1])


class RedisCache(ResponseCache):
    """The client is made on first use, so a cold start that serves no cached resource never
    imports redis-py for it."""

    def __init__(self, url: str, *, prefix: str = "assay", timeout_s: float = 0.5) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._client: Any = None
        self._prefix = prefix

    @property
    def _redis(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self._url, socket_connect_timeout=self._timeout_s,
                                                socket_timeout=self._timeout_s)  # fmt: skip
        return self._client

    def get(self, key: str) -> bytes | None:
        import redis

        try:
            value = self._redis.get(f"{self._prefix}:{key}")
        except redis.RedisError:
            return None  # a cache outage is a miss, never an error
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes, ttl_s: int) -> None:
        import redis

        try:
            self._redis.set(f"{self._prefix}:{key}", value, ex=ttl_s)
        except redis.RedisError:
            return
