"""Repositories with several projects, analyzed in one local analysis with the LLM engine
against a scripted model server: a Python package at the root with a TypeScript (Vitest) front
end in web/, side by side; an npm monorepo analyzed workspace package by workspace package; and
a front end whose install fails while the Python package is still analyzed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from assay.analysis.report import validate
from assay.evidence import verify_dir
from tests.support.analysis import analyze_with_script
from tests.support.fake_llm import ScriptedLLM

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TS_EXAMPLE = EXAMPLES / "ts-inventory"
HOSTS = ["127.0.0.1", "::1", "localhost", "pypi.org", "files.pythonhosted.org",
         "registry.npmjs.org"]  # fmt: skip
pytestmark = [
    pytest.mark.allow_hosts(HOSTS),
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
]

OPS = """def clamp(value, low, high):
    if low > high:
        raise ValueError("low above high")
    if value < low:
        return low
    if value > high:
        return high
    return value


def sign(number):
    if number > 0:
        return 1
    if number < 0:
        return -1
    return 0
"""

OPS_TESTS = """```python
import pytest
from calc.ops import clamp, sign


def test_clamp_keeps_values_inside_and_bounds_the_rest():
    assert clamp(5, 0, 10) == 5
    assert clamp(-3, 0, 10) == 0
    assert clamp(30, 0, 10) == 10


def test_clamp_refuses_reversed_bounds():
    with pytest.raises(ValueError):
        clamp(1, 10, 0)


def test_sign_of_negatives_and_zero():
    assert sign(-4) == -1
    assert sign(0) == 0
```
"""

INVENTORY_TESTS = """```typescript
import { describe, expect, it } from "vitest";
import { Inventory } from "../src/inventory";

describe("Inventory", () => {
  it("refuses a quantity that is not positive", () => {
    expect(() => new Inventory().receive("a", 0)).toThrow(RangeError);
  });

  it("refuses unknown skus and more than is held", () => {
    const stock = new Inventory();
    stock.receive("a", 1);
    stock.receive("a", 1);
    expect(() => stock.ship("b", 1)).toThrow("unknown sku b");
    expect(() => stock.ship("a", 3)).toThrow(RangeError);
  });

  it("lists low stock, fewest first", () => {
    const stock = new Inventory();
    stock.receive("a", 4);
    stock.receive("b", 2);
    stock.receive("c", 50);
    expect(stock.toReorder()).toEqual(["b", "a"]);
  });
});
```
"""

MONEY = """export function cents(amount: number): number {
  if (!Number.isFinite(amount)) {
    throw new RangeError("not a number");
  }
  return Math.round(amount * 100);
}

export function format(cents: number): string {
  const sign = cents < 0 ? "-" : "";
  const whole = Math.abs(cents);
  return `${sign}${Math.floor(whole / 100)}.${String(whole % 100).padStart(2, "0")}`;
}
"""

MONEY_OWN_TEST = """import { expect, it } from "vitest";
import { cents } from "../src/money";

it("turns amounts into cents", () => {
  expect(cents(1.5)).toBe(150);
});
"""

MONEY_TESTS = """```typescript
import { describe, expect, it } from "vitest";
import { cents, format } from "../src/money";

describe("money", () => {
  it("refuses what is not a number", () => {
    expect(() => cents(Number.NaN)).toThrow(RangeError);
  });

  it("formats positive and negative cents", () => {
    expect(format(1234)).toBe("12.34");
    expect(format(-5)).toBe("-0.05");
  });
});
```
"""


def _python_package(root: Path) -> None:
    (root / "calc").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "calc"\nversion = "0.1.0"\ndependencies = []\n'
    )
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "ops.py").write_text(OPS)
    (root / "tests").mkdir()
    (root / "tests" / "test_ops.py").write_text(
        "from calc.ops import sign\n\n\ndef test_sign_of_positives():\n    assert sign(3) == 1\n"
    )


def _ts_package(root: Path, name: str) -> None:
    """A Vitest package with ts-inventory's pinned tools (its lockfile renamed)."""
    shutil.copytree(TS_EXAMPLE, root, ignore=shutil.ignore_patterns("node_modules"))
    for lockfile in ("package.json", "package-lock.json"):
        data = json.loads((root / lockfile).read_text())
        data["name"] = name
        if "packages" in data:
            data["packages"][""]["name"] = name
        (root / lockfile).write_text(json.dumps(data, indent=2))


def _mixed(
    home: Path, tmp_path: Path, *, lockfile: str | None = None, **options: Any
) -> tuple[dict[str, Any], ScriptedLLM]:
    """Analyze calc at the root with ts-inventory in web/ (its lockfile replaced by `lockfile`)."""
    repo = tmp_path / "repo"
    _python_package(repo)
    _ts_package(repo / "web", "web")
    if lockfile is not None:
        (repo / "web" / "package-lock.json").write_text(lockfile)
    rules = [("Module `calc/ops.py`", OPS_TESTS), ("Module `src/inventory.ts`", INVENTORY_TESTS)]
    return analyze_with_script(repo, rules, home, tmp_path / "out", **options)


def _side_by_side(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert report["status"] == "succeeded", report["reason"]
    assert validate(report) == [], validate(report)
    return {p["root"]: p for p in report["projects"]}


def test_a_python_service_and_a_typescript_front_end_side_by_side(
    assay_home: Path, tmp_path: Path
) -> None:
    report, llm = _mixed(assay_home, tmp_path, workers=2)
    out = tmp_path / "out"
    projects = _side_by_side(report)
    assert set(projects) == {".", "web"}
    python, web = projects["."], projects["web"]
    assert (python["language"], python["test_runner"]) == ("python", "pytest")
    assert (web["language"], web["test_runner"]) == ("javascript", "vitest")
    # The engine was asked about each module by its path in its own project.
    assert len(llm.requests) == 2
    for project in (python, web):
        assert project["status"] == "analyzed" and project["reason"] is None
        assert project["funnel"]["generated"] == 1 and project["funnel"]["kept"] == 1
        before, after = project["coverage"]["before"], project["coverage"]["after"]
        assert after["lines_covered"] > before["lines_covered"], project
        assert len(project["kept"]) == 1
    # Each project's coverage is its own: the Python package's own test left clamp untested.
    assert python["coverage"]["before"]["lines_total"] == 14  # calc/ops.py alone
    assert python["coverage"]["after"]["line_pct"] == 100.0
    # The analysis-wide fields count both.
    assert report["funnel"]["kept"] == 2
    files = report["coverage"]["files"]
    assert {"calc/ops.py", "web/src/inventory.ts"} <= set(files)
    assert report["coverage"]["after"]["lines_total"] == (
        python["coverage"]["after"]["lines_total"] + web["coverage"]["after"]["lines_total"]
    )
    # Kept tests: the root's under tests/, the front end's at its path in the repository.
    kept = {t["module"]: t for t in report["tests"] if t["status"] == "kept"}
    assert kept["calc/ops.py"]["path"].startswith("tests/") and "web" not in kept["calc/ops.py"][
        "path"]  # fmt: skip
    assert kept["web/src/inventory.ts"]["project_path"].startswith("web/tests/")
    assert kept["web/src/inventory.ts"]["path"] == "tests/" + kept["web/src/inventory.ts"][
        "project_path"]  # fmt: skip
    assert web["kept"] == [kept["web/src/inventory.ts"]["path"]]
    assert "toReorder" in (out / web["kept"][0]).read_text()
    summary = (out / "summary.md").read_text()
    assert "## Projects" in summary and "| `web` | javascript | vitest |" in summary
    assert verify_dir(out).ok


def test_an_npm_monorepo_is_analyzed_workspace_by_workspace(
    assay_home: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "mono"
    repo.mkdir()
    (repo / "package.json").write_text(
        json.dumps({"name": "mono", "private": True, "workspaces": ["packages/*"]})
    )
    _ts_package(repo / "packages" / "inventory", "@mono/inventory")
    _ts_package(repo / "packages" / "money", "@mono/money")
    money = repo / "packages" / "money"
    (money / "src" / "inventory.ts").unlink()
    (money / "tests" / "inventory.test.ts").unlink()
    (money / "src" / "money.ts").write_text(MONEY)
    (money / "tests" / "money.test.ts").write_text(MONEY_OWN_TEST)
    out = tmp_path / "out"
    report, _ = analyze_with_script(
        repo, [("Module `src/inventory.ts`", INVENTORY_TESTS), ("Module `src/money.ts`",
                                                                MONEY_TESTS)],
        assay_home, out, workers=2,
    )  # fmt: skip
    projects = _side_by_side(report)
    # The workspace root holds no code of its own: only its packages are projects.
    assert set(projects) == {"packages/inventory", "packages/money"}
    for project in projects.values():
        assert project["status"] == "analyzed"
        assert project["test_runner"] == "vitest"
        assert project["funnel"]["kept"] == 1
        assert project["baseline"]["passed"] == 1  # each package's own test, run on its own
        assert project["coverage"]["after"]["line_pct"] > project["coverage"]["before"]["line_pct"]
    assert projects["packages/money"]["kept"][0].startswith("tests/packages/money/tests/")
    assert set(report["coverage"]["files"]) == {
        "packages/inventory/src/inventory.ts",
        "packages/money/src/money.ts",
    }
    assert report["baseline"]["passed"] == 2


def test_a_project_that_cannot_install_leaves_the_others_analyzed(
    assay_home: Path, tmp_path: Path
) -> None:
    report, llm = _mixed(assay_home, tmp_path, lockfile="{ this is not json")
    out = tmp_path / "out"
    projects = _side_by_side(report)
    web, python = projects["web"], projects["."]
    assert web["status"] == "failed"
    assert web["reason"].startswith("the install failed: ") and "package-lock.json" in web["reason"]
    assert web["funnel"]["generated"] == 0 and web["kept"] == []
    assert any(w.startswith("web: the install failed") for w in report["warnings"])
    # The Python package went on: generated, kept, its coverage raised.
    assert len(llm.requests) == 1
    assert python["status"] == "analyzed" and python["funnel"]["kept"] == 1
    assert python["coverage"]["after"]["line_pct"] == 100.0
    assert report["language"] == "python"
    assert "failed: the install failed" in (out / "summary.md").read_text()
    assert verify_dir(out).ok
