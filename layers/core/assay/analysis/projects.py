"""The projects in one snapshot: a repository with a Python service and a TypeScript front end,
or an npm/pnpm/Yarn workspace, is analyzed as several projects, each with its own runtime,
environment, baseline and tests.

A project is the snapshot's root or a directory below it (at most MAX_DEPTH deep, vendored and
build folders, tests, fixtures, examples and docs skipped) with a build file of its own
(pyproject.toml, package.json, go.mod, Cargo.toml, pom.xml...) of another kind than its nearest
enclosing build's (a Maven module, a Cargo workspace member or a Python sub-package stays with
the build that holds it), plus every package a root package.json's `workspaces` or a
pnpm-workspace.yaml lists (each with the workspace root's lockfile when it has none of its
own). Each project is detected, installed and run in its own view of the snapshot: a copy of
its directory without the nested projects of its own kind (workspace packages under their
root), which its runtime would count as its own; nested projects of another kind stay, since
its build may use their files. The root's view is the snapshot itself when nothing is left out.

Analysis-wide, modules, candidates, coverage and test ids are named by their path in the
snapshot (`web/src/app.ts`); a runtime and an engine see them relative to their project's
root. The functions here translate between the two; for a project at the root they change
nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from assay.analysis.funnel import Evaluation
from assay.engines import Candidate, Target
from assay.intake.local import SKIP_DIRS, copy_file
from assay.runtimes import CoverageMap, Detection, Environment, TestRun, javascript_install

MAX_DEPTH = 3
# Build files, and the family of builds each belongs to.
MARKERS = {
    "pyproject.toml": "python", "setup.py": "python",
    "package.json": "javascript",
    "go.mod": "go",
    "Cargo.toml": "rust",
    "pom.xml": "jvm", "build.gradle": "jvm", "build.gradle.kts": "jvm",
}  # fmt: skip
# Folders whose build files are not projects of their own (test data, samples, generated).
NOT_PROJECTS = frozenset(
    {*SKIP_DIRS, "dist", "out", "coverage", "target", "vendor", "third_party", "test", "tests",
     "testdata", "fixtures", "__fixtures__", "examples", "example", "samples", "docs", "doc"}
)  # fmt: skip


class Project(BaseModel):
    """One project of the analysis, and how far it got."""

    root: str  # relative to the snapshot, '/'-separated; "" for the snapshot itself
    excluded: list[str] = []  # the projects nested in it, relative to its root
    workspace: bool = False  # listed by the root's npm/pnpm/Yarn workspaces
    language: str | None = None
    detection: Detection | None = None
    environment: Environment | None = None
    baseline_run: dict[str, Any] | None = None
    generated: int = 0  # the engine's first files for its modules
    reason: str | None = None  # why it was left out of the rest of the analysis
    failed_at: str | None = None  # the step that failed for it (else it was skipped)

    @property
    def active(self) -> bool:
        return self.detection is not None and self.reason is None

    @property
    def name(self) -> str:
        return self.root or "."

    @property
    def status(self) -> str:
        if self.reason is None:
            return "analyzed"
        return "failed" if self.failed_at else "skipped"


# ------------------------------------------------------------------ discovery
def _families(directory: Path) -> set[str]:
    return {family for name, family in MARKERS.items() if (directory / name).is_file()}


def _workspace_patterns(root: Path) -> list[str]:
    """The globs of a root package.json's `workspaces` (a list, or Yarn's {packages: [...]})
    and of a pnpm-workspace.yaml's `packages:` list."""
    patterns: list[str] = []
    try:
        manifest = json.loads((root / "package.json").read_text())
    except (OSError, ValueError):
        manifest = None
    if isinstance(manifest, dict):
        declared = manifest.get("workspaces")
        if isinstance(declared, dict):
            declared = declared.get("packages")
        if isinstance(declared, list):
            patterns += [p for p in declared if isinstance(p, str)]
    try:
        pnpm = (root / "pnpm-workspace.yaml").read_text()
    except OSError:
        pnpm = ""
    listing = False
    for line in pnpm.splitlines():
        if re.match(r"^packages\s*:", line):
            listing = True
            continue
        if listing:
            item = re.match(r"^\s+-\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
            if item:
                patterns.append(item.group(1).strip())
            elif line.strip() and not line.startswith((" ", "\t", "#")):
                listing = False
    return patterns


def workspace_packages(root: Path) -> list[str]:
    """The directories (relative) the root's workspaces list that hold a package.json."""
    found: set[str] = set()
    excluded: set[str] = set()
    for pattern in _workspace_patterns(root):
        negated = pattern.startswith("!")
        clean = pattern.lstrip("!").strip().rstrip("/")
        if not clean or clean.startswith(("/", "..")) or "/../" in f"/{clean}/":
            continue
        for match in root.glob(clean):
            rel = match.relative_to(root).as_posix()
            if not match.is_dir() or set(PurePosixPath(rel).parts) & SKIP_DIRS:
                continue
            if negated:
                excluded.add(rel)
            elif (match / "package.json").is_file() and rel != ".":
                found.add(rel)
    return sorted(found - excluded)


def _candidates(root: Path) -> dict[str, set[str]]:
    """Directories with build files (relative: families), the root always included."""
    found: dict[str, set[str]] = {"": _families(root)}
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root).as_posix()
        depth = 0 if rel == "." else len(PurePosixPath(rel).parts)
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in NOT_PROJECTS and not d.startswith(".") and not d.endswith(".egg-info")
            and depth < MAX_DEPTH
        )  # fmt: skip
        if rel != "." and (families := _families(here)):
            found[rel] = families
    return found


def _inside(path: str, root: str) -> bool:
    return root in ("", path) or path.startswith(root + "/")


def discover(snapshot: Path) -> list[Project]:
    """The snapshot's project roots, the root first, each with the projects nested in it."""
    candidates = _candidates(snapshot)
    workspaces = set(workspace_packages(snapshot))
    for rel in workspaces:
        candidates.setdefault(rel, {"javascript"})
    split = {""}
    for rel in sorted(candidates, key=lambda r: (len(PurePosixPath(r).parts), r)):
        if rel == "":
            continue
        enclosing = max((r for r in candidates if r != rel and _inside(rel, r)), key=len)
        if rel in workspaces or not candidates[rel] & candidates[enclosing]:
            split.add(rel)
    projects = []
    for rel in sorted(split, key=lambda r: (r != "", r)):
        # Only nested projects of the same kind are left out of a project's files (workspace
        # packages under their root: its runtime would count them as its own); one of another
        # kind stays, since the parent's build may use its files (a Go module embedding its
        # web/ front end) and the parent's runtime does not count them. Only the outermost:
        # theirs go with them.
        nested = [r for r in split if r != rel and _inside(r, rel)
                  and candidates.get(r, set()) & candidates.get(rel, set())]  # fmt: skip
        outer = [r for r in nested if not any(o != r and _inside(r, o) for o in nested)]
        excluded = sorted(local(rel, r) for r in outer)
        projects.append(Project(root=rel, excluded=excluded, workspace=rel in workspaces))
    return projects


def make_view(snapshot: Path, project: Project, destination: Path) -> Path:
    """The project's files, without the projects nested in it: the snapshot itself when there
    is nothing to leave out, else a copy at `destination` (made once)."""
    if project.root == "" and not project.excluded:
        return snapshot
    ready = destination.with_name(destination.name + ".ready")
    if ready.exists() and destination.is_dir():
        return destination
    shutil.rmtree(destination, ignore_errors=True)
    source = snapshot / project.root
    inside = source.resolve()
    skipped = set(project.excluded)
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        rel = here.relative_to(source).as_posix()
        rel = "" if rel == "." else rel
        dirnames[:] = sorted(d for d in dirnames if prefixed(rel, d) not in skipped)
        (destination / rel).mkdir(parents=True, exist_ok=True)
        for name in filenames:
            path = here / name
            if path.is_symlink():
                link = os.readlink(path)  # kept only when it stays inside the project
                if not os.path.isabs(link) and (here / link).resolve().is_relative_to(inside):
                    os.symlink(link, destination / rel / name)
            elif path.is_file():
                copy_file(path, destination / rel / name)
    if project.workspace:
        _root_lockfile(snapshot, destination)
    ready.touch()
    return destination


# The JavaScript runtime's lockfiles, npm's first.
LOCKFILES = (*javascript_install.NPM_LOCKS, javascript_install.LOCKFILES["pnpm"],
             javascript_install.LOCKFILES["yarn"])  # fmt: skip


def _root_lockfile(snapshot: Path, view: Path) -> None:
    """A workspace package installs from the workspace root's lockfile when it has none of
    its own (a monorepo keeps one, at its root): the JavaScript runtime takes the locked
    versions from it, its sibling packages left out."""
    if any((view / name).exists() for name in LOCKFILES):
        return
    for name in LOCKFILES:
        found = snapshot / name
        if found.is_file() and not found.is_symlink():
            copy_file(found, view / name)
            return


def view_name(project: Project) -> str:
    """A folder name for the project's view, distinct for distinct roots (`a/b` and `a_b`)."""
    if not project.root:
        return "_root"
    digest = hashlib.sha256(project.root.encode()).hexdigest()[:8]
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', project.root)}-{digest}"


# ------------------------------------------------------------------ names
def prefixed(root: str, rel: str) -> str:
    """`rel` (relative to the project at `root`) as a path in the snapshot."""
    return f"{root}/{rel}" if root and rel else (root or rel)


def local(root: str, path: str) -> str:
    """A path in the snapshot relative to the project at `root` (inside it)."""
    return path[len(root) + 1 :] if root and path.startswith(root + "/") else path


def owner(path: str, roots: list[str]) -> str:
    """The innermost project root that holds `path` ("" when only the root does)."""
    return max((r for r in roots if _inside(path, r)), key=len, default="")


def coverage_out(root: str, coverage: CoverageMap) -> CoverageMap:
    """A project's coverage, named in the snapshot."""
    if not root:
        return coverage
    return CoverageMap(files={prefixed(root, n): c for n, c in coverage.files.items()})


def coverage_in(root: str, coverage: CoverageMap, roots: list[str]) -> CoverageMap:
    """The analysis's coverage of the project at `root`, named in the project."""
    return CoverageMap(
        files={local(root, n): c for n, c in coverage.files.items() if owner(n, roots) == root}
    )


def run_out(root: str, run: TestRun) -> TestRun:
    """A project's test run, its files, test ids and coverage named in the snapshot."""
    if not root:
        return run
    tests = [t.model_copy(update={"test_id": prefixed(root, t.test_id),
                                  "file": prefixed(root, t.file)}) for t in run.tests]  # fmt: skip
    coverage = coverage_out(root, run.coverage) if run.coverage is not None else None
    return run.model_copy(update={"tests": tests, "coverage": coverage})


def combined(runs: list[tuple[str, TestRun]]) -> TestRun:
    """The projects' runs (named in the snapshot) as one: it passed when each did."""
    if len(runs) == 1:
        return runs[0][1]
    coverage = None
    for _, run in runs:
        if run.coverage is not None:
            coverage = run.coverage if coverage is None else coverage.merged(run.coverage)
    return TestRun(
        ok=all(run.ok for _, run in runs),
        reason="; ".join(f"{root or '.'}: {run.reason}" for root, run in runs),
        tests=[t for _, run in runs for t in run.tests],
        coverage=coverage,
        output="\n".join(f"== {root or '.'} ==\n{run.output}" for root, run in runs),
        duration_s=sum(run.duration_s for _, run in runs),
    )


def candidate_out(root: str, candidate: Candidate) -> Candidate:
    if not root:
        return candidate
    return candidate.model_copy(update={"module": prefixed(root, candidate.module),
                                        "path": prefixed(root, candidate.path)})  # fmt: skip


def candidate_in(root: str, candidate: Candidate) -> Candidate:
    if not root:
        return candidate
    return candidate.model_copy(update={"module": local(root, candidate.module),
                                        "path": local(root, candidate.path)})  # fmt: skip


def target_out(root: str, target: Target) -> Target:
    return target.model_copy(update={"module": prefixed(root, target.module)}) if root else target


def target_in(root: str, target: Target) -> Target:
    return target.model_copy(update={"module": local(root, target.module)}) if root else target


def evaluation_out(root: str, evaluation: Evaluation) -> Evaluation:
    """An evaluation made in the project, named in the snapshot."""
    if not root:
        return evaluation
    findings = [f.model_copy(update={"module": prefixed(root, f.module),
                                     "test_id": prefixed(root, f.test_id)})
                for f in evaluation.findings]  # fmt: skip
    coverage = coverage_out(root, evaluation.coverage) if evaluation.coverage else None
    return evaluation.model_copy(update={
        "candidate": candidate_out(root, evaluation.candidate),
        "passing_tests": [prefixed(root, t) for t in evaluation.passing_tests],
        "coverage": coverage, "findings": findings,
    })  # fmt: skip


COUNTS = ("tests", "passed", "failed", "errored", "skipped", "collection_errors")


def merged_counts(runs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The projects' own suites (`baseline_counts` each) as one account: sums, and the errors,
    reasons and warnings with the project they came from."""
    if len(runs) == 1:
        return runs[0][1]
    total: dict[str, Any] = {k: sum(int(c.get(k, 0)) for _, c in runs) for k in COUNTS}
    total["first_errors"] = [f"{root or '.'}: {e}" for root, c in runs
                             for e in c.get("first_errors", [])][:5]  # fmt: skip
    total["reason"] = "; ".join(f"{root or '.'}: {c.get('reason', '')}" for root, c in runs)
    total["duration_s"] = round(sum(float(c.get("duration_s", 0.0)) for _, c in runs), 2)
    total["warnings"] = [f"{root or '.'}: {w}" for root, c in runs for w in c.get("warnings", [])]
    return total
