"""What one analysis was asked to do."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from assay.config import Settings
from assay.records import Analysis


class AnalysisOptions(BaseModel):
    analysis_id: str
    target: str
    ref: str | None = None
    engine: str = Field(default="auto", pattern=r"^(auto|offline|llm)$")
    model: str | None = None
    budget_s: float = Field(default=600.0, gt=0)
    reruns: int = Field(default=3, ge=1)
    repair_turns: int = Field(default=2, ge=0)
    max_targets: int = Field(default=20, ge=1)
    engine_time_s: float = Field(default=600.0, gt=0)  # at most per target, within the budget
    test_timeout_s: float = Field(default=120.0, gt=0)
    workers: int = Field(default=2, ge=1)
    include_entry_points: bool = False  # let generators call main()-like functions too
    strict: bool = False  # a baseline that did not run cleanly fails the analysis
    mutation: bool = False  # measure the kept tests' mutation score (an optional stage)
    mutation_budget_s: float = Field(default=300.0, gt=0, le=840)  # within one step's 15 min

    @classmethod
    def from_settings(cls, settings: Settings, **asked: Any) -> AnalysisOptions:
        """What was asked for this analysis (`asked`: id, target, engine, budget...) over the
        operator's settings for every analysis (reruns, repair turns, workers...)."""
        configured = {
            "reruns": settings.reruns,
            "repair_turns": settings.repair_turns,
            "workers": settings.workers,
            "mutation_budget_s": settings.mutation_budget_s,
        }
        return cls.model_validate(configured | asked)

    @classmethod
    def for_record(
        cls, settings: Settings, analysis: Analysis, *, model: str | None, target: str
    ) -> AnalysisOptions:
        """A submitted analysis's options; `target` is where its source is now (an uploaded
        archive is fetched to a local file first)."""
        return cls.from_settings(
            settings, analysis_id=analysis.id, target=target, ref=analysis.ref,
            engine=analysis.engine, model=model, budget_s=analysis.budget_s,
            mutation=analysis.mutation,
        )  # fmt: skip
