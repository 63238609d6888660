"""Go: `go test -json` with a cover profile, run inside the sandbox on the machine's Go.

Generated tests live beside the code they test (`<dir>/assay_<file>_<engine>_<n>_test.go`, in
the same package: Go tests must). Coverage is Go's: statement blocks, so lines only (a cover
profile records no branches). Module dependencies are downloaded once per go.sum into a cached
module directory through the registry-only proxy (`proxy.golang.org` and `sum.golang.org` must
be in ASSAY_PACKAGE_HOSTS); projects that need none download nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

from assay.intake.local import SKIP_DIRS
from assay.runtimes import sandboxed, scanning
from assay.runtimes.coverage import CoverageMap, FileCoverage
from assay.runtimes.port import (
    Commands,
    Detection,
    Environment,
    EnvironmentFailed,
    Idioms,
    MutationTool,
    Ran,
    Runtime,
    TestCaseResult,
    TestRun,
    toolchain,
    unavailable,
)
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Sandbox
from assay.sandbox.egress import DEFAULT_PACKAGE_HOSTS

SKIP = {*SKIP_DIRS, "vendor", "testdata"}
# Where modules are downloaded from (Go's GOPROXY list, without `direct`: no VCS fetches).
DEFAULT_GOPROXY = "https://proxy.golang.org"
# Go reserves address space generously and compiles with many threads.
GO_ADDRESS_SPACE_MB = 16 * 1024
GO_PROCESSES = 1024
_MODULE = re.compile(r"^module\s+(\S+)", re.MULTILINE)
_PACKAGE = re.compile(r"^package\s+(\w+)", re.MULTILINE)
_FUNC = re.compile(r"^func\s+(?:\((?P<recv>[^)]*)\)\s*)?(?P<name>\w+)\s*[\[(]", re.MULTILINE)
_TEST = re.compile(r"^func\s+(?P<name>Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.MULTILINE)
_PROFILE = re.compile(r"^(?P<file>.+):(?P<l1>\d+)\.\d+,(?P<l2>\d+)\.\d+ \d+ (?P<count>\d+)$")


def _module_path(root: Path) -> str | None:
    path = root / "go.mod"
    if not path.is_file() or path.is_symlink():
        return None
    found = _MODULE.search(path.read_text(errors="replace"))
    return found.group(1) if found else None


def _pin_language_version(root: Path) -> None:
    """A go.mod without a `go` line means Go 1.16 to the toolchain, but `-mod=mod` would
    write the toolchain's own version there, and a newer language version changes the build
    (vet's printf check fails code that built before). So a copy gets the line it implies."""
    path = root / "go.mod"
    if path.is_file() and not path.is_symlink():
        text = path.read_text(errors="replace")
        if not re.search(r"^go\s+\d", text, re.MULTILINE):
            path.write_text(text.rstrip("\n") + "\n\ngo 1.16\n")


class GoRuntime(Runtime):
    language = "go"
    tests_in_tests_dir = False

    def __init__(
        self,
        go: Path | None = None,
        *,
        package_hosts: tuple[str, ...] = (*DEFAULT_PACKAGE_HOSTS, "proxy.golang.org",
                                          "sum.golang.org"),
        goproxy: str = DEFAULT_GOPROXY,
    ) -> None:  # fmt: skip
        self._go = go
        self._package_hosts = package_hosts
        self._goproxy = goproxy

    def go(self) -> Path:
        return toolchain(
            "go", self._go, missing="Go is not installed on this machine",
            fix="install Go 1.19 or newer (Debian: apt-get install golang-go)",
        ).resolve()  # fmt: skip

    def goroot(self) -> Path:
        done = subprocess.run(  # noqa: S603 - the machine's go, no project code
            [str(self.go()), "env", "GOROOT"], capture_output=True, text=True, check=True
        )
        return Path(done.stdout.strip())

    def _version(self) -> str:
        done = subprocess.run(  # noqa: S603 - the machine's go, no project code
            [str(self.go()), "env", "GOVERSION"], capture_output=True, text=True, check=True
        )
        return done.stdout.strip().removeprefix("go")

    def availability(self) -> tuple[bool, str]:
        try:
            version = self._version()
        except (EnvironmentFailed, OSError, subprocess.CalledProcessError) as exc:
            return False, unavailable(exc)
        return True, f"go test with cover profiles (lines only) on Go {version}"

    # ------------------------------------------------------------------ detect
    def detect(self, root: Path) -> Detection | None:
        if _module_path(root) is None:
            return None
        modules: list[str] = []
        tests: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d for d in dirnames if d not in SKIP and not d.startswith((".", "_"))
            )
            for name in sorted(filenames):
                if not name.endswith(".go"):
                    continue
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                (tests if name.endswith("_test.go") else modules).append(rel)
        if not modules:
            return None
        return Detection(
            language="go",
            test_runner="go test",
            package_manager="go modules",
            source_roots=["."],
            modules=modules,
            test_files=tests,
            dependency_files=[n for n in ("go.mod", "go.sum") if (root / n).is_file()],
        )

    # ------------------------------------------------------------------ language
    def idioms(self, detection: Detection) -> Idioms:
        return Idioms(
            language="Go", fence="go", framework="Go testing",
            rules="The file is a _test.go file in the same package as the code (white-box), "
            "so it may call unexported functions; use only the standard library (testing and "
            "friends): no external modules. Name tests TestXxx(t *testing.T), prefer "
            "table-driven cases, and report with t.Errorf or t.Fatalf.",
            starts=("package ",),
        )  # fmt: skip

    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        path = PurePosixPath(module)
        stem = re.sub(r"[^A-Za-z0-9_]", "_", path.stem)
        return str(path.parent / f"assay_{stem}_{engine}_{index}_test.go")

    def import_hint(self, module: str, detection: Detection) -> str:
        return f"package {self._package(detection, module)}, same directory"

    def _package(self, detection: Detection, module: str) -> str:
        del detection
        return PurePosixPath(module).parent.name or "main"

    def functions(self, source: str) -> list[tuple[str, int, int]]:
        found = []
        for match in _FUNC.finditer(source):
            brace = source.find("{", match.end())
            close = scanning.matching(source, brace) if brace >= 0 else None
            if close is None:
                continue
            receiver = (match.group("recv") or "").split()
            owner = receiver[-1].lstrip("*").split("[")[0] if receiver else ""
            name = f"{owner}.{match.group('name')}" if owner else match.group("name")
            start = source.count("\n", 0, match.start()) + 1
            found.append((name, start, source.count("\n", 0, close) + 1))
        return found

    def statement_lines(self, source: str) -> list[int]:
        return _code_lines(source)

    def prune(self, code: str, failing: set[str]) -> str | None:
        """Cut out the failing TestXxx functions (a failing subtest takes its parent)."""
        return scanning.cut_blocks(code, _TEST, {name.split("/")[0] for name in failing})

    def is_assertion_failure(self, error_type: str | None, message: str | None) -> bool:
        return error_type == "AssertionError"

    # ------------------------------------------------------------------ prepare
    def prepare(
        self,
        detection: Detection,
        root: Path,
        sandbox: Sandbox,
        cache: Path,
        extra_tools: list[str],
    ) -> Environment:
        del extra_tools
        sums = (root / "go.sum").read_text(errors="replace") if (root / "go.sum").is_file() else ""
        version = self._version()
        key = hashlib.sha256(json.dumps([version, sums]).encode()).hexdigest()[:16]
        envdir = cache / "envs" / f"go{version}-{key}"
        goroot = self.goroot()
        base = Path(sys.base_prefix)
        environment = Environment(
            interpreter=self.go(), readonly=sorted({envdir, goroot, base}), key=key, tools=[]
        )
        if (envdir / ".ready").exists():
            return environment
        shutil.rmtree(envdir, ignore_errors=True)
        (envdir / "mod").mkdir(parents=True)
        if sums.strip():
            self._download(root, envdir, sandbox, cache)
        self._warm_build_cache(root, envdir, sandbox, cache)
        (envdir / ".ready").write_text(json.dumps({"go": version}))
        return environment

    def _warm_build_cache(self, root: Path, envdir: Path, sandbox: Sandbox, cache: Path) -> None:
        """Compile the standard library and the dependencies once, as the test runs will, into
        `envdir/gocache`: each run starts from a linked copy of it instead of an empty cache
        (which cost every `go test` 10 s and more). Best effort: a project that does not build
        here simply starts cold."""
        work = cache / ".go-warm"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(root, work / "project", symlinks=True,
                        ignore=shutil.ignore_patterns(".git", STATE_DIR))  # fmt: skip
        state = sandboxed.stage(work / "project")
        _pin_language_version(work / "project")
        flags = "-mod=vendor" if (root / "vendor").is_dir() else "-mod=mod"
        command = (f"'{self.go()}' test -count=1 -covermode=count -coverpkg=./... -run '^$' ./..."
                   " > /dev/null 2>&1; exit 0")  # fmt: skip
        env = {**_go_env(envdir, state), "GOCACHE": str(state / "gocache"), "GOFLAGS": flags,
               "GOPROXY": "off"}  # fmt: skip
        _, outcome = sandboxed.run_steps(
            work / "project", [sandboxed.shell(command)], sandbox,
            readonly=[self.goroot(), envdir], env=env,
            limits=Limits(wall_s=300, cpu_s=300, memory_mb=GO_ADDRESS_SPACE_MB,
                          processes=GO_PROCESSES, open_files=4096),
        )  # fmt: skip
        if outcome.ok and (state / "gocache").is_dir():
            shutil.rmtree(envdir / "gocache", ignore_errors=True)
            shutil.move(str(state / "gocache"), str(envdir / "gocache"))
        shutil.rmtree(work, ignore_errors=True)

    def _download(self, root: Path, envdir: Path, sandbox: Sandbox, cache: Path) -> None:
        """`go mod download` of the module's requirements, through the egress proxy."""
        work = cache / ".go-download"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        for name in ("go.mod", "go.sum"):
            shutil.copyfile(root / name, work / name)
        # A file:// mirror (an air-gapped copy) must be visible to the job.
        mirrors = [Path(p.removeprefix("file://")) for p in self._goproxy.split(",")
                   if p.startswith("file://")]  # fmt: skip
        # Into the job's own directory (the only place it may write), then moved to envdir;
        # -modcacherw keeps the cache removable.
        step, outcome = sandboxed.install(
            cache, [str(self.go()), "mod", "download"], sandbox,
            env={**_go_env(envdir, work), "GOMODCACHE": str(work / "mod"),
                 "GOFLAGS": "-mod=mod -modcacherw", "GOPROXY": self._goproxy},
            hosts=self._package_hosts, direct=None,
            readonly=[self.goroot(), envdir, *mirrors], workdir=work,
            limits=Limits(wall_s=600, cpu_s=600, memory_mb=GO_ADDRESS_SPACE_MB,
                          processes=GO_PROCESSES, open_files=4096),
        )  # fmt: skip
        if not outcome.ok or step.get("exit_code") != 0:
            tail = str(step.get("output") or outcome.stderr).strip().splitlines()[-3:]
            raise EnvironmentFailed(
                f"downloading the Go module's requirements failed ({outcome.reason}): "
                + " | ".join(tail),
                fix="add proxy.golang.org and sum.golang.org to ASSAY_PACKAGE_HOSTS, or vendor "
                "the dependencies (go mod vendor)",
            )
        shutil.rmtree(envdir / "mod", ignore_errors=True)
        shutil.move(str(work / "mod"), str(envdir / "mod"))
        shutil.rmtree(work, ignore_errors=True)

    def mutation_tool(self) -> MutationTool | None:
        from assay.runtimes.go_mutation import GoMutation

        return GoMutation(self)

    # ------------------------------------------------------------------ run tests
    check_reasons = ("the package builds", "the package does not build")

    def commands(
        self,
        env: Environment,
        detection: Detection,
        workdir: Path,
        tests: list[str],
        *,
        limits: Limits,
        collect_only: bool,
    ) -> Commands:
        go = str(env.interpreter)
        envdir = next(p for p in env.readonly if (p / ".ready").exists())
        packages = sorted({"./" + str(PurePosixPath(t).parent) for t in tests}) or ["./..."]
        sources = [(workdir / t).read_text(errors="replace") for t in tests
                   if (workdir / t).is_file()]  # fmt: skip
        names = sorted({n for text in sources for n in _TEST.findall(text)})
        if collect_only:
            command = f"'{go}' vet {' '.join(packages)}"
        else:
            selection = f"-run '^({'|'.join(names)})$' " if tests and names else ""
            command = (f"'{go}' test -json -count=1 -covermode=count -coverpkg=./... "
                       f"-coverprofile={STATE_DIR}/cover.out {selection}"
                       f"{' '.join(packages)} > {STATE_DIR}/test.json")  # fmt: skip
        flags = "-mod=vendor" if (workdir / "vendor").is_dir() else "-mod=mod"
        _pin_language_version(workdir)
        _link_build_cache(envdir / "gocache", workdir / STATE_DIR / "go-build")
        return Commands(
            steps=[sandboxed.shell(command)],
            env={**_go_env(envdir, workdir / STATE_DIR), "GOFLAGS": flags, "GOPROXY": "off"},
            limits=sandboxed.at_least(limits, memory_mb=GO_ADDRESS_SPACE_MB,
                                      processes=GO_PROCESSES, open_files=4096),
        )  # fmt: skip

    def read_results(self, ran: Ran) -> TestRun:
        found, build_output = _results(sandboxed.text(ran.workdir, "test.json"), ran.workdir)
        profile = sandboxed.text(ran.workdir, "cover.out")
        module = _module_path(ran.workdir) or ""
        coverage = _coverage(profile, module, ran.workdir) if profile else None
        reason = ran.verdict(found, f"go test exited with {ran.code}")
        return ran.finished(found, coverage, reason=reason, output=build_output + ran.output)


def _code_lines(source: str) -> list[int]:
    """Lines with code on them (not blank, comments, or a declaration's punctuation)."""
    lines = []
    for number, line in enumerate(source.splitlines(), start=1):
        text = line.strip()
        if text and not text.startswith(("//", "package ", "import", ")", "}", "(")):
            lines.append(number)
    return lines


# Files of a Go build cache that Go rewrites in place: copied, never linked.
_REWRITTEN = frozenset({"trim.txt", "README"})


def _link_build_cache(warm: Path, destination: Path) -> None:
    """A run's own build cache, as hard links to the warm one (entries are immutable: Go writes
    new ones beside them); nothing when there is no warm cache or links cannot be made."""
    if not warm.is_dir() or destination.exists():
        return

    def link(source: str, target: str) -> None:
        if Path(source).name in _REWRITTEN:
            shutil.copy2(source, target)
        else:
            os.link(source, target)

    try:
        shutil.copytree(warm, destination, copy_function=link)
    except (OSError, shutil.Error):
        shutil.rmtree(destination, ignore_errors=True)  # a cold start, as before


def _go_env(envdir: Path, scratch: Path) -> dict[str, str]:
    return {
        "GOMODCACHE": str(envdir / "mod"),
        "GOCACHE": str(scratch / "go-build"),
        "GOPATH": str(scratch / "gopath"),
        "GOTOOLCHAIN": "local",
        "GOTELEMETRY": "off",
        "CGO_ENABLED": "0",
        "HOME": str(scratch),
    }


def _test_files(workdir: Path) -> dict[tuple[str, str], str]:
    """(directory, TestName) → the _test.go file that declares it."""
    found: dict[tuple[str, str], str] = {}
    for path in workdir.rglob("*_test.go"):
        if STATE_DIR in path.parts or path.is_symlink():
            continue
        rel = path.relative_to(workdir).as_posix()
        for name in _TEST.findall(path.read_text(errors="replace")):
            found[(str(PurePosixPath(rel).parent), name)] = rel
    return found


def _results(events: str, workdir: Path) -> tuple[list[TestCaseResult], str]:
    """One result per top-level test from `go test -json`; a package that did not build is one
    error result. Also the build output (compile errors), which -json leaves as plain text."""
    module = _module_path(workdir) or ""
    where = _test_files(workdir)
    outputs: dict[tuple[str, str], list[str]] = {}
    outcomes: dict[tuple[str, str], str] = {}
    failed_packages: dict[str, list[str]] = {}
    plain = []
    for line in events.splitlines():
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            plain.append(line)
            continue
        package = str(event.get("Package", ""))
        inside = package.startswith(module)
        directory = (package[len(module) :].lstrip("/") or ".") if inside else package
        test = event.get("Test")
        action = event.get("Action")
        if test:
            key = (directory, str(test).split("/")[0])
            if action == "output":
                outputs.setdefault(key, []).append(str(event.get("Output", "")))
            elif action in {"pass", "fail", "skip"} and "/" not in str(test):
                outcomes[key] = action
        elif action == "output":
            failed_packages.setdefault(directory, []).append(str(event.get("Output", "")))
        elif action == "fail" and not any(k[0] == directory for k in outcomes):
            failed_packages.setdefault(directory, []).append("FAIL")
    results = []
    for key, action in sorted(outcomes.items()):
        directory, name = key
        file = where.get(key, f"{directory}/{name}")
        text = "".join(outputs.get(key, []))
        outcome = {"pass": "passed", "fail": "failed"}.get(action, "skipped")
        error_type = None
        message = None
        if outcome == "failed":
            error_type = "Panic" if "panic:" in text else "AssertionError"
            noise = ("=== ", "--- ")
            detail_lines = [ln.strip() for ln in text.splitlines()
                            if ln.strip() and not ln.strip().startswith(noise)]  # fmt: skip
            message = detail_lines[0] if detail_lines else "the test failed"
        results.append(TestCaseResult(test_id=f"{file}::{name}", file=file, outcome=outcome,
                                      error_type=error_type, message=message,
                                      detail=text[-3000:] or None))  # fmt: skip
    for directory, lines in sorted(failed_packages.items()):
        text = "".join(lines)
        if "FAIL" in text and ("[build failed]" in text or "[setup failed]" in text):
            results.append(TestCaseResult(test_id=directory, file=directory, outcome="error",
                                          error_type="BuildError", message=text[-500:],
                                          detail=text[-3000:]))  # fmt: skip
    return results, "\n".join(plain)


def _coverage(profile: str, module: str, workdir: Path) -> CoverageMap:
    """A cover profile's blocks as lines: executed where a block ran, missing where none did;
    only lines with code count."""
    executed: dict[str, set[int]] = {}
    seen: dict[str, set[int]] = {}
    for line in profile.splitlines()[1:]:
        match = _PROFILE.match(line.strip())
        if match is None:
            continue
        name = match.group("file")
        if not name.startswith(module + "/"):
            continue
        rel = name[len(module) + 1 :]
        lines = set(range(int(match.group("l1")), int(match.group("l2")) + 1))
        seen.setdefault(rel, set()).update(lines)
        if int(match.group("count")) > 0:
            executed.setdefault(rel, set()).update(lines)
    files = {}
    for rel, lines in seen.items():
        source = workdir / rel
        code = set(_code_lines(source.read_text(errors="replace"))) if source.is_file() else lines
        ran = executed.get(rel, set()) & code
        files[rel] = FileCoverage(executed=ran, missing=(lines & code) - ran)
    return CoverageMap(files=files)
