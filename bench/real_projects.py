"""Assay on real PyPI projects of varied packaging, each with its own test suite, against the
project's own suite run by hand.

For each project (its sdist, which carries its tests):
- by hand: a fresh venv, `pip install <sdist>[extras] <extra test packages>`, then
  `coverage run --branch -m pytest` over its tests: tests passed and failed, line coverage;
- Assay: `assay analyze <sdist dir> --engine offline --budget B`: the baseline's counts and
  coverage (which should agree with the hand run), whether the analysis held its budget
  (generation and checking, i.e. the stages after the baseline), the coverage it added, and
  every module it left without tests with the reason.

    .venv/bin/python bench/real_projects.py [--budget 90] [--only tabulate,isodate]

Results: bench/results/real_projects.json and a table on stdout.
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
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
# (distribution, version, packaging, extras for the hand run, extra packages for the hand run,
#  test path); the hand run is what its README or CI does.
PROJECTS: list[tuple[str, str, str, str, list[str], str]] = [
    ("tabulate", "0.9.0", "setuptools pyproject, CLI reading stdin", "", [], "test"),
    ("isodate", "0.6.1", "setup.py only (six)", "", [], "src/isodate/tests"),
    ("bleach", "6.1.0", "setup.py, pins pytest 7 in requirements-dev", "", ["pytest==7.4.2"],
     "tests"),
    ("python-dateutil", "2.9.0", "setup.cfg, tests need freezegun and hypothesis", "",
     ["freezegun", "hypothesis"], "tests"),
    ("humanize", "4.9.0", "hatch, src layout, tests need freezegun", "tests", [], "tests"),
    ("attrs", "23.2.0", "hatch, src layout, tests extra", "tests", [], "tests"),
    ("marshmallow", "3.20.1", "setup.py with extras", "tests", [], "tests"),
    ("cachetools", "5.3.2", "setup.cfg, src layout", "", [], "tests"),
    ("more-itertools", "10.1.0", "flit", "", [], "tests"),
    ("six", "1.16.0", "setup.py, one module", "", [], "test_six.py"),
    ("jmespath", "1.0.1", "setup.py, a CLI script", "", [], "tests"),
    ("inflection", "0.5.1", "setup.py, one module", "", [], "test_inflection.py"),
    ("tomlkit", "0.12.3", "poetry", "", ["pyyaml"], "tests"),
    ("semver", "3.0.2", "setup.cfg, src layout, pytest-cov in addopts", "", ["pytest-cov"],
     "tests"),
    ("wcwidth", "0.2.13", "setup.py, setup.cfg", "", [], "tests"),
    ("idna", "3.6", "flit", "", [], "tests"),
]  # fmt: skip


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


def fetch(work: Path, dist: str, version: str) -> Path:
    dest = work / "src" / f"{dist}-{version}"
    if dest.exists():
        return dest
    download = work / "downloads" / dist
    download.mkdir(parents=True, exist_ok=True)
    run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
         "-d", str(download), f"{dist}=={version}"])  # fmt: skip
    archive = next(download.iterdir())
    unpacked = work / "unpacked" / dist
    shutil.rmtree(unpacked, ignore_errors=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(unpacked)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
    inner = next(unpacked.iterdir())
    shutil.move(str(inner), dest)
    return dest


def by_hand(work: Path, project: Path, extras: str, packages: list[str], tests: str) -> dict:
    """The way a contributor runs the suite: an editable install with the test extras."""
    env_dir = work / "hand-venvs" / project.name
    shutil.rmtree(env_dir, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(env_dir)])
    python = str(env_dir / "bin" / "python")
    copy = work / "hand-runs" / project.name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(project, copy)
    spec = f"{copy}[{extras}]" if extras else str(copy)
    installed = run([python, "-m", "pip", "install", "-q", "-e", spec, "pytest", "coverage",
                     *packages])  # fmt: skip
    started = time.monotonic()
    done = run([python, "-m", "coverage", "run", "--branch", "-m", "pytest", "-q",
                "-p", "no:cacheprovider", "--color=no", tests], cwd=copy, timeout=1800)  # fmt: skip
    run([python, "-m", "coverage", "json", "-o", "cov.json", "--omit", "*/tests/*,*/test/*,"
         "test*.py,*/site-packages/*,*/_vendor/*,setup.py,docs/*,benchmark*.py"],
        cwd=copy)  # fmt: skip
    data = json.loads((copy / "cov.json").read_text()) if (copy / "cov.json").exists() else {}
    totals = data.get("totals", {})
    tail = done.stdout.strip().splitlines()[-1:] or [""]
    return {"install_ok": installed.returncode == 0, "exit": done.returncode,
            "summary": tail[0][-200:], "line_pct": round(totals.get("percent_covered", 0.0), 1),
            "duration_s": round(time.monotonic() - started, 1)}  # fmt: skip


def assay(project: Path, budget: float, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    done = run([str(REPO / ".venv" / "bin" / "assay"), "analyze", str(project), "--engine",
                "offline", "--budget", str(budget), "--out", str(out)],
               env={**os.environ}, timeout=7200)  # fmt: skip
    wall = time.monotonic() - started
    path = out / "report.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    stages = report.get("stages") or {}
    before_generation = sum(stages.get(s, 0.0) for s in ("Intake", "Detect", "Install",
                                                          "Baseline"))  # fmt: skip
    coverage = report.get("coverage") or {}
    return {
        "exit": done.returncode, "status": report.get("status"), "reason": report.get("reason"),
        "wall_s": round(wall, 1), "after_baseline_s": round(report.get("duration_s", wall)
                                                            - before_generation, 1),
        "baseline": report.get("baseline"),
        "line_before": (coverage.get("before") or {}).get("line_pct"),
        "line_after": (coverage.get("after") or {}).get("line_pct"),
        "funnel": report.get("funnel"), "warnings": report.get("warnings"),
        "gaps": [{k: g[k] for k in ("module", "lines", "branches", "kind", "reason")}
                 for g in report.get("gaps") or []],
        "environment": report.get("environment"), "stderr": done.stderr[-1500:],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget", type=float, default=90)
    parser.add_argument("--only")
    parser.add_argument("--work", type=Path, default=Path("/tmp/assay-bench-real"))
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    target = ROOT / "results" / "real_projects.json"
    results: dict[str, Any] = json.loads(target.read_text()) if target.exists() else {}
    results.setdefault("projects", {})
    results["budget_s"] = args.budget
    for dist, version, style, extras, packages, tests in PROJECTS:
        if args.only and dist not in args.only.split(","):
            continue
        project = fetch(work, dist, version)
        hand = by_hand(work, project, extras, packages, tests)
        ours = assay(project, args.budget, work / "assay-out" / dist)
        results["projects"][dist] = {"version": version, "packaging": style, "hand": hand,
                                     "assay": ours}  # fmt: skip
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(results, indent=1))
        base = ours.get("baseline") or {}
        print(f"{dist:16} hand {hand['line_pct']:5.1f}% ({hand['summary'][:40]}) | assay "
              f"{ours['status']} base {ours['line_before']}% -> {ours['line_after']}%, "
              f"tests {base.get('passed')}/{base.get('tests')}, collect errors "
              f"{base.get('collection_errors')}, after-baseline {ours['after_baseline_s']} s, "
              f"gaps {len(ours['gaps'])}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
