"""Datasets behind the API: uploads (JSONL, or CSV with a header) become immutable versions
stored as JSONL blobs; online evaluation's samples of gateway traffic become items, so
production cases turn into regression tests."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime
from typing import Literal

from assay.blobs import BlobStore
from assay.blobs.port import tenant_key
from assay.errors import NotFound, ValidationFailed
from assay.evals.suite import MAX_ITEMS, MAX_LINE, Item, parse_jsonl
from assay.records import EvalDataset, EvalDatasetVersion, EvalSample
from assay.records.evals import version_id
from assay.store import RecordStore

Format = Literal["jsonl", "csv"]


def parse_csv(text: str, name: str) -> list[Item]:
    """A CSV with a header: `id` (the row number when absent), `expected`, `metadata.<key>`
    columns, and every other column an input field."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ValidationFailed(f"{name}: a CSV dataset needs a header row")
    items: list[Item] = []
    seen: set[str] = set()
    try:
        for number, row in enumerate(reader, start=2):
            if None in row:
                raise ValidationFailed(f"{name} line {number}: more cells than header columns")
            if sum(len(v or "") for v in row.values()) > MAX_LINE:
                raise ValidationFailed(f"{name} line {number}: over {MAX_LINE} characters")
            item_id = row.get("id") or str(number - 1)
            if item_id in seen:
                raise ValidationFailed(f"{name} line {number}: the id {item_id!r} is repeated")
            seen.add(item_id)
            items.append(Item(
                id=item_id, expected=row.get("expected"),
                input={k: v for k, v in row.items() if k not in {"id", "expected"}
                       and not k.startswith("metadata.")},
                metadata={k.removeprefix("metadata."): v for k, v in row.items()
                          if k.startswith("metadata.")},
            ))  # fmt: skip
            if len(items) > MAX_ITEMS:
                raise ValidationFailed(f"{name}: more than {MAX_ITEMS} items")
    except csv.Error as exc:
        raise ValidationFailed(f"{name}: not CSV: {exc}") from None
    if not items:
        raise ValidationFailed(f"{name}: the dataset has no items")
    return items


def parse(data: bytes, fmt: Format, name: str = "the upload") -> list[Item]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(f"{name} is not UTF-8 text") from None
    return parse_csv(text, name) if fmt == "csv" else parse_jsonl(text, name)


def as_jsonl(items: list[Item]) -> bytes:
    return "".join(item.model_dump_json() + "\n" for item in items).encode()


def save_version(
    records: RecordStore, blobs: BlobStore, tenant_id: str, name: str, items: list[Item], *,
    source: str, actor: str, description: str | None = None,
) -> EvalDatasetVersion:  # fmt: skip
    """A new immutable version of dataset `name` (created on first use)."""
    data = as_jsonl(items)
    digest = hashlib.sha256(data).hexdigest()
    key = tenant_key(tenant_id, "evals", "datasets", name, f"{digest}.jsonl")
    blobs.put(key, data)
    dataset = records.get(EvalDataset, tenant_id, name)
    if dataset is None:
        dataset = records.create(EvalDataset(id=name, tenant_id=tenant_id, name=name,
                                             description=description or ""))  # fmt: skip
    number = dataset.latest + 1
    version = records.create(EvalDatasetVersion(
        id=version_id(number), tenant_id=tenant_id, dataset_id=name, number=number,
        items=len(items), sha256=digest, blob_key=key, source=source, created_by=actor,
    ))  # fmt: skip
    change: dict[str, object] = {"latest": number, "items": len(items)}
    if description is not None:
        change["description"] = description
    records.update(dataset.evolve(**change))  # a race loses with StaleWrite, never silently
    return version


def get_version(records: RecordStore, tenant_id: str, name: str,
                version: int | None = None) -> EvalDatasetVersion:  # fmt: skip
    dataset = records.get(EvalDataset, tenant_id, name)
    if dataset is None:
        raise NotFound(f"no dataset {name!r}")
    number = version or dataset.latest
    found = records.get(EvalDatasetVersion, tenant_id, version_id(number), parent=name)
    if found is None:
        raise NotFound(f"dataset {name!r} has no version {number}")
    return found


def read_items(blobs: BlobStore, version: EvalDatasetVersion) -> list[Item]:
    return parse_jsonl(blobs.get(version.blob_key).decode("utf-8"), version.dataset_id)


def from_samples(
    records: RecordStore, tenant_id: str, *, resource: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
    min_score: float | None = None, max_score: float | None = None, limit: int = 1000,
) -> list[Item]:  # fmt: skip
    """Items from the gateway requests online evaluation sampled: the messages as input, the
    answer as `expected` (a reviewed answer to keep), scores and origin as metadata."""
    where = {"resource": resource} if resource else None
    items: list[Item] = []
    cursor = None
    while len(items) < limit:
        page = records.list(EvalSample, tenant_id, where=where, cursor=cursor, limit=500)
        for sample in page.items:
            if (since and sample.at < since) or (until and sample.at > until):
                continue
            mean = (sum(sample.scores.values()) / len(sample.scores)) if sample.scores else None
            if min_score is not None and (mean is None or mean < min_score):
                continue
            if max_score is not None and (mean is None or mean > max_score):
                continue
            last_user = next((m.get("content") for m in reversed(sample.messages)
                              if m.get("role") == "user"), "")  # fmt: skip
            items.append(Item(
                id=sample.id, expected=sample.output,
                input={"messages": sample.messages, "question": last_user},
                metadata={"resource": sample.resource, "at": sample.at.isoformat(),
                          "scores": sample.scores},
            ))  # fmt: skip
            if len(items) >= limit:
                break
        if (cursor := page.next_cursor) is None:
            break
    if not items:
        raise NotFound("no sampled gateway requests match",
                               fix="give the resource an `evaluation` with a sample_rate, or "
                               "widen the filters")  # fmt: skip
    return items
