"""Rust: `cargo test` on the machine's toolchain, with LLVM source-based coverage
(`-C instrument-coverage`, then `llvm-profdata` and `llvm-cov export` as LCOV).

Generated tests are integration tests (`tests/assay_<file>_<engine>_<n>.rs`) that use the
library crate's public API. Coverage needs LLVM tools of the same major version as rustc's
LLVM (rustup's llvm-tools component, or Debian's `llvm-<major>`); on stable Rust it is lines
only. A crate's dependencies are vendored once per Cargo.lock (`cargo vendor`, in the install
sandbox, through the registry-only proxy: `index.crates.io` and `static.crates.io` must be in
ASSAY_PACKAGE_HOSTS) into a cached directory that test runs read as crates.io's replacement;
runs stay offline. A crate that vendors its own dependencies downloads nothing. A configured
mirror (ASSAY_CARGO_REGISTRY) replaces crates.io for the vendoring: a registry index URL, or a
local registry or directory of vendored crates for an air-gapped copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

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

CRATES_HOSTS = ("index.crates.io", "static.crates.io")
VENDORED = "assay-vendored"  # the name of the source that replaces crates.io in test runs
MIRROR = "assay-mirror"  # the name of the configured mirror's source when vendoring

RUST_ADDRESS_SPACE_MB = 16 * 1024
RUST_PROCESSES = 1024
_FN = re.compile(
    r"^[ \t]*(?:pub(?:\([\w:]+\))?\s+)?(?:(?:const|async|unsafe|extern\s+\"\w+\")\s+)*fn\s+"
    r"(?P<name>\w+)",
    re.MULTILINE,
)
_IMPL = re.compile(r"^[ \t]*impl(?:<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?(?P<type>\w+)", re.MULTILINE)
_TEST_FN = re.compile(r"^[ \t]*#\[test\][ \t]*\n(?:[ \t]*#\[[^\]]*\][ \t]*\n)*[ \t]*"
                      r"(?:async\s+)?fn\s+(?P<name>\w+)", re.MULTILINE)  # fmt: skip
_RUNNING = re.compile(r"^\s*Running (?:unittests )?(?P<file>\S+\.rs)")
_RESULT = re.compile(r"^test (?P<name>\S+) \.\.\. (?P<status>ok|FAILED|ignored)")
_SECTION = re.compile(r"^---- (?P<name>\S+) stdout ----$")
_LLVM = re.compile(r"LLVM version: (\d+)")


def _needs_crates(root: Path) -> bool:
    """Whether the crate depends on crates from a registry it does not vendor itself."""
    if (root / "vendor").is_dir() or (root / ".cargo" / "config.toml").is_file():
        return False  # the project brings its own sources (or source replacement)
    lock = root / "Cargo.lock"
    if lock.is_file():
        return 'source = "registry+' in lock.read_text(errors="replace")
    manifest = _manifest(root) or {}
    tables = [manifest.get(k) for k in ("dependencies", "dev-dependencies", "build-dependencies")]
    return any(isinstance(t, dict) and t for t in tables)


def _cargo(cargo: Path, vendored: Path | None) -> str:
    """The cargo command of a run: crates.io replaced by the vendored copy, when there is one,
    so runs stay offline."""
    command = f"'{cargo}'"
    if vendored is not None:
        command += (
            f" --config 'source.crates-io.replace-with=\"{VENDORED}\"'"
            f" --config 'source.{VENDORED}.directory=\"{vendored / 'vendor'}\"'"
        )
    return command


def _mirror(registry: str) -> tuple[list[str], list[Path]]:
    """`cargo vendor`'s arguments that put the configured mirror in crates.io's place, and the
    local paths the job must see: a registry index URL (`sparse+https://...`) is a `registry`;
    a file:// path with an `index/` is a `local-registry` (index plus .crate files), any other
    a `directory` of vendored crates."""
    if not registry:
        return [], []
    if registry.startswith(("file://", "/")):
        path = Path(registry.removeprefix("file://"))
        if not path.is_dir():
            raise EnvironmentFailed(
                f"the crates mirror {path} (ASSAY_CARGO_REGISTRY) is not a directory",
                fix="point ASSAY_CARGO_REGISTRY at a local registry or a directory of crates",
            )
        kind, value, visible = ("local-registry" if (path / "index").is_dir() else "directory",
                                str(path), [path])  # fmt: skip
    else:
        kind, value, visible = "registry", registry, []
    # cargo vendor ignores source replacement unless told to respect it.
    return ["--respect-source-config",
            "--config", f"source.crates-io.replace-with={json.dumps(MIRROR)}",
            "--config", f"source.{MIRROR}.{kind}={json.dumps(value)}"], visible  # fmt: skip


def run_env(cargo: Path, state: Path) -> dict[str, str]:
    """A run's environment: the same for prepare's warm build and for every test run, so the
    dependencies compiled once are fresh for all of them."""
    sysroot = cargo.parent.parent
    return {
        "RUSTC": str(sysroot / "bin" / "rustc"),
        "CARGO_HOME": str(state / "cargo-home"),
        "CARGO_TARGET_DIR": str(state / "target"),
        "CARGO_NET_OFFLINE": "true",
        "RUSTFLAGS": "-C instrument-coverage",
        "LLVM_PROFILE_FILE": str(state / "prof" / "%p-%m.profraw"),
        "PATH": f"{sysroot / 'bin'}:/usr/bin:/bin",
    }


def _warm_target(crate: Path, envdir: Path, sandbox: Sandbox, sysroot: Path) -> None:
    """Compile the vendored dependencies once, as the test runs will, into `envdir/target`;
    each run starts from a copy. Best effort: a crate that does not build here simply starts
    cold."""
    state = sandboxed.stage(crate)
    cargo = sysroot / "bin" / "cargo"
    build = f"{_cargo(cargo, envdir)} test --offline --no-run --message-format=json"
    _, outcome = sandboxed.run_steps(
        crate, [sandboxed.shell(f"{build} > {STATE_DIR}/warm.json 2>/dev/null")],
        sandbox, readonly=[sysroot, envdir], env=run_env(cargo, state),
        limits=Limits(wall_s=600, cpu_s=600, memory_mb=RUST_ADDRESS_SPACE_MB,
                      processes=RUST_PROCESSES, open_files=4096),
    )  # fmt: skip
    if outcome.ok and (state / "target").is_dir():
        _forget_own_units(state / "target", (state / "warm.json").read_text(errors="replace"))
        shutil.move(str(state / "target"), str(envdir / "target"))


def _forget_own_units(target: Path, messages: str) -> None:
    """Drop what the warm build compiled of the crate itself (its lib, tests, build script):
    cargo does not tie a workspace package's units to its path, so a run would take them as
    fresh and measure the prepare-time copy. Only the dependencies stay warm."""
    names: set[str] = set()
    for line in messages.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") != "compiler-artifact":
            continue
        if not str(message.get("package_id", "")).startswith("path+"):
            continue
        names.add(str(message.get("target", {}).get("name", "")).replace("-", "_"))
        for name in message.get("filenames") or []:
            Path(name).unlink(missing_ok=True)
    for profile in target.iterdir() if target.is_dir() else []:
        for folder in ("deps", ".fingerprint", "build", "incremental"):
            for entry in (profile / folder).glob("*") if (profile / folder).is_dir() else []:
                stem = entry.name.rsplit("-", 1)[0].removeprefix("lib").replace("-", "_")
                if names and stem in names:
                    shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()


def stage_vendored(env: Environment, workdir: Path) -> Path | None:
    """A run's start in `workdir` (its `.assay` staged): the lock the vendored crates were
    resolved from, when the crate ships none, and a copy of the dependencies as prepare
    compiled them (mtimes kept, so cargo finds them fresh: a run compiles only the crate
    itself). The vendored-crates directory, when there is one."""
    vendored = _vendored(env)
    if vendored is not None:
        if not (workdir / "Cargo.lock").exists() and (vendored / "Cargo.lock").is_file():
            shutil.copyfile(vendored / "Cargo.lock", workdir / "Cargo.lock")
        target = workdir / STATE_DIR / "target"
        if (vendored / "target").is_dir() and not target.exists():
            shutil.copytree(vendored / "target", target, symlinks=True)
    return vendored


def _vendored(env: Environment) -> Path | None:
    """The environment's vendored-crates directory, when it has one."""
    return next((p for p in env.readonly if (p / ".ready").is_file() and (p / "vendor").is_dir()),
                None)  # fmt: skip


def _manifest(root: Path) -> dict[str, object] | None:
    path = root / "Cargo.toml"
    if not path.is_file() or path.is_symlink():
        return None
    try:
        return tomllib.loads(path.read_text(errors="replace"))
    except tomllib.TOMLDecodeError:
        return None


_INLINE_TESTS = re.compile(r"#\[cfg\(test\)\]|#\[test\]")


class RustRuntime(Runtime):
    language = "rust"

    def __init__(
        self, rustc: Path | None = None,
        package_hosts: tuple[str, ...] = (*DEFAULT_PACKAGE_HOSTS, *CRATES_HOSTS),
        registry: str = "",
    ) -> None:  # fmt: skip
        self._rustc = rustc
        self._package_hosts = package_hosts
        self._registry = registry  # a mirror replacing crates.io ("": crates.io itself)

    # ------------------------------------------------------------------ toolchain
    def rustc(self) -> Path:
        return toolchain("rustc", self._rustc, missing="Rust is not installed on this machine",
                         fix="install a Rust toolchain (rustup)")  # fmt: skip

    def sysroot(self) -> Path:
        """The toolchain itself (rustup's `rustc` is a proxy that needs its home)."""
        done = subprocess.run(  # noqa: S603 - the machine's rustc, no project code
            [str(self.rustc()), "--print", "sysroot"], capture_output=True, text=True, check=True
        )
        return Path(done.stdout.strip())

    def llvm_tools(self) -> tuple[Path, Path]:
        """llvm-profdata and llvm-cov matching rustc's LLVM."""
        done = subprocess.run(  # noqa: S603 - the machine's rustc
            [str(self.rustc()), "-vV"], capture_output=True, text=True, check=True
        )
        found = _LLVM.search(done.stdout)
        major = found.group(1) if found else "?"
        host = next((ln.split(": ", 1)[1] for ln in done.stdout.splitlines()
                     if ln.startswith("host: ")), "")  # fmt: skip
        bundled = self.sysroot() / "lib" / "rustlib" / host / "bin"
        for directory, suffix in ((bundled, ""), (Path("/usr/bin"), f"-{major}"),
                                  (Path(f"/usr/lib/llvm-{major}/bin"), "")):  # fmt: skip
            profdata, cov = directory / f"llvm-profdata{suffix}", directory / f"llvm-cov{suffix}"
            if profdata.is_file() and cov.is_file():
                return profdata.resolve(), cov.resolve()
        raise EnvironmentFailed(
            f"no llvm-profdata/llvm-cov for rustc's LLVM {major}",
            fix=f"rustup component add llvm-tools, or apt-get install llvm-{major}",
        )

    def availability(self) -> tuple[bool, str]:
        try:
            sysroot = self.sysroot()
            self.llvm_tools()
        except (EnvironmentFailed, OSError, subprocess.CalledProcessError) as exc:
            return False, unavailable(exc)
        from assay.runtimes.rust_mutation import availability

        return True, f"cargo test with LLVM line coverage ({sysroot.name}); {availability()}"

    # ------------------------------------------------------------------ detect
    def detect(self, root: Path) -> Detection | None:
        manifest = _manifest(root)
        if manifest is None or not (root / "src" / "lib.rs").is_file():
            return None  # generated tests reach a library crate's public API
        modules: list[str] = []
        tests: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            skip = {*SKIP_DIRS, "target"}
            dirnames[:] = sorted(d for d in dirnames if d not in skip and not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(".rs"):
                    rel = (Path(dirpath) / name).relative_to(root).as_posix()
                    if rel.startswith("src/"):
                        modules.append(rel)
                        # Unit tests live beside the code (`#[cfg(test)] mod tests`): such a
                        # file is a module and holds tests, which the baseline must run.
                        if _INLINE_TESTS.search((root / rel).read_text(errors="replace")):
                            tests.append(rel)
                    elif rel.startswith("tests/"):
                        tests.append(rel)
        return Detection(language="rust", test_runner="cargo test", package_manager="cargo",
                         source_roots=["src"], modules=modules, test_files=tests,
                         dependency_files=[n for n in ("Cargo.toml", "Cargo.lock")
                                           if (root / n).is_file()],
                         package=self._crate(manifest))  # fmt: skip

    def _crate(self, root_manifest: dict[str, object] | None) -> str:
        package = (root_manifest or {}).get("package")
        name = package.get("name") if isinstance(package, dict) else None
        lib = (root_manifest or {}).get("lib")
        if isinstance(lib, dict) and isinstance(lib.get("name"), str):
            name = lib["name"]
        return str(name or "crate").replace("-", "_")

    # ------------------------------------------------------------------ language
    def idioms(self, detection: Detection) -> Idioms:
        return Idioms(
            language="Rust", fence="rust", framework="Rust's built-in test harness",
            rules="The file is an integration test (tests/*.rs): reach the library through its "
            "public API with `use <crate>::...`; write #[test] functions with assert!, "
            "assert_eq! and #[should_panic] where a panic is the promised behaviour; use no "
            "external crates.",
            starts=("use ", "#[test]", "mod "),
        )  # fmt: skip

    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        stem = re.sub(r"[^A-Za-z0-9_]", "_", PurePosixPath(module).with_suffix("").as_posix())
        return f"tests/assay_{stem.removeprefix('src_')}_{engine}_{index}.rs"

    def import_hint(self, module: str, detection: Detection) -> str:
        crate = detection.package or "crate"
        parts = list(PurePosixPath(module).relative_to("src").with_suffix("").parts)
        if parts and parts[-1] in {"lib", "mod"}:
            parts = parts[:-1]
        return "::".join([crate, *parts])

    def functions(self, source: str) -> list[tuple[str, int, int]]:
        impls = []
        for match in _IMPL.finditer(source):
            brace = source.find("{", match.end())
            close = scanning.matching(source, brace, rust=True) if brace >= 0 else None
            if close is not None:
                impls.append((match.group("type"), match.start(), close))
        found = []
        for match in _FN.finditer(source):
            brace = source.find("{", match.end())
            semicolon = source.find(";", match.end())
            if brace < 0 or (0 <= semicolon < brace):
                continue  # a declaration without a body (traits, extern blocks)
            close = scanning.matching(source, brace, rust=True)
            if close is None:
                continue
            owner = [t for t, s, e in impls if s < match.start() < e]
            name = f"{owner[-1]}::{match.group('name')}" if owner else match.group("name")
            found.append((name, source.count("\n", 0, match.start()) + 1,
                          source.count("\n", 0, close) + 1))  # fmt: skip
        return found

    def prune(self, code: str, failing: set[str]) -> str | None:
        names = {name.rsplit("::", 1)[-1] for name in failing}
        return scanning.cut_blocks(code, _TEST_FN, names, rust=True)

    def is_assertion_failure(self, error_type: str | None, message: str | None) -> bool:
        return error_type == "AssertionError"

    # ------------------------------------------------------------------ prepare
    def prepare(self, detection: Detection, root: Path, sandbox: Sandbox, cache: Path,
                extra_tools: list[str]) -> Environment:  # fmt: skip
        del detection, extra_tools
        sysroot = self.sysroot()
        profdata, cov = self.llvm_tools()
        readonly = {sysroot, profdata.parent.parent, cov.parent.parent, Path(sys.base_prefix)}
        key = sysroot.name
        if _needs_crates(root):
            lock = (root / "Cargo.lock").read_bytes() if (root / "Cargo.lock").is_file() else b""
            manifest = (root / "Cargo.toml").read_bytes()
            digest = hashlib.sha256(json.dumps([sysroot.name, lock.hex(), manifest.hex()])
                                    .encode()).hexdigest()[:16]  # fmt: skip
            envdir = cache / "envs" / f"rust-{digest}"
            if not (envdir / ".ready").exists():
                self._vendor(root, envdir, sandbox, cache)
            readonly.add(envdir)
            key = f"{sysroot.name}-{digest}"
        return Environment(
            interpreter=sysroot / "bin" / "cargo", readonly=sorted(readonly), key=key,
            tools=[str(profdata), str(cov)],
        )  # fmt: skip

    def _vendor(self, root: Path, envdir: Path, sandbox: Sandbox, cache: Path) -> None:
        """`cargo vendor` of the crate's dependencies into `envdir/vendor`, through the egress
        proxy; the lock it resolved is kept beside them for crates that ship none."""
        mirror, visible = _mirror(self._registry)
        shutil.rmtree(envdir, ignore_errors=True)
        envdir.mkdir(parents=True)
        work = cache / ".rust-vendor"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(root, work / "crate", symlinks=True,
                        ignore=shutil.ignore_patterns("target", ".git", STATE_DIR))  # fmt: skip
        sysroot = self.sysroot()
        # Into the job's own directory (the only place it may write), then moved to envdir.
        argv = [str(sysroot / "bin" / "cargo"), "vendor", "--versioned-dirs", "--quiet",
                *mirror, "assay-vendor"]  # fmt: skip
        step, outcome = sandboxed.install(
            cache, argv, sandbox,
            env={"CARGO_HOME": str(work / "cargo-home"), "RUSTC": str(sysroot / "bin" / "rustc"),
                 "PATH": f"{sysroot / 'bin'}:/usr/bin:/bin",
                 "CARGO_REGISTRIES_CRATES_IO_PROTOCOL": "sparse"},
            hosts=self._package_hosts, direct=None, readonly=[sysroot, *visible],
            workdir=work / "crate",
            limits=Limits(wall_s=600, cpu_s=600, memory_mb=RUST_ADDRESS_SPACE_MB,
                          processes=RUST_PROCESSES, open_files=4096),
        )  # fmt: skip
        if not outcome.ok or step.get("exit_code") != 0:
            tail = str(step.get("output") or outcome.stderr).strip().splitlines()[-3:]
            shutil.rmtree(envdir, ignore_errors=True)
            where = f" from the mirror {self._registry}" if self._registry else ""
            raise EnvironmentFailed(
                f"vendoring the crate's dependencies{where} failed ({outcome.reason}): "
                + " | ".join(tail),
                fix=("check that the mirror (ASSAY_CARGO_REGISTRY) holds these crates; an "
                     "https mirror's hosts must be in ASSAY_PACKAGE_HOSTS" if self._registry
                     else "add index.crates.io and static.crates.io to ASSAY_PACKAGE_HOSTS, or "
                     "vendor the dependencies in the repository (cargo vendor)"),
            )  # fmt: skip
        shutil.move(str(work / "crate" / "assay-vendor"), str(envdir / "vendor"))
        if (work / "crate" / "Cargo.lock").is_file():
            shutil.copyfile(work / "crate" / "Cargo.lock", envdir / "Cargo.lock")
        _warm_target(work / "crate", envdir, sandbox, sysroot)
        shutil.rmtree(work, ignore_errors=True)
        (envdir / ".ready").write_text(json.dumps({"rust": sysroot.name}))

    def mutation_tool(self) -> MutationTool | None:
        from assay.runtimes.rust_mutation import CargoMutants

        return CargoMutants(self)

    # ------------------------------------------------------------------ run tests
    check_reasons = ("the tests compile", "the tests do not compile")

    def commands(self, env: Environment, detection: Detection, workdir: Path, tests: list[str],
                 *, limits: Limits, collect_only: bool) -> Commands:  # fmt: skip
        state = workdir / STATE_DIR
        cargo = _cargo(Path(env.interpreter), stage_vendored(env, workdir))
        profdata, cov = env.tools
        selection = " ".join(f"--test {PurePosixPath(t).stem}" for t in tests
                             if t.startswith("tests/"))  # fmt: skip
        if collect_only:
            script = f"{cargo} test --offline --no-run -q {selection}"
        else:
            script = (
                f"{cargo} test --offline --no-fail-fast {selection} > {STATE_DIR}/test.txt 2>&1;"
                " code=$?;"
                f" '{profdata}' merge -sparse {STATE_DIR}/prof/*.profraw -o {STATE_DIR}/merged"
                " >/dev/null 2>&1;"
                f" {cargo} test --offline --no-run --message-format=json {selection}"
                f" > {STATE_DIR}/artifacts.json 2>/dev/null;"
                f' objects=$(grep -o \'"executable":"[^"]*"\' {STATE_DIR}/artifacts.json'
                " | cut -d'\"' -f4 | sed 's/^/-object /');"
                f" '{cov}' export -format=lcov -instr-profile={STATE_DIR}/merged $objects"
                f" > {STATE_DIR}/lcov.info 2>/dev/null;"
                " exit $code"
            )
        return Commands(
            steps=[sandboxed.shell(script)], env=run_env(Path(env.interpreter), state),
            limits=sandboxed.at_least(limits, memory_mb=RUST_ADDRESS_SPACE_MB,
                                      processes=RUST_PROCESSES, open_files=4096,
                                      wall_s=300, cpu_s=300),
        )  # fmt: skip

    def read_results(self, ran: Ran) -> TestRun:
        text = sandboxed.text(ran.workdir, "test.txt")
        found = _results(text)
        lcov = sandboxed.text(ran.workdir, "lcov.info")
        coverage = _lcov(lcov, str(ran.workdir.resolve())) if lcov.strip() else None
        reason = ran.verdict(found, "the tests did not compile or cargo failed")
        return ran.finished(found, coverage, reason=reason, output=text)


def _results(text: str) -> list[TestCaseResult]:
    """libtest's plain output: each binary announced by `Running <file>`, one line per test,
    then a `---- name stdout ----` section per failure with its panic message."""
    results: list[TestCaseResult] = []
    current = "src/lib.rs"
    sections: dict[tuple[str, str], list[str]] = {}
    open_section: tuple[str, str] | None = None
    for line in text.splitlines():
        if running := _RUNNING.match(line):
            current, open_section = running.group("file"), None
            continue
        if outcome := _RESULT.match(line):
            status = {"ok": "passed", "FAILED": "failed"}.get(outcome.group("status"), "skipped")
            name = outcome.group("name")
            results.append(TestCaseResult(test_id=f"{current}::{name}", file=current,
                                          outcome=status))  # fmt: skip
            continue
        if section := _SECTION.match(line):
            open_section = (current, section.group("name"))
            sections[open_section] = []
            continue
        if open_section is not None:
            if line.startswith(("failures:", "---- ")) or line.startswith("stack backtrace"):
                open_section = None
            else:
                sections[open_section].append(line)
    for index, result in enumerate(results):
        body = sections.get((result.file, result.test_id.split("::", 1)[1]))
        if result.outcome != "failed" or body is None:
            continue
        text_body = "\n".join(body).strip()
        panic = next((ln for ln in body if "panicked at" in ln), "")
        message_lines = [ln for ln in body if ln.strip() and "panicked at" not in ln]
        message = message_lines[0].strip() if message_lines else panic
        assertion = message.startswith("assertion") or "assertion" in message
        results[index] = result.model_copy(update={
            "error_type": "AssertionError" if assertion else "Panic",
            "message": message[:500], "detail": text_body[-3000:]})  # fmt: skip
    return results


def _lcov(text: str, root: str) -> CoverageMap:
    prefix = root.rstrip("/") + "/"
    files: dict[str, FileCoverage] = {}
    name: str | None = None
    for line in text.splitlines():
        if line.startswith("SF:"):
            path = line[3:]
            name = path[len(prefix) :] if path.startswith(prefix) else None
            if name is not None and name not in files:
                files[name] = FileCoverage()
        elif line.startswith("DA:") and name is not None:
            number, hits = line[3:].split(",")[:2]
            coverage = files[name]
            if int(hits) > 0:
                coverage.executed.add(int(number))
                coverage.missing.discard(int(number))
            elif int(number) not in coverage.executed:
                coverage.missing.add(int(number))
    return CoverageMap(files={k: v for k, v in files.items() if k.startswith("src/")})
