"""Assay's offline engine against Pynguin alone, on CM-suite packages (the CodaMosa/CoverUp
benchmark's PyPI projects), with the same time per module, both measured from outside.

For each package (its sdist from PyPI, tests removed so both start from nothing):
- Pynguin alone: `pynguin --maximum-search-time T` per module, everything else its defaults,
  in a venv of its own (the way a user would run it), wall time recorded;
- Assay: `assay analyze PACKAGE --engine offline --budget T*modules` (the budget covers
  generation and checking of every module);
- then each tool's tests are run in a clean venv under coverage.py (branch coverage), failing
  tests included, and line+branch coverage is counted per module and pooled.

    .venv/bin/python bench/offline_vs_pynguin.py [--search 30] [--only sty]

Results: bench/results/offline_vs_pynguin.json (and a table on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
PYNGUIN = "pynguin==0.48.0"
# (distribution, version, import package); pure-Python packages of the CM suite. Every module
# of the package is a target for both tools.
PACKAGES = [
    ("sty", "1.0.6", "sty"),
    ("python-string-utils", "1.0.0", "string_utils"),
    ("docstring_parser", "0.15", "docstring_parser"),
]


def modules_of(project: Path, package: str) -> list[str]:
    found = []
    for path in sorted((project / package).rglob("*.py")):
        parts = list(path.relative_to(project).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append(".".join(parts))
    return found


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def venv(where: Path, packages: list[str]) -> Path:
    if not (where / "bin" / "python").exists():
        run([sys.executable, "-m", "venv", str(where)])
        done = run([str(where / "bin" / "python"), "-m", "pip", "install", "-q", *packages])
        if done.returncode:
            raise SystemExit(f"pip install {packages} failed: {done.stderr[-2000:]}")
    return where / "bin" / "python"


def fetch(work: Path, dist: str, version: str, package: str) -> Path:
    """The sdist's package directory only (no tests, no build files): both tools start equal."""
    dest = work / "src" / dist
    if dest.exists():
        return dest
    download = work / "downloads"
    download.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "-d", str(download), f"{dist}=={version}"])  # fmt: skip
    archive = next(p for p in download.iterdir() if p.name.lower().startswith(
        dist.lower().replace("-", "_")) or p.name.lower().startswith(dist.lower()))  # fmt: skip
    unpacked = work / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    found = next(unpacked.glob(f"*/{package}")) if list(unpacked.glob(f"*/{package}")) else next(
        unpacked.glob(f"*/src/{package}"))  # fmt: skip
    dest.mkdir(parents=True)
    shutil.copytree(found, dest / package, ignore=shutil.ignore_patterns("tests", "test"))
    return dest


def pynguin_alone(python: Path, project: Path, modules: list[str], search: int, out: Path) -> dict:
    times = {}
    for module in modules:
        started = time.monotonic()
        done = run(
            [str(python), "-m", "pynguin", "--project-path", str(project), "--output-path",
             str(out), "--module-name", module, "--maximum-search-time", str(search),
             "--seed", "42", "--create-coverage-report", "False"],
            env={**os.environ, "PYNGUIN_DANGER_AWARE": "1"}, stdin=subprocess.DEVNULL,
            timeout=3600,
        )  # fmt: skip
        times[module] = {"wall_s": round(time.monotonic() - started, 1), "exit": done.returncode}
    return times


def assay(project: Path, budget: float, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    done = run([str(REPO / ".venv" / "bin" / "assay"), "analyze", str(project), "--engine",
                "offline", "--budget", str(budget), "--out", str(out)])  # fmt: skip
    wall = time.monotonic() - started
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return {"wall_s": round(wall, 1), "exit": done.returncode, "status": report.get("status"),
            "stages": report.get("stages"), "funnel": report.get("funnel"),
            "gaps": [{k: g[k] for k in ("module", "kind", "reason")}
                     for g in report.get("gaps") or []],
            "stdout": done.stdout[-1500:]}  # fmt: skip


def measure(python: Path, project: Path, tests: Path, package: str, modules: list[str]) -> dict:
    """Line+branch coverage of `modules` by the test files in `tests`, run by pytest."""
    work = project.parent / f".measure-{tests.name}"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(project, work)
    (work / "tests_under_measure").mkdir()
    for path in sorted(tests.glob("test_*.py")):
        shutil.copy(path, work / "tests_under_measure" / path.name)
    run([str(python), "-m", "coverage", "run", "--branch", f"--source={package}", "-m", "pytest",
         "-q", "-p", "no:cacheprovider", "tests_under_measure"], cwd=work,
        env={**os.environ, "PYTHONPATH": str(work)}, timeout=1800)  # fmt: skip
    run([str(python), "-m", "coverage", "json", "-o", "cov.json"], cwd=work)
    data = json.loads((work / "cov.json").read_text()) if (work / "cov.json").exists() else {}
    result = {}
    for module in modules:
        rel = module.replace(".", "/") + ".py"
        if not (project / rel).is_file():
            rel = module.replace(".", "/") + "/__init__.py"
        summary = data.get("files", {}).get(rel, {}).get("summary")
        if summary is None:  # never imported: the other tool's total counts it as missed
            result[module] = {"covered": 0, "total": None}
            continue
        covered = summary["covered_lines"] + summary.get("covered_branches", 0)
        total = summary["num_statements"] + summary.get("num_branches", 0)
        result[module] = {"covered": covered, "total": total,
                          "pct": round(100 * covered / total, 1) if total else 100.0}  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--search", type=int, default=30, help="seconds per module")
    parser.add_argument("--only", help="distributions, comma-separated")
    parser.add_argument(
        "--reuse-pynguin",
        action="store_true",
        help="keep Pynguin alone's tests from an earlier run (same --search)",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/assay-bench-offline"))
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    pynguin_python = venv(work / "pynguin-venv", [PYNGUIN])
    measure_python = venv(work / "measure-venv", ["pytest<9", "coverage"])
    results: dict[str, Any] = {"search_s": args.search, "packages": {}}
    for dist, version, package in PACKAGES:
        if args.only and dist not in args.only.split(","):
            continue
        project = fetch(work, dist, version, package)
        modules = modules_of(project, package)
        alone_out = work / "pynguin-out" / dist
        runs = alone_out / "runs.json"
        if args.reuse_pynguin and runs.exists():  # Pynguin alone's run of an earlier bench
            alone = json.loads(runs.read_text())
        else:
            shutil.rmtree(alone_out, ignore_errors=True)
            alone = pynguin_alone(pynguin_python, project, modules, args.search, alone_out)
            runs.write_text(json.dumps(alone))
        ours = assay(project, args.search * len(modules), work / "assay-out" / dist)
        results["packages"][dist] = {
            "version": version,
            "pynguin": {"runs": alone, "coverage": measure(measure_python, project, alone_out,
                                                           package, modules)},
            "assay": {"run": ours, "coverage": measure(measure_python, project,
                                                       work / "assay-out" / dist / "tests",
                                                       package, modules)},
        }  # fmt: skip
        (ROOT / "results").mkdir(exist_ok=True)
        (ROOT / "results" / "offline_vs_pynguin.json").write_text(json.dumps(results, indent=1))
    pooled = {"pynguin": [0, 0], "assay": [0, 0]}
    print(f"{'module':40} {'pynguin':>9} {'assay':>9}")
    for dist, entry in results["packages"].items():
        for module in entry["pynguin"]["coverage"]:
            row = []
            for tool in ("pynguin", "assay"):
                cov = entry[tool]["coverage"][module]
                total = cov["total"] or entry["pynguin"]["coverage"][module]["total"] or \
                    entry["assay"]["coverage"][module]["total"] or 0  # fmt: skip
                pooled[tool][0] += cov["covered"]
                pooled[tool][1] += total
                row.append(f"{100 * cov['covered'] / total:8.1f}%" if total else "      n/a")
            print(f"{module:40} {row[0]:>9} {row[1]:>9}")
        print(f"  {dist}: pynguin {sum(r['wall_s'] for r in entry['pynguin']['runs'].values())} s"
              f" wall, assay {entry['assay']['run']['wall_s']} s wall")  # fmt: skip
    for tool, (covered, total) in pooled.items():
        results[f"pooled_{tool}_pct"] = round(100 * covered / total, 1) if total else None
    print(f"pooled: pynguin {results['pooled_pynguin_pct']}%, assay {results['pooled_assay_pct']}%")
    (ROOT / "results" / "offline_vs_pynguin.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
