"""The engine interface: generate candidate test files for a target, repair them on feedback."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from pydantic import BaseModel, Field

from assay.analysis.planning import Target
from assay.runtimes import Detection, Environment, Runtime
from assay.sandbox import Sandbox


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            usd=round(self.usd + other.usd, 8),
        )


class Candidate(BaseModel):
    candidate_id: str
    module: str
    path: str  # where the test file goes, relative to the project root (tests/...)
    code: str
    engine: str
    turn: int = 0  # 0 for the first attempt, n for the n-th repair
    usage: Usage = Field(default_factory=Usage)


class Feedback(BaseModel):
    """Why a candidate fell short, for a repair turn."""

    stage: str  # built | passed | gained
    reason: str
    failures: list[str] = Field(default_factory=list)
    still_missing_lines: list[int] = Field(default_factory=list)


class GenerationContext(BaseModel):
    model_config = {"arbitrary_types_allowed": True}

    root: Path  # the snapshot
    runtime: Runtime  # the project's language: where tests go, how they are written
    detection: Detection
    environment: Environment
    sandbox: Sandbox
    scratch: Path  # a directory the engine may use
    time_budget_s: float = 60.0


class Engine(ABC):
    name: str
    repairs: bool = False  # whether `repair` can improve a candidate
    languages: frozenset[str] | None = None  # the runtimes it can write for; None: any

    @abstractmethod
    def generate(self, target: Target, context: GenerationContext, index: int) -> Candidate | None:
        """A candidate test file for `target`, or None when the engine produced nothing."""

    def repair(
        self, target: Target, candidate: Candidate, feedback: Feedback, context: GenerationContext
    ) -> Candidate | None:
        """A better candidate given `feedback`, or None when the engine cannot repair."""
        return None
