"""Mutation testing for Java and Kotlin with PIT (pitest), through the project's Maven build.

PIT's Maven plugin needs its JUnit 5 plugin as a plugin dependency, which the command line
cannot add, so Assay adds a profile of its own (`assay-pit`) to the pom of the mutation's work
copy (never the user's). Prepare resolves the plugin when mutation is asked for (see
`MavenBuild.prepare`); the run is offline, in the sandbox, within the mutation budget: only the
classes of the modules with kept tests are mutated and only the kept tests run. PIT's own
statuses map to the port's: KILLED, TIMED_OUT, MEMORY_ERROR and RUN_ERROR kill a mutant;
SURVIVED survives; NO_COVERAGE is uncovered; NON_VIABLE (it did not load) is not counted.
"""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from defusedxml import ElementTree

from assay.runtimes import sandboxed
from assay.runtimes.jvm_reports import SourceIndex, test_class_name
from assay.runtimes.mutation import ModuleScore, MutationResult, Survivor
from assay.runtimes.pom import add_profile
from assay.runtimes.port import Detection, Environment, MutationTool
from assay.runtimes.results import read_inside
from assay.sandbox import Limits, Sandbox
from assay.sandbox.port import Ending

if TYPE_CHECKING:  # the runtime builds its tool and hands itself over
    from assay.runtimes.java import JavaRuntime

PITEST = "org.pitest:pitest-maven:1.30.2"
PITEST_JUNIT5 = "org.pitest:pitest-junit5-plugin:1.2.3"
PROFILE = "assay-pit"
SURVIVORS_SHOWN = 20
KILLING = {"KILLED", "TIMED_OUT", "MEMORY_ERROR", "RUN_ERROR"}
REPORT = "target/pit-reports/mutations.xml"


def with_profile(pom: str, flavour: str) -> str:
    """`pom` with Assay's PIT profile (PIT's plugin, and its JUnit 5 plugin for JUnit 5)."""
    group, artifact, version = PITEST.split(":")
    junit5 = ""
    if flavour == "junit5":
        g, a, v = PITEST_JUNIT5.split(":")
        junit5 = (f"<dependencies><dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
                  f"<version>{v}</version></dependency></dependencies>")  # fmt: skip
    profile = (f"<profile><id>{PROFILE}</id><build><plugins><plugin><groupId>{group}</groupId>"
               f"<artifactId>{artifact}</artifactId><version>{version}</version>{junit5}"
               "</plugin></plugins></build></profile>")  # fmt: skip
    return add_profile(pom, profile)


def goals(target_classes: list[str], target_tests: list[str]) -> list[str]:
    return [f"-P{PROFILE}", "test-compile", f"{PITEST}:mutationCoverage",
            f"-DtargetClasses={','.join(target_classes)}",
            f"-DtargetTests={','.join(target_tests)}", "-DoutputFormats=XML",
            "-DtimestampedReports=false", "-Dthreads=1", "-DfailWhenNoMutations=false"]  # fmt: skip


class PitMutation(MutationTool):
    name = "pitest"
    tools = ["pitest"]  # asks prepare to resolve PIT's plugin

    def __init__(self, runtime: JavaRuntime) -> None:
        self._runtime = runtime

    def run(self, env: Environment, detection: Detection, workdir: Path, *, modules: list[str],
            tests: list[str], sandbox: Sandbox, budget_s: float) -> MutationResult:  # fmt: skip
        started = time.monotonic()
        if detection.package_manager != "maven" or "pitest" not in " ".join(env.tools):
            return MutationResult(tool=self.name, modules={}, complete=False,
                                  reason="PIT runs through the project's Maven build; this "
                                  "project is not built with Maven here")  # fmt: skip
        classes = sorted({f"{self._runtime.import_hint(m, detection)}*" for m in modules})
        test_classes = sorted({name for t in tests if (name := test_class_name(t))})
        pom = workdir / "pom.xml"
        pom.write_text(with_profile(pom.read_text(errors="replace"), detection.test_runner))
        sandboxed.stage(workdir)
        commands = self._runtime.maven.offline(
            env, workdir, goals(classes, test_classes), log="pit.txt",
            limits=Limits(wall_s=max(30.0, budget_s), cpu_s=max(30.0, budget_s)),
        )  # fmt: skip
        _, outcome = sandboxed.run_steps(workdir, commands.steps, sandbox, readonly=env.readonly,
                                         env=commands.env, limits=commands.limits)  # fmt: skip
        took = round(time.monotonic() - started, 3)
        data = read_inside(workdir, REPORT)
        if data is None:
            said = self._runtime.maven.errors(sandboxed.text(workdir, "pit.txt"))
            reason = ("the mutation budget ran out before PIT finished"
                      if outcome.ending in {Ending.TIMEOUT, Ending.CPU_LIMIT}
                      else f"PIT did not finish ({outcome.reason}): {said}")  # fmt: skip
            return MutationResult(tool=self.name, modules={}, complete=False, reason=reason,
                                  duration_s=took)  # fmt: skip
        index = SourceIndex(modules, self._runtime.main_dirs[0])
        scores, complete = _scores(data, index, workdir)
        return MutationResult(tool=self.name, modules=scores, complete=complete,
                              reason="" if complete else "PIT left mutants unchecked",
                              duration_s=took)  # fmt: skip


def _scores(data: bytes, index: SourceIndex, workdir: Path) -> tuple[dict[str, ModuleScore], bool]:
    """Per module, PIT's mutants as killed, survived or uncovered; whether all were checked."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return {}, False
    scores: dict[str, ModuleScore] = {}
    complete = True
    shown = 0
    for mutation in root.iter("mutation"):
        status = mutation.get("status", "")
        mutated = mutation.findtext("mutatedClass") or ""
        package = "/".join(mutated.split(".")[:-1])
        # Only the modules asked for: the report is the sandbox's, its names untrusted.
        module = index.find(package, mutation.findtext("sourceFile") or "")
        if module is None or status in {"NON_VIABLE"}:
            continue
        if status in {"STARTED", "NOT_STARTED"}:
            complete = False
            continue
        score = scores.setdefault(module, ModuleScore())
        score.total += 1
        if status in KILLING:
            score.killed += 1
        elif status == "NO_COVERAGE":
            score.uncovered += 1
        elif status == "SURVIVED":
            score.survived += 1
            if shown < SURVIVORS_SHOWN:
                shown += 1
                score.survivors.append(_survivor(mutation, module, workdir))
    return scores, complete


def _survivor(mutation: ElementTree.Element, module: str, workdir: Path) -> Survivor:
    """A surviving mutant: PIT's words for what it changed, on which line."""
    number = mutation.findtext("lineNumber") or ""
    line = int(number) if number.isdigit() else 0
    described = mutation.findtext("description") or "mutated"
    method = mutation.findtext("mutatedMethod") or "?"
    source = (read_inside(workdir, module) or b"").decode("utf-8", "replace").splitlines()
    text = source[line - 1] if 0 < line <= len(source) else ""
    name = PurePosixPath(module).name
    # PIT names the change but does not print the mutated code: the line, and what was done.
    diff = f"@@ {module}:{line} @@\n {text}\n# PIT: {described} (in {method})\n"
    return Survivor(mutant=f"{name}:{line} {method}: {described}", diff=diff[:4000])
