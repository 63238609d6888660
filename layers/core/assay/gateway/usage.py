"""Usage and audit of gateway requests, written off the request path.

The request path only puts an `Outcome` on a bounded queue (never blocking: when the store
falls behind and the queue is full, entries are dropped and counted, so a slow store can
neither slow the gateway nor grow its memory). A writer thread prices each entry with
LiteLLM's local cost map (imported there, not on the request path) and stores it in batches.
"""

from __future__ import annotations

import queue
import threading
from decimal import Decimal

from assay.observability import logger
from assay.records import UsageEntry
from assay.store import RecordStore

BATCH = 100
FLUSH_S = 1.0
QUEUE_MAX = 10_000


def price(model: str | None, prompt_tokens: int, completion_tokens: int) -> tuple[Decimal, bool]:
    """USD for the tokens by LiteLLM's bundled price list, and whether the model was in it."""
    if not model or not (prompt_tokens or completion_tokens):
        return Decimal(0), model is not None
    from assay.config import prepare_litellm

    prepare_litellm()
    import litellm

    try:
        prompt_usd, completion_usd = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        return Decimal(0), False
    return Decimal(str(prompt_usd)) + Decimal(str(completion_usd)), True


class UsageWriter:
    def __init__(self, records: RecordStore) -> None:
        self._records = records
        self._queue: queue.Queue[UsageEntry] = queue.Queue(maxsize=QUEUE_MAX)
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
        batch: list[UsageEntry] = []
        try:
            batch.append(self._queue.get(timeout=FLUSH_S))
            while len(batch) < BATCH:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return batch

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            for entry in self._drain():
                usd, known = price(entry.model.split("/", 1)[-1], entry.prompt_tokens,
                                   entry.completion_tokens)  # fmt: skip
                try:
                    self._records.create(entry.model_copy(update={"usd": usd, "usd_known": known}))
                    self.written += 1
                except Exception:
                    self.dropped += 1
                    logger.exception("gateway: could not store a usage entry")
                finally:
                    self._queue.task_done()

    def flush(self) -> None:
        """Wait until everything queued so far is stored (tests, shutdown)."""
        self._queue.join()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
