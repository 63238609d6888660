"""What one Map item (one target: generate, execute, repair) leaves for Select.

Items run concurrently, in threads locally and in separate Lambdas in AWS, so none of them may
touch the analysis's shared state or its hash-linked evidence log. Each writes only under its
own directory: its evidence entries in order (with the time they happened), its latest
evaluation and the seconds its steps took. Select chains the entries into the log, item by
item, and gathers the evaluations.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assay.analysis.funnel import Evaluation
from assay.clock import utcnow


class PendingEntry(BaseModel):
    kind: str
    at: datetime
    payload: dict[str, Any]
    artifacts: list[str]


class ItemFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    def add_entry(self, kind: str, payload: dict[str, Any], artifacts: Sequence[str] = ()) -> None:
        folder = self.root / "entries"
        folder.mkdir(parents=True, exist_ok=True)
        number = len(list(folder.glob("*.json"))) + 1  # an item's steps run one after another
        entry = PendingEntry(kind=kind, at=utcnow(), payload=payload, artifacts=list(artifacts))
        (folder / f"{number:04d}.json").write_text(entry.model_dump_json())

    def entries(self) -> list[PendingEntry]:
        folder = self.root / "entries"
        return [
            PendingEntry.model_validate_json(path.read_bytes())
            for path in sorted(folder.glob("*.json"))
        ]

    def save_evaluation(self, evaluation: Evaluation) -> None:
        """The item's verdict is its latest turn's; it carries the stages the earlier turns
        reached (a turn evaluated again, on a resume, replaces its own verdict)."""
        prior = self.evaluation()
        if prior is not None:
            earlier = prior.earlier
            if prior.candidate.turn < evaluation.candidate.turn:
                earlier = [*prior.earlier, prior.reached]
            evaluation = evaluation.model_copy(update={"earlier": earlier})
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "evaluation.json").write_text(evaluation.model_dump_json())

    def evaluation(self) -> Evaluation | None:
        path = self.root / "evaluation.json"
        return Evaluation.model_validate_json(path.read_bytes()) if path.exists() else None

    def add_seconds(self, step: str, spent: float) -> None:
        spent_by = self.seconds()
        spent_by[step] = round(spent_by.get(step, 0.0) + spent, 3)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "seconds.json").write_text(json.dumps(spent_by))

    def save_generation(self, outcome: dict[str, Any]) -> None:
        """Whether the engine produced a candidate for this item's target, and if not why."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "generation.json").write_text(json.dumps(outcome))

    def generation(self) -> dict[str, Any] | None:
        path = self.root / "generation.json"
        loaded = json.loads(path.read_bytes()) if path.exists() else None
        return loaded if isinstance(loaded, dict) else None

    def seconds(self) -> dict[str, float]:
        path = self.root / "seconds.json"
        loaded: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}
        return loaded
