"""Mutation score: would the kept tests catch a bug? A runtime's `MutationTool` (the port
beside `Runtime`, in `assay.runtimes.port`) changes its source in small ways (mutants), runs
the kept tests against each, and counts the mutants they kill: the scores below. Python uses
mutmut; Stryker (JavaScript) and PIT (Java) fit the same port."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Survivor(BaseModel):
    mutant: str  # the tool's name for it
    diff: str  # what was changed, as a unified diff (capped)


class ModuleScore(BaseModel):
    killed: int = 0  # a kept test failed (or timed out) on the mutant
    survived: int = 0  # the kept tests ran the mutated code and still passed
    uncovered: int = 0  # no kept test runs the mutated code
    total: int = 0  # every mutant checked (killed + survived + uncovered + suspicious)
    survivors: list[Survivor] = Field(default_factory=list)

    @property
    def score(self) -> float | None:
        return round(100.0 * self.killed / self.total, 1) if self.total else None


class MutationResult(BaseModel):
    tool: str
    modules: dict[str, ModuleScore]
    complete: bool  # False when the budget ran out before every mutant was checked
    reason: str = ""
    duration_s: float = 0.0

    def totals(self) -> ModuleScore:
        total = ModuleScore()
        for module in self.modules.values():
            total.killed += module.killed
            total.survived += module.survived
            total.uncovered += module.uncovered
            total.total += module.total
        return total
