"""How Assay runs Pynguin: its command line within a time allotment, the environment that keeps
its packages and the project's apart, and what its output says when it wrote no test.

Pynguin writes its test file only at the very end, after the search and a post-processing
phase (assertions by mutation analysis, minimization) that can take several times the search
itself. A run killed at its limit yields nothing, so the search time and the post-processing
are both bounded well inside the allotment (`Plan`).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from assay.engines.port import NothingGenerated
from assay.runtimes.results import error_lines
from assay.sandbox import Outcome
from assay.sandbox.port import Ending

PYNGUIN = "pynguin==0.48.0"
# Pynguin logs through rich, which wraps lines at the terminal's width: one line per message.
ENV = {"PYNGUIN_DANGER_AWARE": "1", "COLUMNS": "240", "TERM": "dumb"}
# Imports of Pynguin itself and the analysis of the module take a few seconds before any search.
STARTUP_S = 4.0


def sitecustomize(project_sites: list[Path]) -> str:
    """A sitecustomize.py for the generator's PYTHONPATH, loaded by its process and by its
    workers and subprocesses alike: it appends the project's site-packages after Pynguin's own,
    so the project's code imports its dependencies while Pynguin keeps its own versions."""
    return "import site\n" + "".join(f"site.addsitedir({str(p)!r})\n" for p in project_sites)


class Plan(BaseModel):
    """The time one Pynguin run gets, split into its phases (seconds)."""

    search_s: int
    mutation_s: int  # assertion generation by mutation analysis
    execution_timeout_s: int  # one generated test's execution
    hard_s: float  # the sandbox stops the run here

    @classmethod
    def within(cls, allotment_s: float, *, source_lines: int = 0) -> Plan:
        """Search for 60% of what is left after start-up (less for a large module) and bound
        the mutation analysis at 12%: unbounded, the post-processing of a large suite takes
        several times the search (100 s after a 20 s search, measured), and the run must end
        to yield anything. A large module's analysis, minimization and final re-execution
        take longer too (tabulate's 2,700 lines outran 18 s of post-processing)."""
        usable = max(4.0, allotment_s - STARTUP_S)
        share = 0.6 if source_lines < 800 else (0.45 if source_lines < 2000 else 0.35)
        return cls(
            search_s=max(2, int(usable * share)),
            mutation_s=max(1, int(usable * 0.12)),
            execution_timeout_s=2 if allotment_s < 60 else 5,
            hard_s=max(allotment_s, 20.0),
        )


def argv(
    interpreter: Path,
    *,
    project: Path,
    output: Path,
    module: str,
    plan: Plan,
    seed: int,
    ignore: list[str],
) -> list[str]:
    args = [
        str(interpreter), "-m", "pynguin",
        "--project-path", str(project),
        "--output-path", str(output),
        "--module-name", module,
        "--maximum-search-time", str(plan.search_s),
        "--maximum-mutation-time", str(plan.mutation_s),
        "--maximum-test-execution-timeout", str(plan.execution_timeout_s),
        "--maximum-module-execution-timeout", str(max(5, plan.execution_timeout_s)),
        "--maximum_slicing_time", str(max(1, plan.mutation_s)),
        "--seed", str(seed),
        "--create-coverage-report", "False",
        # Expected exceptions as `pytest.raises` rather than strict-xfail tests: the test says
        # what it expects, and a mutant that stops raising fails it.
        "--no-xfail", "True",
    ]  # fmt: skip
    if ignore:
        args += ["--ignore-methods", *ignore]
    return args


def explain(outcome: Outcome, plan: Plan) -> NothingGenerated:
    """Why a Pynguin run left no test file, from how it ended and what it printed."""
    text = f"{outcome.stdout}\n{outcome.stderr}"
    tail = _tail(text)
    if outcome.ending in {Ending.TIMEOUT, Ending.CPU_LIMIT}:
        return NothingGenerated(
            "timed_out",
            f"the generator was stopped at its limit of {plan.hard_s:.0f} s before it wrote "
            f"its tests (search {plan.search_s} s)",
            tail,
        )
    if re.search(r"SUT contains nothing we can\s+(?:\S+\.py:\d+\s+)?test", text):
        return NothingGenerated(
            "nothing_to_call",
            "the generator found no public function or class it could call in the module",
            tail,
        )
    failed_import = re.search(r"Failed to (?:load|import) SUT: ?(.*)", text)
    if failed_import or re.search(r"^\w*(?:ImportError|ModuleNotFoundError)\b", text, re.M):
        errors = error_lines(text)
        error = errors[0] if errors else (failed_import.group(1).strip() if failed_import else "")
        return NothingGenerated(
            "import_failed", f"the generator could not import the module: {error}"[:500], tail
        )
    if outcome.ending is Ending.EXITED and outcome.exit_code in (0, 2):
        return NothingGenerated(
            "no_tests", "the generator ran to the end and found no test worth writing", tail
        )
    how = (f"exit code {outcome.exit_code}" if outcome.ending is Ending.EXITED
           else outcome.reason)  # fmt: skip
    return NothingGenerated("crashed", f"the generator failed ({how})", tail)


def _tail(text: str, lines: int = 15) -> str:
    kept = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])
