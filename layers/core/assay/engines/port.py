"""The engine interface: generate candidate test files for a target, repair them on feedback."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assay.runtimes import Detection, Environment, Runtime
from assay.runtimes.coverage import Arc
from assay.sandbox import Sandbox


class Segment(BaseModel):
    """A function or method with lines or branches no test reaches."""

    name: str  # qualified, e.g. Account.withdraw
    start: int
    end: int
    missing_lines: list[int]
    missing_branches: list[Arc]


class Target(BaseModel):
    module: str  # path relative to the project root
    import_name: str  # how tests reach it: a Python import name, a relative path in JS...
    missing_lines: list[int]
    missing_branches: list[Arc]
    segments: list[Segment] = Field(default_factory=list)

    @property
    def gap(self) -> int:
        return len(self.missing_lines) + len(self.missing_branches)


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
    notes: list[str] = Field(default_factory=list)  # what the engine wants the report to say


# Why an engine left a target without a candidate: each kind is a sentence in the report.
NothingKind = Literal[
    "timed_out",  # stopped at its time limit before it wrote anything
    "crashed",  # ended with an error of its own
    "import_failed",  # could not import the module under test
    "nothing_to_call",  # found nothing it could call in the module
    "no_tests",  # ran to the end and wrote no test
    "budget_spent",  # the analysis's time was used up before this target's turn
    "model_error",  # the model could not be reached or answered nothing usable
]


class NothingGenerated(Exception):
    """An engine's account of why it produced no candidate for a target."""

    def __init__(self, kind: NothingKind, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.kind: NothingKind = kind
        self.reason = reason
        self.detail = detail[-2000:]


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
    time_budget_s: float = 60.0  # the wall time this generation may take, all included
    include_entry_points: bool = False  # search `main()`-like functions too


class Engine(ABC):
    name: str
    model: str | None = None  # the model it asks, for engines that ask one
    cost_known: bool = True  # False once a model's price was missing from the cost map
    tools: tuple[str, ...] = ()  # tools it installs beside the project's (e.g. Pynguin)
    repairs: bool = False  # whether `repair` can improve a candidate
    passes: int = 1  # how many times each module with a real gap is worked on
    languages: frozenset[str] | None = None  # the runtimes it can write for; None: any

    def min_generate_s(self, source_lines: int) -> float:
        """The shortest generation worth starting for a module this size."""
        return 5.0

    @abstractmethod
    def generate(self, target: Target, context: GenerationContext, index: int) -> Candidate | None:
        """A candidate test file for `target`. Raises NothingGenerated saying why when there
        is none (None is taken as "produced no test file", without a why)."""

    def repair(
        self, target: Target, candidate: Candidate, feedback: Feedback, context: GenerationContext
    ) -> Candidate | None:
        """A better candidate given `feedback`, or None when the engine cannot repair."""
        return None
