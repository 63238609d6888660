"""The offline engine: Pynguin's search-based generation, run inside the sandbox.

Needs no model and no network while it runs; its tests import the module under test and assert
what the code returned during the search (regression oracles), so a generated test documents
current behaviour rather than intended behaviour.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from assay.analysis.planning import Target
from assay.engines.port import Candidate, Engine, GenerationContext
from assay.intake.local import copy_tree
from assay.intake.policy import IntakePolicy
from assay.sandbox import Job, Limits

PYNGUIN = "pynguin==0.48.0"


class OfflineEngine(Engine):
    name = "offline"
    tools = (PYNGUIN,)
    languages = frozenset({"python"})  # Pynguin writes pytest for Python modules only

    def __init__(self, *, seed: int = 42) -> None:
        self._seed = seed

    def generate(self, target: Target, context: GenerationContext, index: int) -> Candidate | None:
        work = context.scratch / f"pynguin-{Path(target.module).stem}-{index}"
        shutil.rmtree(work, ignore_errors=True)
        copy_tree(context.root, work, IntakePolicy())
        source_root = context.detection.source_roots[0]
        project = (work / source_root).resolve()
        budget = max(5, int(context.time_budget_s))
        outcome = context.sandbox.run(
            Job(
                argv=[
                    str(context.environment.interpreter),
                    "-m",
                    "pynguin",
                    "--project-path",
                    str(project),
                    "--output-path",
                    str(work / ".assay-pynguin"),
                    "--module-name",
                    target.import_name,
                    "--maximum-search-time",
                    str(budget),
                    "--seed",
                    str(self._seed + index),
                    "--create-coverage-report",
                    "False",
                ],
                workdir=work,
                readonly=context.environment.readonly,
                env={"PYNGUIN_DANGER_AWARE": "1", "PYTHONPATH": str(project)},
                limits=Limits(
                    wall_s=budget * 3 + 60, cpu_s=budget * 3 + 60, memory_mb=3072, processes=64
                ),
            )
        )
        produced = sorted((work / ".assay-pynguin").glob("test_*.py"))
        if not produced or produced[0].is_symlink():
            return None
        code = produced[0].read_text(errors="replace")
        if "def test_" not in code:
            return None
        del outcome  # its output is not needed: the file is the result
        return Candidate(
            candidate_id=f"{Path(target.module).stem}-offline-{index}",
            module=target.module,
            path=context.runtime.candidate_path(target.module, index, self.name, context.detection),
            code=code,
            engine=self.name,
        )
