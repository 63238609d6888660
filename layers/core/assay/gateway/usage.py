"""Usage and audit of gateway requests, written off the request path.

The request path only puts an entry on a bounded queue (never blocking: when the store falls
behind and the queue is full, entries are dropped and counted, so a slow store can neither
slow the gateway nor grow its memory). A writer thread prices each entry with LiteLLM's
bundled price list (read as data) and stores it in batches.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import queue
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from assay.gateway.provided import getter
from assay.observability import logger
from assay.records import UsageEntry
from assay.store import RecordStore

BATCH = 500
FLUSH_S = 1.0
QUEUE_MAX = 10_000


@functools.cache
def _price_list() -> dict[str, Any]:
    """LiteLLM's bundled price list, read as data: importing LiteLLM would cost the gateway
    seconds of CPU and a hundred MB, and it fetches a newer list over the network."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(spec.submodule_search_locations[0]) / "model_prices_and_context_window_backup.json"
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded


@functools.cache
def _rates(model: str) -> tuple[Decimal, Decimal] | None:
    entry = _price_list().get(model) or _price_list().get(model.split("/", 1)[-1])
    if not isinstance(entry, dict) or "input_cost_per_token" not in entry:
        return None
    return (Decimal(str(entry["input_cost_per_token"])),
            Decimal(str(entry.get("output_cost_per_token", 0))))  # fmt: skip


def price(model: str | None, prompt_tokens: int, completion_tokens: int) -> tuple[Decimal, bool]:
    """USD for the tokens by the price list, and whether the model was in it."""
    rates = _rates(model) if model else None
    if rates is None:
        return Decimal(0), False
    return rates[0] * prompt_tokens + rates[1] * completion_tokens, True


class UsageWriter:
    def __init__(self, records: RecordStore | Callable[[], RecordStore]) -> None:
        self._records_of = getter(records)
        self._queue: queue.Queue[UsageEntry | None] = queue.Queue(maxsize=QUEUE_MAX)
        self.dropped = 0
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="assay-usage", daemon=True)
        self._thread.start()

    def record(self, entry: UsageEntry) -> None:
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.dropped += 1

    def _drain(self) -> list[UsageEntry]:
        """What is queued now, up to BATCH: one store write per batch. No lingering to fill
        a batch: a burst of writes later disturbs the request path more (by the GIL) than
        small writes as entries come (bench/gateway_overhead.py)."""
        batch: list[UsageEntry] = []
        try:
            while len(batch) < BATCH:
                item = self._queue.get(timeout=FLUSH_S) if not batch else self._queue.get_nowait()
                if item is None:  # close() woke us
                    self._queue.task_done()
                    break
                batch.append(item)
        except queue.Empty:
            pass
        return batch

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            batch = self._drain()
            if not batch:
                continue
            priced = []
            for entry in batch:
                usd, known = price(entry.model.split("/", 1)[-1], entry.prompt_tokens,
                                   entry.completion_tokens)  # fmt: skip
                priced.append(entry.model_copy(update={"usd": usd, "usd_known": known}))
            try:
                self._records_of().create_many(priced)
                self.written += len(priced)
            except Exception:
                self.dropped += len(priced)
                logger.exception("gateway: could not store usage entries",
                                 extra={"entries": len(priced)})  # fmt: skip
            finally:
                for _ in batch:
                    self._queue.task_done()

    def flush(self) -> None:
        """Wait until everything queued so far is stored (tests, shutdown)."""
        self._queue.join()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=5)
