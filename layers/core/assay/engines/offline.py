"""The offline engine: Pynguin's search-based generation, run inside the sandbox.

Needs no model and no network while it runs; its tests import the module under test and assert
what the code returned during the search (regression oracles), so a generated test documents
current behaviour rather than intended behaviour.

Each run gets the wall time the analysis allots it (`GenerationContext.time_budget_s`), all
included; functions that look like a program's entry point are left out of the search unless
asked for; a run that yields nothing says why (NothingGenerated), and one stopped at its limit
is tried once more, shorter and with cheaper assertions, while its allotment lasts.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from assay.engines import pynguin
from assay.engines.entry_points import entry_points
from assay.engines.port import Candidate, Engine, GenerationContext, NothingGenerated, Target
from assay.intake.local import copy_tree
from assay.intake.policy import IntakePolicy
from assay.runtimes.python_env import site_packages
from assay.sandbox import Job, Limits

PYNGUIN = pynguin.PYNGUIN
# A second, shorter try after a run that hit its limit needs at least this long to yield.
RETRY_FLOOR_S = 15.0
# What the code under test prints while it is searched can be a lot: the sandbox keeps the
# first 32 MB (where Pynguin's set-up and import errors are) and stops a run past that.
OUTPUT_BYTES = 32_000_000


class OfflineEngine(Engine):
    name = "offline"
    tools = (PYNGUIN,)
    # A second pass over the modules with real gaps, another seed, in the time the first one
    # leaves (its search converged or its module was small); its tests are kept only where
    # they add coverage.
    passes = 2

    def min_generate_s(self, source_lines: int) -> float:
        """Pynguin's start-up, analysis and writing-out grow with the module (measured: a
        3,000-line module yielded nothing in 20 s; a 2,700-line one did in 37 s)."""
        return 12.0 + source_lines / 150

    languages = frozenset({"python"})  # Pynguin writes pytest for Python modules only

    def __init__(self, *, seed: int = 42) -> None:
        self._seed = seed

    def generate(self, target: Target, context: GenerationContext, index: int) -> Candidate | None:
        started = time.monotonic()
        source = (context.root / target.module).read_text(errors="replace")
        left_out = {} if context.include_entry_points else entry_points(source)
        work = context.scratch / f"pynguin-{Path(target.module).stem}-{index}"
        attempt = 0
        while True:
            remaining = context.time_budget_s - (time.monotonic() - started)
            plan = pynguin.Plan.within(remaining, source_lines=source.count("\n"))
            produced = self._run(
                target, context, index, work, plan=plan, left_out=left_out, fast=attempt > 0
            )
            if isinstance(produced, str):
                break
            remaining = context.time_budget_s - (time.monotonic() - started)
            if produced.kind != "timed_out" or attempt > 0 or remaining < RETRY_FLOOR_S:
                raise produced
            attempt += 1
        notes = [f"left out of the search: {name} ({why})" for name, why in left_out.items()]
        return Candidate(
            candidate_id=f"{Path(target.module).stem}-offline-{index}",
            module=target.module,
            path=context.runtime.candidate_path(target.module, index, self.name, context.detection),
            code=produced,
            engine=self.name,
            notes=notes + ([f"second try after a timeout ({plan.search_s} s)"] if attempt else []),
        )

    def _run(
        self,
        target: Target,
        context: GenerationContext,
        index: int,
        work: Path,
        *,
        plan: pynguin.Plan,
        left_out: dict[str, str],
        fast: bool,
    ) -> str | NothingGenerated:
        """The test file Pynguin wrote, or why there is none."""
        shutil.rmtree(work, ignore_errors=True)
        copy_tree(context.root, work, IntakePolicy())
        project = (work / context.detection.source_roots[0]).resolve()
        environment = context.environment
        generator = environment.generator or environment.interpreter
        argv = pynguin.argv(
            generator, project=project, output=work / ".assay-pynguin",
            module=target.import_name, plan=plan, seed=self._seed + index,
            ignore=[f"{target.import_name}.{name}" for name in left_out],
        )  # fmt: skip
        if fast:  # plain assertions on what the calls returned, no mutation analysis
            argv += ["--assertion-generation", "SIMPLE"]
        env = {**pynguin.ENV, "PYTHONPATH": str(project)}
        readonly = list(environment.readonly)
        if environment.generator is not None:  # Pynguin's venv, the project's packages after
            boot = work / ".assay-boot"
            boot.mkdir()
            sites = site_packages(environment.interpreter)
            (boot / "sitecustomize.py").write_text(pynguin.sitecustomize(sites))
            env["PYTHONPATH"] = f"{boot}:{project}"
            readonly.append(environment.generator.parent.parent)
        limits = Limits(wall_s=plan.hard_s, cpu_s=int(plan.hard_s * 2) + 30, memory_mb=3072,
                        processes=64, output_bytes=OUTPUT_BYTES)  # fmt: skip
        outcome = context.sandbox.run(
            Job(argv=argv, workdir=work, readonly=readonly, env=env, limits=limits)
        )
        produced = sorted((work / ".assay-pynguin").glob("test_*.py"))
        if produced and not produced[0].is_symlink():
            code = produced[0].read_text(errors="replace")
            if "def test_" in code:
                return code
        return pynguin.explain(outcome, plan)
