"""Finding the projects in a snapshot, and each one's view of it (assay.analysis.projects)."""

from __future__ import annotations

from pathlib import Path

from assay import runtimes
from assay.analysis import projects
from assay.runtimes import CoverageMap
from assay.runtimes.coverage import FileCoverage


def _files(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}" if name.endswith(".json") else "x = 1\n")


def _found(root: Path) -> dict[str, list[str]]:
    return {p.root: p.excluded for p in projects.discover(root)}


def test_one_project_is_the_root_alone(tmp_path: Path) -> None:
    # Build files of the same kind below a build (a sub-package, fixtures, examples, docs,
    # node_modules) are the enclosing project's, not projects of their own.
    _files(tmp_path, "pyproject.toml", "pkg/a.py", "plugins/x/setup.py", "tests/data/setup.py",
           "examples/demo/package.json", "docs/package.json",
           "node_modules/y/package.json")  # fmt: skip
    assert _found(tmp_path) == {"": []}


def test_a_front_end_of_another_kind_is_a_project_of_its_own(tmp_path: Path) -> None:
    _files(tmp_path, "pyproject.toml", "svc/app.py", "web/package.json", "web/src/a.ts",
           "web/ui/package.json", "tools/gen/go.mod", "a/b/c/d/Cargo.toml")  # fmt: skip
    # web/ui is web's (same kind); a/b/c/d is deeper than MAX_DEPTH. Projects of another
    # kind stay among the root's files (its build may use them).
    assert _found(tmp_path) == {"": [], "tools/gen": [], "web": []}


def test_workspaces_are_projects_even_of_the_same_kind(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        '{"workspaces": ["packages/*", "!packages/skip", "../outside"]}'
    )
    _files(tmp_path, "packages/a/package.json", "packages/b/package.json",
           "packages/skip/package.json", "packages/nothing/README.md",
           "site/package.json")  # fmt: skip
    assert _found(tmp_path) == {"": ["packages/a", "packages/b"], "packages/a": [],
                                "packages/b": []}  # fmt: skip
    yarn = tmp_path / "yarn"
    (yarn / "libs" / "one").mkdir(parents=True)
    (yarn / "libs" / "one" / "package.json").write_text("{}")
    (yarn / "package.json").write_text('{"workspaces": {"packages": ["libs/*"]}}')
    assert projects.workspace_packages(yarn) == ["libs/one"]


def test_pnpm_workspace_yaml(tmp_path: Path) -> None:
    (tmp_path / "pnpm-workspace.yaml").write_text(
        "packages:\n  - 'apps/*'\n  - \"libs/core\"  # the core\n\ncatalog:\n  - 'x/*'\n"
    )
    _files(tmp_path, "package.json", "apps/web/package.json", "libs/core/package.json",
           "x/y/package.json")  # fmt: skip
    assert projects.workspace_packages(tmp_path) == ["apps/web", "libs/core"]


def test_a_view_leaves_out_only_nested_projects_of_its_own_kind(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    _files(snapshot, "pyproject.toml", "app.py", "web/package.json", "web/src/a.ts")
    (snapshot / "outside.txt").write_text("the repository's")
    (snapshot / "web" / "src" / "up").symlink_to("../../outside.txt")  # leaves web/
    (snapshot / "web" / "src" / "same").symlink_to("a.ts")
    root, web = projects.discover(snapshot)
    assert projects.make_view(snapshot, root, tmp_path / "views" / "root") == snapshot
    inner = projects.make_view(snapshot, web, tmp_path / "views" / "web")
    assert sorted(p.relative_to(inner).as_posix() for p in inner.rglob("*")
                  if p.is_file() or p.is_symlink()) == [
        "package.json", "src/a.ts", "src/same"]  # fmt: skip
    monorepo = tmp_path / "mono"
    (monorepo / "package.json").parent.mkdir(parents=True)
    (monorepo / "package.json").write_text('{"workspaces": ["packages/*"]}')
    _files(monorepo, "index.js", "packages/a/package.json", "packages/a/a.js")
    top, _ = projects.discover(monorepo)
    view = projects.make_view(monorepo, top, tmp_path / "views" / "top")
    assert sorted(p.relative_to(view).as_posix() for p in view.rglob("*") if p.is_file()) == [
        "index.js", "package.json"]  # fmt: skip
    assert projects.view_name(projects.Project(root="a/b")) != projects.view_name(
        projects.Project(root="a_b"))  # fmt: skip


def test_names_translate_between_the_project_and_the_repository() -> None:
    roots = ["", "web", "web/ui"]
    assert projects.owner("web/src/a.ts", roots) == "web"
    assert projects.owner("web/ui/b.ts", roots) == "web/ui"
    assert projects.owner("webby/c.py", roots) == ""
    run = runtimes.TestRun(
        ok=True, reason="all tests passed",
        tests=[runtimes.TestCaseResult(test_id="tests/a.test.ts::adds", file="tests/a.test.ts",
                              outcome="passed")],
        coverage=CoverageMap(files={"src/a.ts": FileCoverage(executed={1}, missing={2})}),
    )  # fmt: skip
    named = projects.run_out("web", run)
    assert named.tests[0].test_id == "web/tests/a.test.ts::adds"
    assert named.tests[0].file == "web/tests/a.test.ts"
    assert named.coverage is not None and list(named.coverage.files) == ["web/src/a.ts"]
    assert projects.run_out("", run) is run
    both = CoverageMap(files={"app.py": FileCoverage(), **named.coverage.files})
    assert list(projects.coverage_in("web", both, roots).files) == ["src/a.ts"]
    assert list(projects.coverage_in("", both, roots).files) == ["app.py"]
    counts = projects.merged_counts([
        ("", {"tests": 2, "passed": 2, "warnings": [], "first_errors": [], "reason": "ok"}),
        ("web", {"tests": 1, "passed": 0, "failed": 1, "warnings": ["none passed"],
                 "first_errors": ["x: boom"], "reason": "some tests failed"}),
    ])  # fmt: skip
    assert (counts["tests"], counts["passed"], counts["failed"]) == (3, 2, 1)
    assert counts["warnings"] == ["web: none passed"]
    assert counts["first_errors"] == ["web: x: boom"]


def test_a_workspace_package_gets_the_roots_lockfile_unless_it_has_its_own(
    tmp_path: Path,
) -> None:
    (tmp_path / "package.json").write_text('{"workspaces": ["packages/*"]}')
    (tmp_path / "package-lock.json").write_text('{"lockfileVersion": 3}')
    _files(tmp_path, "packages/a/package.json", "packages/b/package.json",
           "packages/b/yarn.lock")  # fmt: skip
    _, a, b = projects.discover(tmp_path)
    view_a = projects.make_view(tmp_path, a, tmp_path.parent / "views-a")
    assert (view_a / "package-lock.json").read_text() == '{"lockfileVersion": 3}'
    view_b = projects.make_view(tmp_path, b, tmp_path.parent / "views-b")
    assert not (view_b / "package-lock.json").exists() and (view_b / "yarn.lock").exists()
