"""Which package manager installs a JavaScript project, and how: npm, pnpm or Yarn (classic or
Berry), chosen by the project's lockfile; the manager itself comes from the npm registry.

A lockfile is read before anything is installed, so one that does not parse is refused with
its name and the parser's words. Dependencies the registry cannot hold (`workspace:`, `file:`,
`link:`, `portal:`: a sibling package of a monorepo, a path on the author's machine) are left
out with a note, so a package taken out of its workspace still installs from its own
package.json and the root lockfile's pinned versions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assay.runtimes.port import EnvironmentFailed

LOCKFILES = {
    "pnpm": "pnpm-lock.yaml",
    "yarn": "yarn.lock",
    "npm": "package-lock.json",
}
NPM_LOCKS = ("package-lock.json", "npm-shrinkwrap.json")
# The majors Assay installs when the project's `packageManager` field names none, by the
# lockfile's format: pnpm's lockfileVersion, Yarn classic (v1) or Berry (`__metadata`).
PNPM_BY_LOCK = {"9": "9", "6": "8", "5": "7"}
PNPM_DEFAULT = "9"
YARN_CLASSIC = "1"
YARN_BERRY_DEFAULT = "4"
NOT_ON_REGISTRY = ("workspace:", "file:", "link:", "portal:")
_SPEC = re.compile(r"^(?P<name>pnpm|yarn)@(?P<version>\d+(?:\.\d+){0,2}(?:-[\w.]+)?)")


@dataclass(frozen=True)
class Manager:
    """The package manager that installs a project: its name, its lockfile (None: npm with
    no lock), and the npm package that provides it (empty for npm, the machine's own)."""

    name: str  # npm | pnpm | yarn
    lock: Path | None
    package: str = ""  # e.g. "pnpm@9" or "@yarnpkg/cli-dist@4"
    entry: str = ""  # its script below node_modules, run by node
    berry: bool = False  # Yarn 2 or newer


def choose(root: Path, manifest: dict[str, Any]) -> Manager:
    """The project's package manager, from its lockfile (pnpm's, then Yarn's, then npm's); the
    version from `packageManager` in package.json when it names the same tool. A lockfile that
    does not parse raises EnvironmentFailed saying so."""
    declared = _SPEC.match(str(manifest.get("packageManager") or ""))
    wanted = {declared.group("name"): declared.group("version")} if declared else {}
    pnpm, yarn = root / LOCKFILES["pnpm"], root / LOCKFILES["yarn"]
    if _is_file(pnpm):
        data = _yaml(pnpm)
        version = str(data.get("lockfileVersion", "")).split(".")[0].strip("'\"")
        major = wanted.get("pnpm") or PNPM_BY_LOCK.get(version, PNPM_DEFAULT)
        return Manager("pnpm", pnpm, f"pnpm@{major}", "pnpm/bin/pnpm.cjs")
    if _is_file(yarn):
        text = yarn.read_text(errors="replace")
        if "__metadata:" in text:
            _yaml(yarn)
            major = wanted.get("yarn") or YARN_BERRY_DEFAULT
            return Manager("yarn", yarn, f"@yarnpkg/cli-dist@{major}",
                           "@yarnpkg/cli-dist/bin/yarn.js", berry=True)  # fmt: skip
        _classic_yarn_lock(yarn, text)
        return Manager("yarn", yarn, f"yarn@{YARN_CLASSIC}", "yarn/bin/yarn.js")
    lock = next((root / n for n in NPM_LOCKS if _is_file(root / n)), None)
    if lock is not None:
        try:
            json.loads(lock.read_text(errors="replace"))
        except ValueError as exc:
            raise _unreadable(lock, str(exc)) from None
    return Manager("npm", lock)


def registry_only(section: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`section` (name -> spec) without the dependencies no registry holds, and those left out."""
    kept, left = {}, []
    for name, spec in section.items():
        if isinstance(spec, str) and spec.startswith(NOT_ON_REGISTRY):
            left.append(f"{name} ({spec})")
        else:
            kept[name] = spec
    return kept, left


def npm_lock_alone(text: str) -> tuple[str, set[str]]:
    """An npm lockfile of a workspace's root made this package's alone: without the sibling
    packages it links (which no registry holds, and whose absence would make npm drop the
    whole lock and resolve everything anew); and those siblings' names."""
    lock = json.loads(text)
    packages = lock.get("packages") if isinstance(lock, dict) else None
    if not isinstance(packages, dict):
        return text, set()
    linked = {key: entry for key, entry in packages.items()
              if isinstance(entry, dict) and entry.get("link")}  # fmt: skip
    siblings = {key.rsplit("node_modules/", 1)[-1] for key in linked}
    places = {str(entry.get("resolved", "")) for entry in linked.values()} - {""}
    kept = {key: entry for key, entry in packages.items()
            if key not in linked and not any(key == p or key.startswith(f"{p}/")
                                             for p in places)}  # fmt: skip
    root = dict(kept.get("", {}))
    root.pop("workspaces", None)
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        if isinstance(root.get(section), dict):
            root[section] = {n: v for n, v in root[section].items() if n not in siblings}
    kept[""] = root
    return json.dumps({**lock, "packages": kept}, indent=1), siblings


def install_argv(manager: Manager, cli: Path, node: Path, envdir: Path, *, cache: Path,
                 registry: str) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """The command that installs `envdir` (its package.json and lockfile) with `manager`'s
    `cli`, scripts off, into a flat node_modules; and its environment (proxy settings apart)."""
    if manager.name == "pnpm":
        return [str(node), str(cli), "install", "--dir", str(envdir), "--ignore-scripts",
                "--no-frozen-lockfile", "--config.node-linker=hoisted",
                "--config.confirmModulesPurge=false", "--reporter=append-only",
                f"--store-dir={cache / 'pnpm-store'}", f"--registry={registry}"], {
            "npm_config_update_notifier": "false", "XDG_DATA_HOME": str(cache / "pnpm-data"),
        }  # fmt: skip
    if manager.berry:
        return [str(node), str(cli), "--cwd", str(envdir), "install", "--mode=skip-build"], {
            "YARN_NODE_LINKER": "node-modules", "YARN_ENABLE_IMMUTABLE_INSTALLS": "false",
            "YARN_ENABLE_SCRIPTS": "false", "YARN_ENABLE_TELEMETRY": "0",
            "YARN_ENABLE_GLOBAL_CACHE": "false", "YARN_IGNORE_PATH": "1",
            "YARN_CACHE_FOLDER": str(cache / "yarn-berry"), "YARN_NPM_REGISTRY_SERVER": registry,
            "YARN_ENABLE_PROGRESS_BARS": "false", "YARN_NETWORK_CONCURRENCY": "8",
        }  # fmt: skip
    return [str(node), str(cli), "install", "--cwd", str(envdir), "--ignore-scripts",
            "--non-interactive", "--no-progress", "--ignore-engines",
            f"--cache-folder={cache / 'yarn'}", f"--registry={registry}"], {}  # fmt: skip


def proxied(manager: Manager, url: str) -> list[str] | dict[str, str]:
    """How `manager` is told to use the egress proxy at `url` where HTTPS_PROXY is not enough:
    extra arguments (Yarn classic) or settings (Berry)."""
    if manager.berry:
        return {"YARN_HTTPS_PROXY": url, "YARN_HTTP_PROXY": url}
    if manager.name == "yarn":
        return [f"--https-proxy={url}", f"--proxy={url}"]
    return []


def lock_for_registry(manager: Manager, text: str, registry: str) -> str:
    """A Yarn classic lockfile pointing at `registry` rather than Yarn's own host (the lock
    records full URLs; the same packages are served under both names)."""
    if manager.name != "yarn" or manager.berry:
        return text
    return text.replace("https://registry.yarnpkg.com/", registry.rstrip("/") + "/")


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _unreadable(path: Path, said: str) -> EnvironmentFailed:
    first = next((line.strip() for line in said.splitlines() if line.strip()), said)
    return EnvironmentFailed(
        f"{path.name} does not parse: {first[:300]}",
        fix=f"repair or regenerate {path.name} with the project's package manager",
    )


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(errors="replace"))
    except yaml.YAMLError as exc:
        raise _unreadable(path, str(exc).replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise _unreadable(path, "it is not a mapping of packages")
    return data


def _classic_yarn_lock(path: Path, text: str) -> None:
    """Yarn classic's format: entries (`"name@range":` at the start of a line) holding
    indented `key value` fields; anything else at the start of a line is not that format."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith(("#", " ", "\t")):
            continue
        if not line.rstrip().endswith(":"):
            raise _unreadable(path, f"line {number} is not a Yarn lockfile entry: {line[:80]}")
