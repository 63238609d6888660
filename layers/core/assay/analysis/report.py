"""The analysis report: report.json (schema_version 1, see report.schema.json), JUnit XML of
the kept tests, and a Markdown summary for people."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from jsonschema import Draft202012Validator

from assay import __version__
from assay.analysis import projects as found_projects
from assay.analysis import selection
from assay.analysis.gaps import left_without_tests, warnings
from assay.analysis.outputs import kept_test_path
from assay.analysis.state import StepsState
from assay.clock import utcnow
from assay.engines import Engine
from assay.runtimes import CoverageMap, Environment, TestCaseResult, TestRun

SCHEMA_FILE = Path(__file__).with_name("report.schema.json")
SCHEMA_VERSION = 1


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded


def validate(report: dict[str, Any]) -> list[str]:
    validator = Draft202012Validator(schema())
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in validator.iter_errors(report)
    ]


def write_junit(path: Path, results: list[TestCaseResult], name: str = "assay") -> None:
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(sum(r.outcome == "failed" for r in results)),
        errors=str(sum(r.outcome == "error" for r in results)),
        skipped=str(sum(r.outcome == "skipped" for r in results)),
    )
    for result in results:
        file, _, test = result.test_id.partition("::")
        case = ET.SubElement(suite, "testcase", classname=file, name=test or file, file=file)
        if result.outcome in {"failed", "error"}:
            node = ET.SubElement(
                case, "failure" if result.outcome == "failed" else "error",
                message=result.message or "", type=result.error_type or "",
            )  # fmt: skip
            node.text = result.detail or ""
        elif result.outcome == "skipped":
            ET.SubElement(case, "skipped", message=result.message or "")
        elif result.outcome == "xfailed":  # a success: say which kind in its output
            ET.SubElement(case, "system-out").text = f"xfailed: {result.message or ''}"
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.indent(suites)
    path.write_bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True))


NOT_MEASURED = "not measured"


def percent(value: float | None) -> str:
    return NOT_MEASURED if value is None else f"{value:.1f}%"


def coverage_line(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """ "lines 40.0% -> 80.0%, branches ..." with what was measured; None when nothing was."""
    parts = [
        f"{name} {percent(before[key])} -> {percent(after[key])}"
        for name, key in (("lines", "line_pct"), ("branches", "branch_pct"))
        if before[key] is not None or after[key] is not None
    ]
    return ", ".join(parts) or None


def _coverage_table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    if coverage_line(before, after) is None:
        return ["Not measured: the analysis stopped before it ran the project's tests."]
    return [
        "| | lines | branches |",
        "|---|---|---|",
        f"| before | {percent(before['line_pct'])} | {percent(before['branch_pct'])} |",
        f"| after | {percent(after['line_pct'])} | {percent(after['branch_pct'])} |",
    ]


def summary_markdown(report: dict[str, Any]) -> str:
    before, after = report["coverage"]["before"], report["coverage"]["after"]
    funnel = report["funnel"]
    lines = [
        f"# Assay analysis {report['analysis_id']}",
        "",
        f"- target: `{report['target']}` ({report['language'] or 'unknown language'})",
        f"- status: **{report['status']}**" + (f": {report['reason']}" if report["reason"] else ""),
        f"- engine: {report['engine']}" + (f" ({report['model']})" if report.get("model") else ""),
        f"- duration: {report['duration_s']:.1f} s",
        "",
        "## Coverage",
        "",
        *_coverage_table(before, after),
        "",
        "## Funnel",
        "",
        "| generated | built | passed | reliable | gained | kept |",
        "|---|---|---|---|---|---|",
        "| " + " | ".join(str(funnel[k]) for k in
                          ("generated", "built", "passed", "reliable", "gained", "kept")) + " |",
        "",
    ]  # fmt: skip
    lines += _project_lines(report.get("projects"))
    lines += _warning_lines(report.get("warnings"))
    lines += _baseline_lines(report.get("baseline"))
    kept = [t for t in report["tests"] if t["status"] == "kept"]
    discarded = [t for t in report["tests"] if t["status"] == "discarded"]
    if kept:
        lines += ["## Kept tests", ""] + [f"- `{t['path']}`: {t['reason']}" for t in kept] + [""]
    if discarded:
        lines += ["## Discarded", ""]
        lines += [f"- `{t['test_id']}` at **{t['stage']}**: {t['reason']}" for t in discarded]
        lines.append("")
    if report["findings"]:
        lines += ["## Findings (possible bugs)", ""]
        for finding in report["findings"]:
            lines.append(
                f"- `{finding['test_id']}` in `{finding['module']}`: {finding['error_type']}: "
                f"{finding['message']} (failed {finding['runs']} of {finding['runs']} runs)"
            )
        lines.append("")
    lines += _gap_lines(report.get("gaps"))
    lines += _mutation_lines(report.get("mutation"))
    cost = report["cost"]
    lines += [
        "## Cost",
        "",
        f"{cost['prompt_tokens']} prompt + {cost['completion_tokens']} completion tokens, "
        f"${cost['usd']:.4f}" + ("" if cost.get("usd_known", True) else " (model price unknown)"),
        "",
        f"Evidence: {report['evidence']['entries']} entries, head `{report['evidence']['head']}`. "
        "Check it with `assay verify` on this directory.",
        "",
    ]
    return "\n".join(lines)


def _project_lines(found: list[dict[str, Any]] | None) -> list[str]:
    """Several projects side by side (one needs no table: the report is about it)."""
    if not found or len(found) < 2:
        return []
    lines = ["## Projects", "",
             "| project | language | tests | lines before -> after | branches before -> after "
             "| generated | kept | status |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for project in found:
        before, after = project["coverage"]["before"], project["coverage"]["after"]
        status = project["status"] + (f": {project['reason']}" if project["reason"] else "")
        lines.append(
            f"| `{project['root']}` | {project['language']} | {project['test_runner'] or '-'} | "
            f"{percent(before['line_pct'])} -> {percent(after['line_pct'])} | "
            f"{percent(before['branch_pct'])} -> {percent(after['branch_pct'])} | "
            f"{project['funnel']['generated']} | {project['funnel']['kept']} | "
            f"{status.replace('|', '/').replace(chr(10), ' ')} |"
        )
    lines.append("")
    return lines


def _mutation_lines(mutation: dict[str, Any] | None) -> list[str]:
    if not mutation:
        return []
    if mutation.get("skipped"):
        return ["## Mutation score", "", f"Not measured: {mutation['skipped']}.", ""]
    score = mutation.get("score")
    lines = [
        "## Mutation score",
        "",
        f"{mutation['tool']}: {mutation['killed']} of {mutation['total']} mutants killed"
        + (f" ({score:.1f}%)" if score is not None else "")
        + ("" if mutation.get("complete") else f"; {mutation.get('reason', 'incomplete')}"),
        "",
        "| module | killed | survived | not reached | total |",
        "|---|---|---|---|---|",
    ]
    for name, module in sorted(mutation["modules"].items()):
        lines.append(f"| `{name}` | {module['killed']} | {module['survived']} | "
                     f"{module['uncovered']} | {module['total']} |")  # fmt: skip
    survivors = [s for m in mutation["modules"].values() for s in m["survivors"]]
    if survivors:
        lines += ["", "Surviving mutants (the kept tests pass with these changes):", ""]
        for survivor in survivors:
            lines += [f"- `{survivor['mutant']}`", "", "```diff", survivor["diff"].strip(), "```"]
    lines.append("")
    return lines


def _warning_lines(warnings: list[str] | None) -> list[str]:
    if not warnings:
        return []
    return ["## Warnings", "", *[f"- {w}" for w in warnings], ""]


def _baseline_lines(baseline: dict[str, Any] | None) -> list[str]:
    if not baseline or (not baseline.get("tests") and not baseline.get("first_errors")):
        return []
    lines = [
        "## The project's own tests",
        "",
        f"{baseline['tests']} tests: {baseline['passed']} passed, {baseline['failed']} failed, "
        f"{baseline['errored']} errors, {baseline['skipped']} skipped; "
        f"{baseline['collection_errors']} file(s) could not be collected.",
        "",
    ]
    if baseline.get("first_errors"):
        lines += ["First errors:", ""] + [f"- `{e}`" for e in baseline["first_errors"]] + [""]
    return lines


def _gap_lines(gaps: list[dict[str, Any]] | None) -> list[str]:
    if not gaps:
        return []
    lines = ["## Modules left without tests", "", "| module | lines | branches | why |",
             "|---|---|---|---|"]  # fmt: skip
    for gap in gaps:
        why = gap["reason"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{gap['module']}` | {gap['lines']} | {gap['branches']} | {why} |")
    lines.append("")
    return lines


def merged_after(baseline: CoverageMap | None, suite: TestRun | None) -> CoverageMap | None:
    """The baseline with the kept suite's coverage over it (files it never ran keep their
    baseline numbers)."""
    if baseline is None:
        return None
    if suite is not None and suite.coverage is not None:
        merged = CoverageMap(files=dict(suite.coverage.files))
        for module, cov in baseline.files.items():
            merged.files.setdefault(module, cov)
        return merged
    return baseline


def coverage_section(baseline: CoverageMap | None, suite: TestRun | None) -> dict[str, Any]:
    """Totals before and after, and the same per source file."""
    before = baseline or CoverageMap()
    after = merged_after(baseline, suite) or before

    def one(coverage: CoverageMap, name: str) -> dict[str, Any]:
        return CoverageMap(files={name: coverage.files[name]}).summary().model_dump()

    files = {
        name: {"before": one(before, name) if name in before.files else None,
               "after": one(after, name)}
        for name in sorted(after.files)
    }  # fmt: skip
    return {
        "before": before.summary().model_dump(),
        "after": after.summary().model_dump(),
        "files": files,
    }


def _test_entry(verdict: selection.Verdict, place: Callable[[str], str]) -> dict[str, Any]:
    candidate = verdict.evaluation.candidate
    kept = verdict.status == "kept"
    return {
        "test_id": candidate.candidate_id,
        # In the output directory for a kept test; project_path is where it runs (its path in
        # the repository, a nested project's root included).
        "path": place(candidate.path) if kept else candidate.path,
        "project_path": candidate.path,
        "status": verdict.status,
        "stage": verdict.stage.value,
        "reason": verdict.reason,
        "module": candidate.module,
        "engine": candidate.engine,
        "turns": candidate.turn,
        "new_lines": verdict.new_lines,
        "new_branches": verdict.new_branches,
    }


# The body is sealed into the evidence (evidence.verify.REPORT_BODY); report.json is the body
# plus where its evidence is, and `assay verify` compares the two.
def body(
    state: StepsState, *, analysis_id: str, target: str, engine: Engine, status: str,
    reason: str | None, duration_s: float, tests_in_tests_dir: bool = True,
    place: Callable[[str], str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """report.json without its evidence section, from what the steps hold. `place` says where
    a kept test goes in the output (by default below tests/, see `kept_test_path`)."""
    if place is None:

        def place(path: str) -> str:
            return kept_test_path(path, in_tests_dir=tests_in_tests_dir)

    gaps = left_without_tests(
        state.targets, state.verdicts, state.generation, state.unplanned,
        merged_after(state.baseline, state.suite) if state.suite is not None else None,
    )  # fmt: skip
    environment = _environment(state)
    said = warnings(state.baseline_run, environment, gaps, state.verdicts,
                    planned=len(state.targets))  # fmt: skip
    if len(state.projects) > 1:
        said += [f"{p.name}: {p.reason}" for p in state.projects if p.reason]
    return {
        "schema_version": SCHEMA_VERSION,
        "analysis_id": analysis_id,
        "status": status,
        "reason": reason,
        "target": target,
        "language": state.detection.language if state.detection else None,
        "engine": engine.name,
        "model": engine.model,
        "assay_version": __version__,
        "started_at": state.started_at.isoformat(),
        "finished_at": utcnow().isoformat(),
        "coverage": coverage_section(state.baseline, state.suite),
        "funnel": selection.funnel_counts(state.generated, state.verdicts),
        "tests": [_test_entry(v, place) for v in state.verdicts],
        "findings": state.findings,
        "cost": {**state.usage.model_dump(), "usd_known": bool(engine.cost_known)},
        "duration_s": round(duration_s, 3),
        "stages": dict(state.stage_seconds),
        "mutation": state.mutation,
        "baseline": state.baseline_run,
        "environment": None if environment is None else {
            "installed": len(environment.installed), "notes": environment.notes},
        "gaps": gaps,
        "warnings": said,
        "projects": projects_section(state, place),
    }  # fmt: skip


def _environment(state: StepsState) -> Environment | None:
    """The main project's environment; with several projects, what each installed, with the
    notes saying which project they are about."""
    installed = [p for p in state.projects if p.environment is not None]
    if len(state.projects) < 2 or not installed or state.environment is None:
        return state.environment
    return state.environment.model_copy(update={
        "installed": [name for p in installed if p.environment
                      for name in p.environment.installed],
        "notes": [f"{note} ({p.name})" for p in installed if p.environment
                  for note in p.environment.notes],
    })  # fmt: skip


def projects_section(state: StepsState, place: Callable[[str], str]) -> list[dict[str, Any]]:
    """Each project side by side: its language and runner, coverage before and after, its
    funnel and kept tests, and why it was left out when it was."""
    roots = [p.root for p in state.projects]
    before = state.baseline or CoverageMap()
    after = merged_after(state.baseline, state.suite) or before
    found = []
    for project in state.projects:

        def mine(path: str, root: str = project.root) -> bool:
            return found_projects.owner(path, roots) == root

        verdicts = [v for v in state.verdicts if mine(v.evaluation.candidate.module)]
        detection = project.detection
        found.append({
            "root": project.name,
            "language": project.language,
            "test_runner": detection.test_runner if detection else None,
            "status": project.status,
            "reason": project.reason,
            "modules": len(detection.modules) if detection else 0,
            "coverage": {
                "before": found_projects.coverage_in(project.root, before, roots)
                .summary().model_dump(),
                "after": found_projects.coverage_in(project.root, after, roots)
                .summary().model_dump(),
            },
            "funnel": selection.funnel_counts(project.generated, verdicts),
            "kept": [place(v.evaluation.candidate.path) for v in verdicts if v.status == "kept"],
            "findings": sum(mine(str(f.get("module", ""))) for f in state.findings),
            "baseline": project.baseline_run,
        })  # fmt: skip
    return found


def finish(out: Path, body: dict[str, Any], head: str, entries: int, key_id: str) -> None:
    """report.json = the sealed body plus where its evidence is (verify compares the two),
    and summary.md from it."""
    report = {
        **body,
        "evidence": {
            "head": head,
            "entries": entries,
            "key_id": key_id,
            "log": "evidence/log.jsonl",
            "checkpoint": "evidence/checkpoint.json",
        },
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "summary.md").write_text(summary_markdown(report))
