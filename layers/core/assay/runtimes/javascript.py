"""JavaScript and TypeScript: Jest or Vitest, with Istanbul-format line and branch coverage,
run inside the sandbox on the machine's Node.js.

The project's dependencies and the test runner are installed with the package manager its
lockfile names (npm, pnpm or Yarn: `javascript_install`; lifecycle scripts off, so no package
runs code at install) into a cached environment outside the project, from its package.json and
lock file, through the same registry-only egress proxy as Python installs. Runs load Assay's
Jest or Vitest configuration over the project's own (`javascript_config`); Stryker measures
mutation scores (`javascript_mutation`).
Test runs link that environment's node_modules into a fresh copy of the project, read-only.
Jest runs JavaScript (CommonJS, or ES modules through Node's VM modules); TypeScript projects
use Vitest, which compiles TypeScript itself.

A generated file is *built* when it parses: plain JavaScript by `node --check`, TypeScript and
JSX by compiling it as Vitest would (esbuild, else TypeScript's transpileModule), syntax only,
never types. Nothing runs at that stage: failing tests are the run's business, where they are
pruned and become findings.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from assay.intake.local import SKIP_DIRS
from assay.runtimes import istanbul, javascript_config, javascript_install, sandboxed, scanning
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
from assay.runtimes.results import json_or_none, read_inside
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Outcome, Sandbox
from assay.sandbox.egress import DEFAULT_PACKAGE_HOSTS, proxy_env

# The runners Assay installs when a project names none, pinned to majors whose JSON reports
# and coverage options it reads.
JEST = {"jest": "^29.7.0"}
VITEST = {"vitest": "^3.2.0", "@vitest/coverage-v8": "^3.2.0"}
NPM_REGISTRY = "https://registry.npmjs.org/"
# A tool given as an npm spec: `name@range` (a Python requirement never has the `@`).
_NPM_SPEC = re.compile(r"^(?P<name>(?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*)@(?P<range>[^\s=<>]+)$")
# What lets Jest run TypeScript: a project that declares one of them keeps its Jest.
TS_JEST = frozenset({"ts-jest", "@swc/jest", "@babel/preset-typescript", "esbuild-jest"})
SOURCE_SUFFIXES = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
TS_SUFFIXES = (".ts", ".mts", ".cts", ".tsx")
# Files Node cannot parse itself: Vitest compiles them first, and so does their syntax check.
COMPILED_SUFFIXES = (*TS_SUFFIXES, ".jsx")
# `node .assay/syntax.cjs FILE` in the work directory (its node_modules linked in): exit 0 when
# FILE compiles, 1 with the compiler's errors (`file:line:column: message`) when it does not, 2
# when no compiler is installed. esbuild first (Vite compiles with it, so Vitest does), else
# TypeScript's transpileModule; both report syntax errors only, never types.
SYNTAX_CHECK = r"""'use strict';
const fs = require('fs');
const path = require('path');

const file = process.argv[2];
const source = fs.readFileSync(file, 'utf8');
const ext = path.extname(file);

function load(name) {
  // Hoisted, else where Vite or Vitest keep their own copy.
  for (const under of ['', 'vite', 'vitest', 'vitest/node_modules/vite']) {
    const dir = path.resolve('node_modules', under, under ? 'node_modules' : '', name);
    if (!fs.existsSync(path.join(dir, 'package.json'))) continue;
    try {
      return require(dir);
    } catch (error) {
      continue;
    }
  }
  return null;
}

function report(errors) {
  for (const [line, column, text, source] of errors) {
    console.error(`${file}:${line}:${column}: ${text}`);
    if (source) console.error(`    ${source}`);
  }
  process.exit(errors.length ? 1 : 0);
}

const esbuild = load('esbuild');
if (esbuild) {
  const loader = { '.tsx': 'tsx', '.jsx': 'jsx' }[ext] || 'ts';
  try {
    esbuild.transformSync(source, { loader, sourcefile: file, target: 'esnext' });
    process.exit(0);
  } catch (error) {
    // A compile error lists its messages; anything else (no binary) leaves it to TypeScript.
    if (Array.isArray(error.errors) && error.errors.length) {
      report(error.errors.map((e) => {
        const at = e.location || {};
        return [at.line || 1, (at.column || 0) + 1, e.text, at.lineText];
      }));
    }
  }
}

const ts = load('typescript');
if (ts) {
  const compiled = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ESNext,
      module: ts.ModuleKind.ESNext,
      jsx: ts.JsxEmit.Preserve,
      allowJs: true,
    },
  });
  report((compiled.diagnostics || [])
    .filter((d) => d.category === ts.DiagnosticCategory.Error)
    .map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
      if (!d.file || d.start === undefined) return [1, 1, text, ''];
      const at = d.file.getLineAndCharacterOfPosition(d.start);
      const line = d.file.text.split(/\r?\n/)[at.line] || '';
      return [at.line + 1, at.character + 1, text, line];
    }));
}
console.error('neither esbuild nor TypeScript is installed to check ' + file);
process.exit(2);
"""
SKIP = {*SKIP_DIRS, "node_modules", "dist", "build", "coverage", "out", "lib-cov", "vendor"}
# The process sandbox bounds memory as address space (RLIMIT_AS). V8 reserves far more than it
# uses (each WebAssembly memory reserves 10 GB of guard regions, and Vite's parsers use
# WebAssembly), so Node jobs get room to reserve; wall and CPU time still bound them, and a
# Fargate task's memory is a real limit.
NODE_ADDRESS_SPACE_MB = 64 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ERROR_LINE = re.compile(r"ERR_|ERR!|\berror\b|Error:", re.IGNORECASE)
_FRAME = re.compile(r"^\s+at |^\s*[{}]\s*$|^\s+\w+: ")
_ERROR_NAME = re.compile(r"^\s*([A-Za-z_$][\w$]*(?:Error|Exception))\b")
# A parse error's line: Node's `SyntaxError: ...`, or the compile check's `file:line:col: ...`.
_PARSE_ERROR = re.compile(r"^SyntaxError: .*|^\S+:\d+:\d+: .*")
VITEST_CONFIG = "vitest.config.mjs"  # Assay's own, in .assay/config (javascript_config)
CONFIG_DIR = f"{STATE_DIR}/config"
JEST_CONFIG = "jest.config.cjs"
NO_COMPILER = 2  # the compile check's exit code when nothing can compile the file


def is_test_file(rel: str) -> bool:
    path = PurePosixPath(rel)
    name = path.name
    return (
        ".test." in name
        or ".spec." in name
        or any(p in {"__tests__", "test", "tests", "__mocks__"} for p in path.parts[:-1])
    )


def _is_config(name: str) -> bool:
    return ".config." in name or name.startswith((".", "Gruntfile", "gulpfile", "webpack."))


class JavaScriptRuntime(Runtime):
    language = "javascript"

    def __init__(
        self,
        node: Path | None = None,
        *,
        package_hosts: tuple[str, ...] = (*DEFAULT_PACKAGE_HOSTS, "registry.npmjs.org"),
        registry: Callable[[], str] | None = None,
    ) -> None:
        self._node = node
        self._package_hosts = package_hosts
        # Set (a registry URL with its token, e.g. CodeArtifact's npm endpoint), installs read
        # it over the install sandbox's network; unset, they go through the egress proxy.
        self._registry = registry

    def node(self) -> Path:
        return toolchain(
            "node", self._node, missing="Node.js is not installed on this machine",
            fix="install Node.js 20 or newer (Debian: apt-get install nodejs npm)",
        ).resolve()  # fmt: skip

    def npm_cli(self) -> Path:
        """npm's own script, run by `node` (the `npm` launcher is a shell script)."""
        node = self.node()
        for candidate in (
            node.parent.parent / "lib/node_modules/npm/bin/npm-cli.js",
            Path("/usr/share/nodejs/npm/bin/npm-cli.js"),
            Path("/usr/lib/node_modules/npm/bin/npm-cli.js"),
        ):
            if candidate.is_file():
                return candidate
        launcher = shutil.which("npm")
        if launcher:
            resolved = Path(launcher).resolve()
            if resolved.suffix == ".js":
                return resolved
        raise EnvironmentFailed("npm is not installed on this machine", fix="install npm")

    def availability(self) -> tuple[bool, str]:
        try:
            self.npm_cli()
            version = self._version()
        except (EnvironmentFailed, OSError, subprocess.CalledProcessError) as exc:
            return False, unavailable(exc)
        if int(version.split(".")[0]) < 18:
            return False, f"Node.js {version} is too old: Jest 29 and Vitest 3 need 18 or newer"
        return True, (
            f"Jest or Vitest on Node.js {version} (installed per project with npm, "
            "pnpm or Yarn, as its lockfile says)"
        )

    # ------------------------------------------------------------------ detect
    def detect(self, root: Path) -> Detection | None:
        manifest = _package_json(root)
        if manifest is None:
            return None
        modules, tests = [], []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP and not d.startswith("."))
            for name in sorted(filenames):
                if not name.endswith(SOURCE_SUFFIXES) or name.endswith(".d.ts"):
                    continue
                rel = (Path(dirpath) / name).relative_to(root).as_posix()
                if is_test_file(rel):
                    tests.append(rel)
                elif not _is_config(name) and not rel.startswith(("docs/", "examples/")):
                    modules.append(rel)
        if not modules:
            return None
        declared = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
        typescript = any(m.endswith(TS_SUFFIXES) for m in modules)
        if "vitest" in declared:
            runner = "vitest"
        elif "jest" in declared and (not typescript or TS_JEST.intersection(declared)):
            runner = "jest"
        else:
            runner = "vitest" if typescript else "jest"
        dependency_files = [
            n for n in ("package.json", *javascript_install.LOCKFILES.values(),
                        *javascript_install.NPM_LOCKS)
            if (root / n).is_file()
        ]  # fmt: skip
        manager = next((m for m, n in javascript_install.LOCKFILES.items()
                        if n in dependency_files), "npm")  # fmt: skip
        return Detection(
            language="javascript",
            test_runner=runner,
            package_manager=manager,
            source_roots=["src"] if any(m.startswith("src/") for m in modules) else ["."],
            modules=modules,
            test_files=tests,
            dependency_files=dependency_files,
            module_system="esm" if manifest.get("type") == "module" else "commonjs",
        )

    # ------------------------------------------------------------------ language
    def idioms(self, detection: Detection) -> Idioms:
        typescript = any(m.endswith(TS_SUFFIXES) for m in detection.modules)
        esm = detection.test_runner == "vitest" or _esm(detection)
        if detection.test_runner == "vitest":
            imports = "Import describe, it and expect from 'vitest'."
        else:
            imports = "describe, test and expect are Jest globals: do not import them."
        loading = (
            "Load the module with an ES `import` statement."
            if esm
            else "Load the module with `require` (CommonJS)."
        )
        return Idioms(
            language="TypeScript" if typescript else "JavaScript",
            fence="typescript" if typescript else "javascript",
            framework="Vitest" if detection.test_runner == "vitest" else "Jest",
            rules=f"{imports} {loading} Give each test a title that says what it checks; use "
            "expect(...).toThrow for expected errors.",
            starts=("import ", "const ", "'use strict'", '"use strict"', "describe(", "test("),
        )

    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        stem = re.sub(r"[^A-Za-z0-9_]", "_", PurePosixPath(module).with_suffix("").as_posix())
        suffix = PurePosixPath(module).suffix
        if suffix in {".jsx", ".tsx"}:
            suffix = suffix[:-1]
        return f"tests/assay_{stem}_{engine}_{index}.test{suffix}"

    def import_hint(self, module: str, detection: Detection) -> str:
        """The module's path relative to the tests folder, as an import or require names it
        (TypeScript imports drop the extension; JavaScript keeps it, as ES modules need)."""
        path = PurePosixPath("..") / module
        if module.endswith(TS_SUFFIXES):
            path = path.with_suffix("")
        return path.as_posix()

    def functions(self, source: str) -> list[tuple[str, int, int]]:
        return scanning.functions(source)

    def prune(self, code: str, failing: set[str]) -> str | None:
        return scanning.remove_tests(code, failing)

    def is_assertion_failure(self, error_type: str | None, message: str | None) -> bool:
        return error_type == "AssertionError"

    def mutation_tool(self) -> MutationTool | None:
        from assay.runtimes.javascript_mutation import Stryker

        return Stryker(self)

    # ------------------------------------------------------------------ prepare
    def _version(self) -> str:
        done = subprocess.run(  # noqa: S603 - the machine's node, no project code
            [str(self.node()), "--version"], capture_output=True, text=True, check=True
        )
        return done.stdout.strip().lstrip("v")

    def _tools(self, detection: Detection, root: Path, extra: list[str]) -> dict[str, str]:
        """The test runner when the project declares none, and the npm packages among `extra`
        (a mutation tool's; the Stryker core brings the plugin for the project's runner)."""
        manifest = _package_json(root) or {}
        declared = {**manifest.get("dependencies", {}), **manifest.get("devDependencies", {})}
        wanted = dict(VITEST if detection.test_runner == "vitest" else JEST)
        for spec in extra:
            match = _NPM_SPEC.match(spec)
            if match is None:
                continue  # a Python tool (Pynguin): nothing to do with this language
            wanted[match.group("name")] = match.group("range")
            if match.group("name") == "@stryker-mutator/core":
                wanted[f"@stryker-mutator/{detection.test_runner}-runner"] = match.group("range")
        return {name: spec for name, spec in wanted.items() if name not in declared}

    def prepare(
        self,
        detection: Detection,
        root: Path,
        sandbox: Sandbox,
        cache: Path,
        extra_tools: list[str],
    ) -> Environment:
        manifest = _package_json(root) or {}
        manager = javascript_install.choose(root, manifest)
        tools = self._tools(detection, root, extra_tools)
        lock = manager.lock.read_text(errors="replace") if manager.lock else None
        siblings: set[str] = set()
        if manager.name == "npm" and lock is not None:
            lock, siblings = javascript_install.npm_lock_alone(lock)
        sections = {}
        left = [f"{name} (a package of its workspace)" for name in sorted(siblings)]
        for section in ("dependencies", "devDependencies"):
            declared = {n: v for n, v in manifest.get(section, {}).items() if n not in siblings}
            sections[section], gone = javascript_install.registry_only(declared)
            left += gone
        dependencies, dev = sections["dependencies"], sections["devDependencies"]
        notes = [f"left out {d}: no registry holds it (a workspace sibling or a local path)"
                 for d in left]  # fmt: skip
        version = self._version()
        wanted: dict[str, Any] = {
            "dependencies": dependencies,
            "devDependencies": {**dev, **tools},
            "overrides": manifest.get("overrides", {}),
            "resolutions": manifest.get("resolutions", {}),
        }
        pnpm = manifest.get("pnpm")
        if isinstance(pnpm, dict) and isinstance(pnpm.get("overrides"), dict):
            wanted["pnpm"] = {"overrides": pnpm["overrides"]}
        fingerprint = [version, manager.name, manager.package, wanted, lock]
        key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]
        envdir = cache / "envs" / f"node{version}-{key}"
        base = Path(sys.base_prefix)
        environment = Environment(
            interpreter=self.node(),
            readonly=sorted({envdir, base, self.node().parent.parent}),
            key=key,
            tools=[f"{n}@{s}" for n, s in sorted(tools.items())],
            notes=notes,
        )
        ready = envdir / ".ready"
        if ready.exists():
            done = json_or_none(ready.read_bytes())
            kept = done.get("notes") if isinstance(done, dict) else None
            return environment.model_copy(update={"notes": kept or notes})
        shutil.rmtree(envdir, ignore_errors=True)
        envdir.mkdir(parents=True)
        # Only what the package manager needs to resolve: never the project's scripts.
        package = {"name": "assay-env", "private": True, "version": "0.0.0", **wanted}
        if manifest.get("type"):
            package["type"] = manifest["type"]
        (envdir / "package.json").write_text(json.dumps(package, indent=1))
        self._build(manager, envdir, cache, sandbox, notes, lock=lock)
        ready.write_text(json.dumps({"tools": environment.tools, "notes": notes}))
        return environment.model_copy(update={"notes": notes})

    def _build(self, manager: javascript_install.Manager, envdir: Path, cache: Path,
               sandbox: Sandbox, notes: list[str], *, lock: str | None) -> None:  # fmt: skip
        """Install `envdir` (its package.json written) from `lock` (the lockfile's text) with
        the project's package manager, else with npm, saying so in `notes`, when that manager
        cannot be had."""
        registry = self._registry() if self._registry else NPM_REGISTRY
        if manager.name != "npm":
            try:
                cli = self._tool(manager.package, manager.entry, cache, sandbox)
            except EnvironmentFailed as exc:
                notes.append(f"{manager.package} could not be installed ({exc.message}): the "
                             f"dependencies were installed with npm from package.json, so "
                             f"{manager.lock.name if manager.lock else 'the lockfile'}'s "
                             "versions were not used")  # fmt: skip
                manager = javascript_install.Manager("npm", None)
        if manager.name == "npm":
            if manager.lock is not None and lock is not None:
                (envdir / "package-lock.json").write_text(lock)
            argv, env = self._npm(cache, "install", "--prefix", str(envdir))
        else:
            assert manager.lock is not None
            assert lock is not None
            (envdir / manager.lock.name).write_text(
                javascript_install.lock_for_registry(manager, lock, registry)
            )
            argv, env = javascript_install.install_argv(manager, cli, self.node(), envdir,
                                                        cache=cache, registry=registry)  # fmt: skip
            env["HOME"] = str(cache)
            # The machine's certificate authorities (its npmrc's cafile), for any Node program.
            cafile = self._machine_npmrc().get("cafile")
            if cafile:
                env["NODE_EXTRA_CA_CERTS"] = cafile
            if self._registry is None:
                extra = javascript_install.proxied(manager, proxy_env()["HTTPS_PROXY"])
                if isinstance(extra, dict):
                    env.update(extra)
                else:
                    argv += extra
        self._install(cache, argv, env, sandbox, envdir=envdir,
                      what=f"the project's {manager.name} dependencies")  # fmt: skip

    def _npm(self, cache: Path, *args: str) -> tuple[list[str], dict[str, str]]:
        """An npm command (scripts off, quiet) and its environment."""
        argv = [str(self.node()), str(self.npm_cli()), *args, "--ignore-scripts", "--no-audit",
                "--no-fund", "--loglevel=error"]  # fmt: skip
        env = {
            "npm_config_cache": str(cache / "npm"),
            "npm_config_update_notifier": "false",
            "HOME": str(cache),
        }
        # `--prefix` would move npm's global config under the environment; keep the
        # machine's (its registry mirror, its certificate authorities).
        machine = self.node().parent.parent / "etc" / "npmrc"
        if machine.is_file():
            env["npm_config_globalconfig"] = str(machine)
        return argv, env

    def _machine_npmrc(self) -> dict[str, str]:
        """The settings of the machine's global npmrc (`key=value` lines), if it has one."""
        path = self.node().parent.parent / "etc" / "npmrc"
        if not path.is_file():
            return {}
        settings = {}
        for line in path.read_text(errors="replace").splitlines():
            key, found, value = line.partition("=")
            if found and not key.lstrip().startswith((";", "#")):
                settings[key.strip()] = value.strip()
        return settings

    def _tool(self, package: str, entry: str, cache: Path, sandbox: Sandbox) -> Path:
        """A package manager (`package`, an npm spec) installed once into the cache with npm,
        through the same egress; the path of its script (`entry`, below node_modules)."""
        name = re.sub(r"[^A-Za-z0-9.]+", "-", package).strip("-")
        tooldir = cache / "tools" / f"{name}-node{self._version().split('.')[0]}"
        script = tooldir / "node_modules" / entry
        if (tooldir / ".ready").exists() and script.is_file():
            return script
        shutil.rmtree(tooldir, ignore_errors=True)
        tooldir.mkdir(parents=True)
        (tooldir / "package.json").write_text('{"name": "assay-tool", "private": true}')
        argv, env = self._npm(cache, "install", "--prefix", str(tooldir), package)
        self._install(cache, argv, env, sandbox, envdir=tooldir, what=package)
        if not script.is_file():
            shutil.rmtree(tooldir, ignore_errors=True)
            raise EnvironmentFailed(f"{package} installed without {entry}")
        (tooldir / ".ready").write_text("{}")
        return script

    def _install(self, cache: Path, argv: list[str], env: dict[str, str], sandbox: Sandbox, *,
                 envdir: Path, what: str) -> None:  # fmt: skip
        """Run an install in the sandbox, through the egress proxy (or straight to a configured
        registry); on failure remove `envdir` and say why, in the installer's last words."""
        direct = None if self._registry is None else {"npm_config_registry": self._registry()}
        step, outcome = sandboxed.install(
            cache, argv, sandbox, env=env, hosts=self._package_hosts, direct=direct,
            readonly=[self.node().parent.parent, self.npm_cli().parent.parent],
            limits=Limits(wall_s=900, cpu_s=900, memory_mb=NODE_ADDRESS_SPACE_MB,
                          processes=256, output_bytes=2_000_000,
                          open_files=8192),  # npm opens its cache's files many at a time
        )  # fmt: skip
        if not outcome.ok or step.get("exit_code") not in (0, None):
            shutil.rmtree(envdir, ignore_errors=True)
            tail = _ANSI.sub("", str(step.get("output") or outcome.stderr or outcome.stdout))
            # The installer's own words, not a stack trace's frames.
            lines = [line.strip() for line in tail.splitlines()
                     if line.strip() and not _FRAME.match(line)]  # fmt: skip
            raise EnvironmentFailed(
                f"installing {what} failed ({outcome.reason}): " + " | ".join(_said(lines)),
                fix="check package.json and the lockfile; installs reach the package registry "
                "only, through the sandbox",
            )

    # ------------------------------------------------------------------ run tests
    def _argv(self, env: Environment, detection: Detection, tests: list[str]) -> list[str]:
        modules = envdir_modules(env)
        roots = detection.source_roots
        include = [f"{r}/**/*" if r != "." else "**/*" for r in roots]
        excluded = ["**/node_modules/**", "**/*.test.*", "**/*.spec.*", "**/__tests__/**",
                    "tests/**", "test/**", f"{STATE_DIR}/**", "**/*.config.*", "**/*.d.ts",
                    "coverage/**", "dist/**", "build/**"]  # fmt: skip
        if detection.test_runner == "vitest":
            argv = [str(env.interpreter), str(modules / "vitest" / "vitest.mjs"), "run",
                    f"--config={CONFIG_DIR}/{VITEST_CONFIG}", "--reporter=json",
                    f"--outputFile={STATE_DIR}/results.json",
                    "--includeTaskLocation", "--coverage.enabled", "--coverage.provider=v8",
                    "--coverage.reporter=json", "--coverage.all", "--coverage.reportOnFailure",
                    f"--coverage.reportsDirectory={STATE_DIR}/coverage",
                    "--passWithNoTests", "--watch=false"]  # fmt: skip
            argv += [f"--coverage.include={p}" for p in include]
            argv += [f"--coverage.exclude={p}" for p in excluded]
            return argv + tests
        argv = [str(env.interpreter), str(modules / "jest" / "bin" / "jest.js"), "--ci",
                "--json", f"--outputFile={STATE_DIR}/results.json", "--testLocationInResults",
                "--coverage", "--coverageReporters=json",
                f"--coverageDirectory={STATE_DIR}/coverage", "--watchman=false",
                f"--cacheDirectory={STATE_DIR}/jest-cache", "--passWithNoTests",
                f"--config={CONFIG_DIR}/{JEST_CONFIG}", "--rootDir=."]  # fmt: skip
        argv += [f"--collectCoverageFrom={p}" for p in include]
        argv += [f"--collectCoverageFrom=!{p}" for p in excluded]
        return argv + (["--runTestsByPath", *tests] if tests else [])

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
        link_modules(workdir, env)
        # V8 reserves address space far beyond what it uses; Jest opens many files.
        limits = sandboxed.at_least(limits, memory_mb=NODE_ADDRESS_SPACE_MB, open_files=4096)
        if collect_only:
            # No separate collection in Jest or Vitest: the file's syntax is checked, and a
            # file that cannot load fails its run, which reports it as a suite error.
            argv = _check_argv(env, workdir, tests)
            if argv is None:
                decided = TestRun(ok=True, reason="not checked: the test run decides")
                return Commands(limits=limits, decided=decided)
        else:
            argv = self._argv(env, detection, tests)
            configure(workdir, detection.test_runner)
        # Jest loads ES modules only through Node's VM modules; Vitest needs nothing.
        jest_esm = detection.test_runner == "jest" and _esm(detection)
        options = "--experimental-vm-modules" if jest_esm else ""
        node_env = {"NO_COLOR": "1", "FORCE_COLOR": "0", "CI": "1", "NODE_OPTIONS": options}
        return Commands(steps=[{"name": "tests", "argv": argv}], env=node_env, limits=limits)

    def read_output(self, workdir: Path, records: list[dict[str, Any]], outcome: Outcome) -> str:
        return _ANSI.sub("", super().read_output(workdir, records, outcome))

    def read_check(self, ran: Ran) -> TestRun:
        """A syntax check's verdict; a file that does not parse says where, in the parser's
        words (`node --check` names a SyntaxError; the compile check writes
        `file:line:column: text`)."""
        if ran.tests[0].endswith(COMPILED_SUFFIXES) and ran.code == NO_COMPILER:
            return ran.run(True, f"not checked ({ran.output.strip()}): the test run decides")
        lines = ran.output.splitlines()
        found = next((m.group(0) for m in map(_PARSE_ERROR.search, lines) if m), None)
        said = "the file does not parse" + (f": {found.strip()[:300]}" if found else "")
        return ran.checked(yes="the file parses", no=said)

    def read_results(self, ran: Ran) -> TestRun:
        report = json_or_none(read_inside(ran.workdir, f"{STATE_DIR}/results.json"))
        found = _results(report, ran.workdir) if isinstance(report, dict) else []
        coverage = json_or_none(
            read_inside(ran.workdir, f"{STATE_DIR}/coverage/coverage-final.json")
        )
        coverage_map = (
            istanbul.coverage_map(coverage, str(ran.workdir.resolve()))
            if isinstance(coverage, dict)
            else None
        )
        reason = ran.verdict(found, f"the test runner exited with {ran.code}")
        return ran.finished(found, coverage_map, reason=reason)


def link_modules(workdir: Path, env: Environment) -> None:
    """`workdir`'s node_modules: a link to the environment's (read-only)."""
    link = workdir / "node_modules"
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)  # a node_modules shipped with the project: ours replaces it
    link.symlink_to(envdir_modules(env), target_is_directory=True)


def configure(workdir: Path, runner: str, *, only: list[str] | None = None) -> str:
    """Write Assay's configuration for `runner` in `workdir`'s `.assay` (the project's own,
    with its aliases and Assay's tests found); its path, relative to `workdir`.

    It sits in a folder with an empty node_modules of its own: Vite compiles a config file
    into the nearest node_modules, and the project's is the read-only environment."""
    name = f"{CONFIG_DIR}/{VITEST_CONFIG if runner == 'vitest' else JEST_CONFIG}"
    (workdir / CONFIG_DIR / "node_modules").mkdir(parents=True, exist_ok=True)
    (workdir / name).write_text(javascript_config.wrapper(runner, workdir, only=only))
    return name


def _said(lines: list[str]) -> list[str]:
    """What an installer's output says went wrong: three lines from its first error line,
    else its last three."""
    first = next((n for n, line in enumerate(lines) if _ERROR_LINE.search(line)), None)
    return lines[-3:] if first is None else lines[first : first + 3]


def envdir_modules(env: Environment) -> Path:
    """The environment's node_modules (the first read-only path that holds one)."""
    for path in env.readonly:
        if (path / "node_modules").is_dir() and (path / ".ready").exists():
            return path / "node_modules"
    raise EnvironmentFailed("the npm environment is missing; prepare it again")


def _check_argv(env: Environment, workdir: Path, tests: list[str]) -> list[str] | None:
    """The command that checks one test file's syntax without running it: `node --check` for
    plain JavaScript, a compile of TypeScript and JSX (`SYNTAX_CHECK`); None for anything else."""
    if len(tests) != 1:
        return None
    if tests[0].endswith((".js", ".cjs", ".mjs")):
        return [str(env.interpreter), "--check", tests[0]]
    if tests[0].endswith(COMPILED_SUFFIXES):
        (workdir / STATE_DIR / "syntax.cjs").write_text(SYNTAX_CHECK)
        return [str(env.interpreter), f"{STATE_DIR}/syntax.cjs", tests[0]]
    return None


def _esm(detection: Detection) -> bool:
    return detection.module_system == "esm"


def _package_json(root: Path) -> dict[str, Any] | None:
    path = root / "package.json"
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(errors="replace"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _error_type(message: str) -> str:
    """Jest and Vitest report `expect` failures (and node:assert's) as plain errors whose
    text names the matcher: those are assertions; anything else is named by its class."""
    if "expect(" in message or "AssertionError" in message:
        return "AssertionError"
    match = _ERROR_NAME.match(message)
    return match.group(1) if match else "Error"


def _results(report: dict[str, Any], workdir: Path) -> list[TestCaseResult]:
    """Jest's JSON report (Vitest writes the same shape), one result per test; a file that
    failed to load is one `error` result named after the file."""
    prefix = str(workdir.resolve()).rstrip("/") + "/"
    results = []
    for suite in report.get("testResults", []):
        name = str(suite.get("name", ""))
        rel = name[len(prefix) :] if name.startswith(prefix) else name
        cases = suite.get("assertionResults", [])
        if not cases and suite.get("status") == "failed":
            message = _ANSI.sub("", str(suite.get("message") or ""))
            results.append(TestCaseResult(test_id=rel, file=rel, outcome="error",
                                          error_type="SuiteError", message=message[:500],
                                          detail=message[-3000:]))  # fmt: skip
            continue
        for case in cases:
            status = case.get("status")
            outcome = {"passed": "passed", "failed": "failed"}.get(status, "skipped")
            full = str(case.get("fullName") or case.get("title") or "")
            failures = [_ANSI.sub("", str(m)) for m in case.get("failureMessages") or []]
            text = "\n".join(failures)
            first = text.strip().splitlines()[0] if text.strip() else None
            results.append(
                TestCaseResult(
                    test_id=f"{rel}::{full}",
                    file=rel,
                    outcome=outcome,
                    error_type=_error_type(text) if outcome == "failed" else None,
                    message=first,
                    detail=text[-3000:] or None,
                )
            )
    return results
