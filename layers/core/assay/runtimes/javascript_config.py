"""The project's own Jest or Vitest configuration, and its TypeScript path aliases, for Assay's
test runs.

Each run loads a small configuration of Assay's (in `.assay/`) that reads the project's own
(jest.config.*, the `jest` key of package.json, vitest.config.*, vite.config.*) the way the
runner would, keeps it (environments, setup files, transforms, plugins, aliases), and changes
only what would stop Assay's runs: the generated tests under tests/ are found even where the
project's config looks elsewhere, coverage thresholds do not fail a run, and the path aliases
of tsconfig.json or jsconfig.json (`compilerOptions.paths`, `baseUrl`) resolve, as Jest
`moduleNameMapper` entries or Vite `resolve.alias` ones, so a test importing `@/money` finds
`src/money.ts`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

JEST_CONFIGS = tuple(f"jest.config.{e}" for e in ("js", "ts", "mjs", "cjs", "json"))
VITEST_CONFIGS = tuple(
    f"{name}.config.{e}"
    for name in ("vitest", "vite")
    for e in ("ts", "mts", "cts", "js", "mjs", "cjs")
)
# Where Assay's generated tests live (the runtime's candidate_path).
GENERATED_GLOB = "tests/**/*.test.?(c|m)[jt]s?(x)"
_JSONC = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")

VITEST_WRAPPER = """// Assay's Vitest configuration: the project's own, tests and aliases added.
import path from 'node:path';
import { loadConfigFromFile, mergeConfig } from 'vite';

const SETTINGS = __SETTINGS__;
const root = process.cwd();
let base = {};
if (SETTINGS.config) {
  // Vite's module runner compiles it in memory (its default writes into node_modules).
  const loaded = await loadConfigFromFile({ command: 'serve', mode: 'test' },
    path.resolve(root, SETTINGS.config), root, undefined, undefined, 'runner');
  base = (loaded && loaded.config) || {};
}
const test = base.test || {};
const extra = { root, test: {}, resolve: {} };
// The project's include patterns are kept; Assay's tests are added to them.
if (test.include) extra.test.include = [SETTINGS.generated];
if (SETTINGS.aliases.length) {
  extra.resolve.alias = SETTINGS.aliases.map(([find, replacement]) => ({
    find: new RegExp(find), replacement: path.resolve(root, replacement) }));
}
const merged = mergeConfig(base, extra);
delete merged.test.dir;  // a project's dir would hide tests/
if (merged.test.coverage) delete merged.test.coverage.thresholds;
if (SETTINGS.only) {
  merged.test.include = SETTINGS.only;
  merged.test.exclude = ['**/node_modules/**'];
}
export default merged;
"""

JEST_WRAPPER = """// Assay's Jest configuration: the project's own, found tests and aliases added.
'use strict';
const path = require('path');

const SETTINGS = __SETTINGS__;
const root = process.cwd();

async function own() {
  if (!SETTINGS.config) return {};
  const file = path.resolve(root, SETTINGS.config);
  if (SETTINGS.config === 'package.json') return require(file).jest || {};
  try {
    return (await require('jest-config').readInitialOptions(file)).config;
  } catch (error) {
    if (!/readInitialOptions is not a function|Cannot find module 'jest-config'/.test(
      String(error && error.message))) throw error;
  }
  const loaded = /\\.m?js$/.test(file) ? await import(file) : require(file);
  const value = loaded && loaded.default !== undefined ? loaded.default : loaded;
  return typeof value === 'function' ? await value() : value;
}

module.exports = async () => {
  const base = await own();
  const config = { ...base, rootDir: root };
  delete config.coverageThreshold;
  const mapper = {};
  for (const [find, targets] of SETTINGS.aliases) {
    mapper[find] = targets.map((t) => path.join('<rootDir>', t));
  }
  config.moduleNameMapper = { ...mapper, ...(base.moduleNameMapper || {}) };
  if (base.roots) config.roots = [...base.roots, '<rootDir>/tests'];
  if (base.testMatch) config.testMatch = [...base.testMatch, '<rootDir>/' + SETTINGS.generated];
  if (SETTINGS.only) {
    config.testMatch = SETTINGS.only.map((t) => '<rootDir>/' + t);
    delete config.testRegex;
    config.roots = ['<rootDir>'];
  } else if (base.testRegex) {
    config.testRegex = [].concat(base.testRegex, '/tests/.*\\.test\\.[cm]?[jt]sx?$');
  }
  return config;
};
"""


def project_config(root: Path, runner: str) -> str | None:
    """The project's own configuration file for `runner` (relative), as the runner finds it."""
    names = VITEST_CONFIGS if runner == "vitest" else (*JEST_CONFIGS, "package.json")
    for name in names:
        path = root / name
        if not path.is_file() or path.is_symlink():
            continue
        if name == "package.json":
            manifest = _jsonc(path)
            return name if isinstance(manifest, dict) and "jest" in manifest else None
        return name
    return None


def aliases(root: Path) -> list[tuple[str, list[str]]]:
    """The project's path aliases as (regular expression, targets relative to `root`, with
    `$1` for the wildcard), from tsconfig.json or jsconfig.json and what they extend."""
    for name in ("tsconfig.json", "jsconfig.json"):
        options = _compiler_options(root / name, root, depth=0)
        if options is None:
            continue
        paths = options.get("paths")
        if not isinstance(paths, dict):
            return []
        base = PurePosixPath(str(options.get("baseUrl") or options.get("__dir__") or "."))
        found = []
        for key, targets in paths.items():
            if not isinstance(targets, list) or key.count("*") > 1:
                continue
            pattern = "^" + re.escape(key).replace(r"\*", "(.*)") + "$"
            rels = [
                _normal(base / str(t).replace("*", "$1")) for t in targets if str(t).count("*") <= 1
            ]
            if rels and pattern != "^(.*)$":  # a catch-all would map every package too
                found.append((pattern, rels))
        # The longest (most specific) keys first, as TypeScript picks them.
        return sorted(found, key=lambda pair: -len(pair[0]))
    return []


def wrapper(runner: str, root: Path, *, only: list[str] | None = None) -> str:
    """Assay's configuration file for `runner`, for a run in `root` (a copy of the project);
    `only` restricts it to those test files (a mutation run's kept tests)."""
    settings = {
        "config": project_config(root, runner),
        "aliases": [(p, t if runner == "jest" else t[0]) for p, t in aliases(root)],
        "generated": GENERATED_GLOB,
        "only": only,
    }
    template = VITEST_WRAPPER if runner == "vitest" else JEST_WRAPPER
    return template.replace("__SETTINGS__", json.dumps(settings))


def _compiler_options(path: Path, root: Path, *, depth: int) -> dict[str, Any] | None:
    """`compilerOptions` of a tsconfig, merged over those it extends (relative files only);
    `__dir__` holds the directory (relative to `root`) that paths resolve from when no
    baseUrl is set."""
    if depth > 3 or not path.is_file() or path.is_symlink():
        return None
    data = _jsonc(path)
    if not isinstance(data, dict):
        return None
    options: dict[str, Any] = {}
    parent = data.get("extends")
    if isinstance(parent, str) and parent.startswith("."):
        target = (path.parent / parent).resolve()
        if target.suffix != ".json":
            target = target.with_name(target.name + ".json")
        if target.is_relative_to(root.resolve()):
            options = _compiler_options(target, root, depth=depth + 1) or {}
    own = data.get("compilerOptions")
    here = path.parent.resolve().relative_to(root.resolve()).as_posix()
    if isinstance(own, dict):
        if "baseUrl" in own:
            own = {**own, "baseUrl": _normal(PurePosixPath(here) / str(own["baseUrl"]))}
        if "paths" in own:
            own = {**own, "__dir__": here}
        options.update(own)
    return options


def _jsonc(path: Path) -> Any:
    """JSON with comments and trailing commas, as tsconfig.json allows; None when unreadable."""
    text = _JSONC.sub(lambda m: m.group(1) or "", path.read_text(errors="replace"))
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text))
    except ValueError:
        return None


def _normal(path: PurePosixPath) -> str:
    """`path` without `.` and `..` parts (kept relative)."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or "."
