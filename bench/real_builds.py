"""Assay on real Java, Go and Rust projects with dependencies, built by their own build tools,
against each project's own suite run by hand.

For each project (fetched from its registry with its tests: Maven Central's sources and
test-sources jars with the project's own pom, the Go module proxy's module zip, a crates.io
.crate):
- by hand, on this machine (network allowed): `mvn test`, `go test ./...` or `cargo test`,
  counting tests passed and failed;
- Assay: the same project with about half of its test files held out, analyzed with the LLM
  engine against a scripted model on loopback that answers each module's prompt with that
  module's held-out test file (the project's own test, not a model's). So the figures measure
  Assay's machinery on real builds (dependencies through the egress, placing, building,
  running and keeping tests, coverage), not what a model would write: the baseline's counts
  (against the hand run minus the held-out files), whether the analysis completed, tests kept,
  coverage before and after, and time.

    .venv/bin/python bench/real_builds.py [--only commons-cli,cast] [--budget 300]

Results: bench/results/real_builds.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
sys.path.insert(0, str(REPO))
CENTRAL = "https://repo.maven.apache.org/maven2"
# (name, language, coordinates, what it depends on)
PROJECTS: list[tuple[str, str, str, str]] = [
    ("commons-cli", "java", "commons-cli:commons-cli:1.6.0", "commons-parent, JUnit 5, Mockito"),
    ("commons-csv", "java", "org.apache.commons:commons-csv:1.10.0",
     "commons-io, commons-lang3 (tests), JUnit 5, Mockito, H2"),
    ("commons-text", "java", "org.apache.commons:commons-text:1.11.0",
     "commons-lang3, JUnit 5, AssertJ, Mockito"),
    ("cast", "go", "github.com/spf13/cast@v1.6.0", "frankban/quicktest"),
    ("pretty", "go", "github.com/kr/pretty@v0.3.1", "kr/text, rogpeppe/go-internal"),
    ("go-version", "go", "github.com/hashicorp/go-version@v1.6.0", "none"),
    ("commander", "javascript", "debian:node-commander", "Jest 28, TypeScript, ESLint (dev)"),
    ("semver", "rust", "semver@1.0.23", "none"),
    ("either", "rust", "either@1.13.0", "serde (optional), serde_json (dev)"),
    ("strsim", "rust", "strsim@0.11.1", "none"),
]  # fmt: skip


def run(argv: list[str], cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=timeout)  # fmt: skip


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return bytes(response.read())


# ---------------------------------------------------------------------- fetching
def fetch_java(coordinates: str, dest: Path) -> None:
    group, artifact, version = coordinates.split(":")
    base = f"{CENTRAL}/{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}"
    (dest).mkdir(parents=True)
    (dest / "pom.xml").write_bytes(_get(f"{base}.pom"))
    for suffix, folder in (("sources", "src/main/java"), ("test-sources", "src/test/java")):
        with zipfile.ZipFile(io.BytesIO(_get(f"{base}-{suffix}.jar"))) as jar:
            for name in jar.namelist():
                if name.endswith(".java"):
                    target = dest / folder / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(jar.read(name))


def fetch_go(coordinates: str, dest: Path) -> None:
    done = run(["go", "mod", "download", "-json", coordinates], cwd=REPO)
    folder = Path(json.loads(done.stdout)["Dir"])
    shutil.copytree(folder, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def fetch_rust(coordinates: str, dest: Path) -> None:
    name, version = coordinates.split("@")
    data = _get(f"https://static.crates.io/crates/{name}/{name}-{version}.crate")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest.parent / "unpack", filter="data")
    shutil.move(str(dest.parent / "unpack" / f"{name}-{version}"), dest)
    shutil.rmtree(dest.parent / "unpack")
    if not (dest / "Cargo.lock").exists():  # Assay vendors per Cargo.lock, as a user's CI would
        run(["cargo", "generate-lockfile"], cwd=dest)


DEBIAN = "http://deb.debian.org/debian"


def fetch_debian(coordinates: str, dest: Path) -> None:
    """A Debian source package's upstream tarball (its `.orig.tar.*`), as upstream shipped
    it with its tests: JavaScript packages on npm mostly leave their tests out."""
    package = coordinates.removeprefix("debian:")
    index = dest.parent / "Sources"
    if not index.exists():
        import lzma

        index.write_bytes(lzma.decompress(_get(f"{DEBIAN}/dists/bookworm/main/source/Sources.xz")))
    stanza = next(
        s for s in index.read_text().split("\n\n") if f"\nPackage: {package}\n" in f"\n{s}\n"
    )
    directory = re.search(r"^Directory: (\S+)", stanza, re.M).group(1)  # type: ignore[union-attr]
    orig = re.search(r" (\S+\.orig\.tar\.\w+)$", stanza, re.M).group(1)  # type: ignore[union-attr]
    with tarfile.open(fileobj=io.BytesIO(_get(f"{DEBIAN}/{directory}/{orig}"))) as tar:
        tar.extractall(dest.parent / "unpack", filter="data")
    (inner,) = [p for p in (dest.parent / "unpack").iterdir() if p.is_dir()]
    shutil.move(str(inner), dest)
    shutil.rmtree(dest.parent / "unpack")


FETCH = {"java": fetch_java, "go": fetch_go, "rust": fetch_rust, "javascript": fetch_debian}


# ---------------------------------------------------------------------- by hand
def by_hand(language: str, project: Path) -> dict[str, Any]:
    started = time.monotonic()
    if language == "java":
        done = run(["mvn", "-B", "-q", "test", "-Dmaven.test.failure.ignore=true",
                    "-Drat.skip", "-Djapicmp.skip", "-Danimal.sniffer.skip", "-Dcheckstyle.skip",
                    "-Dspotbugs.skip", "-Dpmd.skip", "-Denforcer.skip"], cwd=project)  # fmt: skip
        passed = failed = 0
        for report in (project / "target" / "surefire-reports").glob("TEST-*.xml"):
            suite = ElementTree.parse(report).getroot()
            bad = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            passed += int(suite.get("tests", 0)) - bad - int(suite.get("skipped", 0))
            failed += bad
        ok = done.returncode == 0
    elif language == "go":
        done = run(["go", "test", "-json", "-count=1", "./..."], cwd=project)
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        tests = [e for e in events if e.get("Test") and e.get("Action") in {"pass", "fail"}]
        top = [e for e in tests if "/" not in e["Test"]]
        passed = sum(e["Action"] == "pass" for e in top)
        failed = sum(e["Action"] == "fail" for e in top)
        ok = done.returncode == 0
    elif language == "javascript":
        run(["npm", "ci" if (project / "package-lock.json").exists() else "install",
             "--ignore-scripts", "--no-audit", "--no-fund"], cwd=project)  # fmt: skip
        done = run(["npx", "jest", "--ci", "--json", "--outputFile=.jest.json"], cwd=project)
        found = json.loads((project / ".jest.json").read_text()) if (
            project / ".jest.json").exists() else {}  # fmt: skip
        passed = found.get("numPassedTests", 0)
        failed = found.get("numFailedTests", 0)
        ok = done.returncode == 0
        shutil.rmtree(project / "node_modules", ignore_errors=True)
        (project / ".jest.json").unlink(missing_ok=True)
    else:
        done = run(["cargo", "test", "--no-fail-fast"], cwd=project)
        counts = re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", done.stdout)
        passed = sum(int(p) for p, _ in counts)
        failed = sum(int(f) for _, f in counts)
        ok = done.returncode == 0
    tail = "" if ok else (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"passed": passed, "failed": failed, "exit_ok": ok, "tail": tail,
            "seconds": round(time.monotonic() - started, 1)}  # fmt: skip


# ---------------------------------------------------------------------- hold-out
def hold_out(language: str, project: Path) -> list[tuple[str, str, str]]:
    """Remove test files named after a module (at most one per module; for Java every other
    one); return (module, test path, test code) for each."""
    pairs: list[tuple[str, Path]] = []
    if language == "java":
        for test in sorted((project / "src/test/java").rglob("*Test.java")):
            rel = test.relative_to(project / "src/test/java")
            module = project / "src/main/java" / rel.parent / f"{rel.stem[:-4]}.java"
            if module.is_file():
                pairs.append((module.relative_to(project).as_posix(), test))
    elif language == "go":
        for test in sorted(project.rglob("*_test.go")):
            module = test.with_name(test.name.replace("_test.go", ".go"))
            if module.is_file():
                pairs.append((module.relative_to(project).as_posix(), test))
    elif language == "javascript":
        # Tests are named after features (`help.suggestion.test.js`): a test whose first word
        # names a module (`lib/help.js`, `src/v1.js`) is that module's.
        modules = {p.stem: p for d in ("lib", "src") for p in sorted((project / d).glob("*.js"))}
        for test in sorted(project.rglob("*.test.js")):
            if "node_modules" in test.parts:
                continue
            stem = test.name.split(".")[0]
            if stem in modules:
                pairs.append((modules[stem].relative_to(project).as_posix(), test))
    else:
        lib = "src/lib.rs" if (project / "src/lib.rs").is_file() else "src/main.rs"
        pairs = [(lib, t) for t in sorted((project / "tests").glob("*.rs"))]
    held: list[tuple[str, str, str]] = []
    used: set[str] = set()
    for index, (name, test) in enumerate(pairs):
        # Java's test classes stand alone: every other one. Go's test files share helpers
        # within a package and Rust's tests/ files are few: all of them.
        if (language == "java" and index % 2 == 1) or name in used:
            continue
        used.add(name)
        held.append((name, test.relative_to(project).as_posix(), test.read_text()))
        test.unlink()
    return held


FENCE = {"java": "java", "go": "go", "rust": "rust", "javascript": "javascript"}


def assay(language: str, project: Path, held: list[tuple[str, str, str]], home: Path,
          out: Path, budget: float) -> dict[str, Any]:  # fmt: skip
    from tests.support.analysis import analyze_with_script

    rules = [(f"Module `{module}`", f"```{FENCE[language]}\n{code}\n```")
             for module, _, code in held]  # fmt: skip
    started = time.monotonic()
    try:
        report, llm = analyze_with_script(project, rules, home, out, budget_s=budget,
                                          test_timeout_s=600)  # fmt: skip
    except Exception as exc:
        return {"status": "crashed", "reason": repr(exc)[:300]}
    cov = report.get("coverage", {})
    return {
        "status": report["status"],
        "reason": report.get("reason"),
        "seconds": round(time.monotonic() - started, 1),
        "baseline": {
            k: (report.get("baseline") or {}).get(k)
            for k in ("passed", "failed", "errored", "reason")
        },
        "line_before": (cov.get("before") or {}).get("line_pct"),
        "line_after": (cov.get("after") or {}).get("line_pct"),
        "branch_before": (cov.get("before") or {}).get("branch_pct"),
        "branch_after": (cov.get("after") or {}).get("branch_pct"),
        "kept": report.get("funnel", {}).get("kept"),
        "prompts": len(llm.requests),
        "held_out": len(held),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/assay-real-builds"))
    args = parser.parse_args()
    chosen = [p for p in PROJECTS if not args.only or p[0] in args.only.split(",")]
    results = []
    for name, language, coordinates, depends in chosen:
        work = args.work / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        FETCH[language](coordinates, work / "hand")
        hand = by_hand(language, work / "hand")
        # The whole project, as the hand run saw it: Assay's baseline must agree with it (the
        # model answers nothing here); then the project with tests held out, answered by them.
        whole = assay(language, work / "hand", [], args.work / "home", work / "out-whole", 60)
        FETCH[language](coordinates, work / "project")
        held = hold_out(language, work / "project")
        found = assay(language, work / "project", held, args.work / "home", work / "out",
                      args.budget)  # fmt: skip
        row: dict[str, Any] = {"project": name, "language": language, "coordinates": coordinates,
               "depends_on": depends, "by_hand": hand,
               "assay_baseline": {k: whole.get(k) for k in ("status", "reason", "baseline",
                                                             "seconds")},
               "assay": found}  # fmt: skip
        results.append(row)
        print(json.dumps(row), flush=True)
    out = ROOT / "results" / "real_builds.json"
    # A partial run (--only) replaces its projects' rows and keeps the others'.
    earlier = json.loads(out.read_text()) if out.exists() and args.only else []
    done = {row["project"] for row in results}
    order = [name for name, *_ in PROJECTS]
    results = sorted(
        [r for r in earlier if r["project"] not in done] + results,
        key=lambda r: order.index(r["project"]) if r["project"] in order else 99,
    )
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\n{'project':14} {'lang':5} {'hand p/f':>10} {'assay p/f':>10} {'status':10} "
          f"{'line':>13} {'branch':>13} {'kept':>4} {'s':>6}")  # fmt: skip
    for row in results:
        a, h = row["assay"], row["by_hand"]
        b = row["assay_baseline"].get("baseline") or {}
        mine = f"{b.get('passed')}/{(b.get('failed') or 0) + (b.get('errored') or 0)}"
        print(f"{row['project']:14} {row['language']:5} {h['passed']:>5}/{h['failed']:<4} "
              f"{mine:>10} "
              f"{a.get('status', '?'):10} {a.get('line_before')!s:>5}->{a.get('line_after')!s:<6} "
              f"{a.get('branch_before')!s:>5}->{a.get('branch_after')!s:<6} "
              f"{a.get('kept')!s:>4} {a.get('seconds')!s:>6}")  # fmt: skip


if __name__ == "__main__":
    main()
