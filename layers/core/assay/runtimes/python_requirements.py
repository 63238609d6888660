"""What a Python project declares it needs to run its tests, read as data.

Read from every place real projects put it: `requirements*.txt` (and `requirements/`), with
their `-r`/`-c` includes; `[project]` dependencies, test extras and dependency groups (hatch,
flit, setuptools, pdm); Poetry's dependencies and groups; setup.cfg; tox's test deps; lock files
(`uv.lock`, `poetry.lock`, `pdm.lock`) as exact-version constraints; and the pytest plugins
the project's configuration names. `setup.py` is never run here: a project that has one (or any
build system) is installed itself, with its test extras, inside the install sandbox, where
running its code is safe; that is how its `install_requires` are learned.
"""

from __future__ import annotations

import configparser
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

TEST_GROUPS = ("test", "tests", "testing", "dev")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# Options of pytest's `addopts` (and ini keys) that only exist with a plugin installed.
PLUGIN_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--cov", "pytest-cov"), ("--no-cov", "pytest-cov"), ("-n", "pytest-xdist"),
    ("--numprocesses", "pytest-xdist"), ("--dist", "pytest-xdist"), ("-p xdist", "pytest-xdist"),
    ("--timeout", "pytest-timeout"), ("--benchmark", "pytest-benchmark"),
    ("--mypy", "pytest-mypy"), ("--flake8", "pytest-flake8"), ("--black", "pytest-black"),
    ("--isort", "pytest-isort"), ("--randomly", "pytest-randomly"),
    ("--reruns", "pytest-rerunfailures"), ("--hypothesis", "hypothesis"),
    ("--doctest-plus", "pytest-doctestplus"), ("--doctest-rst", "pytest-doctestplus"),
    ("--mpl", "pytest-mpl"), ("--asyncio-mode", "pytest-asyncio"), ("--html", "pytest-html"),
    ("--snapshot-update", "syrupy"), ("--ds", "pytest-django"), ("--instafail", "pytest-instafail"),
    ("--remote-data", "pytest-remotedata"), ("--arraydiff", "pytest-arraydiff"),
)  # fmt: skip
PLUGIN_INI_KEYS = {
    "timeout": "pytest-timeout", "asyncio_mode": "pytest-asyncio", "env": "pytest-env",
    "mock_use_standalone_module": "pytest-mock", "django_settings_module": "pytest-django",
    "DJANGO_SETTINGS_MODULE": "pytest-django", "flake8-max-line-length": "pytest-flake8",
    "doctest_plus": "pytest-doctestplus", "mpl-baseline-path": "pytest-mpl",
}  # fmt: skip
# Test-only imports whose distribution has another name, or that projects often forget to
# declare; only added when a test file imports them.
TEST_IMPORTS = {
    "hypothesis": "hypothesis", "freezegun": "freezegun", "pytest_mock": "pytest-mock",
    "mock": "mock", "responses": "responses", "requests_mock": "requests-mock",
    "faker": "Faker", "factory": "factory_boy", "parameterized": "parameterized",
    "ddt": "ddt", "testfixtures": "testfixtures", "pretend": "pretend",
    "time_machine": "time-machine", "pytest_asyncio": "pytest-asyncio", "trustme": "trustme",
    "pytest_httpserver": "pytest-httpserver", "respx": "respx", "syrupy": "syrupy",
    "nose": "nose", "yaml": "PyYAML", "toml": "toml", "dateutil": "python-dateutil",
    "six": "six", "pytz": "pytz", "attr": "attrs", "attrs": "attrs", "docutils": "docutils",
    "pygments": "Pygments", "wcwidth": "wcwidth", "typing_extensions": "typing_extensions",
}  # fmt: skip


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def name_of(requirement: str) -> str | None:
    """The distribution a PEP 508 line names (normalized), or None for options and URLs."""
    match = _NAME.match(requirement)
    return normalize(match.group(1)) if match and "://" not in requirement else None


class Declared(BaseModel):
    """Everything the project declares, ready for one pip install."""

    install_project: bool = False  # it has a build system: `pip install <copy>[extras]`
    extras: list[str] = Field(default_factory=list)  # its test extras, when it is installed
    requirements: list[str] = Field(default_factory=list)  # PEP 508 lines
    constraints: list[str] = Field(default_factory=list)  # name==version from a lock file
    plugins: list[str] = Field(default_factory=list)  # pytest plugins its configuration needs
    sources: list[str] = Field(default_factory=list)  # which files said so
    project_name: str | None = None

    def names(self) -> set[str]:
        """The distributions the project names itself (its pins beat Assay's tools)."""
        found = {name_of(r) for r in [*self.requirements, *self.plugins]}
        return {n for n in found if n}

    def add(self, source: str, requirements: list[str]) -> None:
        own = normalize(self.project_name) if self.project_name else None
        kept = [r.strip() for r in requirements if r and r.strip() and name_of(r) != own]
        if kept:
            self.requirements += [r for r in kept if r not in self.requirements]
            if source not in self.sources:
                self.sources.append(source)


def declared(root: Path) -> Declared:
    found = Declared()
    pyproject = _toml(root / "pyproject.toml")
    setup_cfg = _ini(root / "setup.cfg")
    project = pyproject.get("project", {}) if isinstance(pyproject.get("project"), dict) else {}
    poetry = pyproject.get("tool", {}).get("poetry", {})
    found.project_name = (project.get("name") or poetry.get("name")
                          or _get(setup_cfg, "metadata", "name"))  # fmt: skip
    found.install_project = bool(
        (root / "setup.py").is_file()
        or "build-system" in pyproject
        or (project and "name" in project)
        or (setup_cfg is not None and setup_cfg.has_section("metadata"))
    )
    _requirements_files(root, found)
    _pyproject(pyproject, found)
    _setup_cfg(setup_cfg, found)
    _tox(root, found)
    _locks(root, found)
    _plugins(root, pyproject, setup_cfg, found)
    _test_imports(root, found)
    if (root / "setup.py").is_file() and not found.extras:
        # setup.py computes its extras: ask for the usual test ones (pip only warns about an
        # extra a project does not have).
        found.extras = [g for g in TEST_GROUPS if g != "dev"]
    return found


# ---------------------------------------------------------------- readers
def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(errors="replace")) if path.is_file() else {}
    except tomllib.TOMLDecodeError:
        return {}


def _ini(path: Path) -> configparser.RawConfigParser | None:
    if not path.is_file():
        return None
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(path.read_text(errors="replace"))
    except configparser.Error:
        return None
    return parser


def _get(parser: configparser.RawConfigParser | None, section: str, key: str) -> str | None:
    if parser is None or not parser.has_option(section, key):
        return None
    return parser.get(section, key)


def _lines(text: str | None) -> list[str]:
    """A multi-line ini value or a requirements file as requirement lines."""
    out = []
    for raw in (text or "").splitlines():
        line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


# Requirements files for other jobs than running the tests.
OTHER_JOBS = ("doc", "update", "lint", "release", "deploy", "publish", "typing", "mypy", "style",
              "format", "bench", "upload")  # fmt: skip
_VERSIONED = re.compile(
    r"^(?P<family>.*?)-?(?:py)?(?P<major>[23])(?P<minor>\d{1,2})(?P<ext>\.txt)$"
)


def requirements_files(root: Path) -> list[Path]:
    """The requirements files that install what the tests need: the plain and test/dev ones,
    not those for documentation, releases or updates; of files kept per Python version
    (`requirements-tests37.txt`, `-tests39.txt`) the newest one this Python can use."""
    files = [p for p in sorted(root.glob("*.txt")) if "requirement" in p.name.lower()]
    folder = root / "requirements"
    if folder.is_dir():
        files += sorted(folder.glob("*.txt")) + sorted(folder.glob("*.in"))
    files = [p for p in files if not any(job in p.name.lower() for job in OTHER_JOBS)]
    newest: dict[str, tuple[tuple[int, int], Path]] = {}
    plain = []
    for path in files:
        match = _VERSIONED.match(path.name)
        if match is None:
            plain.append(path)
            continue
        version = (int(match["major"]), int(match["minor"]))
        family = f"{path.parent}/{match['family']}"
        if version <= sys.version_info[:2] and version > newest.get(family, ((0, 0), path))[0]:
            newest[family] = (version, path)
    return plain + [path for _, path in newest.values()]


def _requirements_files(root: Path, found: Declared) -> None:
    for path in requirements_files(root):
        _requirements_file(root, path, found, seen=set())


def _requirements_file(root: Path, path: Path, found: Declared, seen: set[Path]) -> None:
    resolved = path.resolve()
    if resolved in seen or not resolved.is_relative_to(root.resolve()) or not path.is_file():
        return  # includes stay inside the project
    seen.add(resolved)
    requirements = []
    for raw in _lines(path.read_text(errors="replace")):
        line = re.sub(r"\s--hash[= ]\S+", "", raw).strip()
        if line.startswith(("-r ", "--requirement ", "-r", "-c ", "--constraint ")):
            included = line.split(None, 1)[1] if " " in line else line[2:]
            if line.startswith(("-c", "--constraint")):
                constraints = _lines((path.parent / included).read_text(errors="replace")) if (
                    path.parent / included).is_file() else []  # fmt: skip
                found.constraints += [c for c in constraints if not c.startswith("-")]
            else:
                _requirements_file(root, path.parent / included.strip(), found, seen)
        elif line.startswith(("-e .", "-e.", ".", "-e ./")) or line in {"-e .", "."}:
            found.install_project = True
            extras = re.search(r"\[([^\]]+)\]", line)
            if extras:
                found.extras += [e.strip() for e in extras.group(1).split(",")]
        elif not line.startswith("-"):  # other options could point pip anywhere
            requirements.append(line)
    found.add(path.relative_to(root).as_posix(), requirements)


def _pyproject(data: dict[str, Any], found: Declared) -> None:
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    assert isinstance(project, dict)
    found.add("pyproject.toml [project]", [str(d) for d in project.get("dependencies", [])])
    optional = project.get("optional-dependencies", {}) or {}
    for extra in TEST_GROUPS:
        if extra in optional:
            if found.install_project:
                found.extras.append(extra)
            found.add(f"pyproject.toml [project.optional-dependencies] {extra}",
                      [str(d) for d in optional[extra]])  # fmt: skip
    groups = data.get("dependency-groups", {}) or {}
    for group in TEST_GROUPS:
        found.add(f"pyproject.toml [dependency-groups] {group}", _group(groups, group, set()))
    tool = data.get("tool", {}) or {}
    poetry = tool.get("poetry", {}) or {}
    found.add("pyproject.toml [tool.poetry.dependencies]",
              _poetry(poetry.get("dependencies", {})))  # fmt: skip
    found.add("pyproject.toml [tool.poetry.dev-dependencies]",
              _poetry(poetry.get("dev-dependencies", {})))  # fmt: skip
    for group, table in (poetry.get("group", {}) or {}).items():
        if group in TEST_GROUPS and isinstance(table, dict):
            found.add(f"pyproject.toml [tool.poetry.group.{group}]",
                      _poetry(table.get("dependencies", {})))  # fmt: skip
    pdm = (tool.get("pdm", {}) or {}).get("dev-dependencies", {}) or {}
    for group in TEST_GROUPS:
        found.add(f"pyproject.toml [tool.pdm.dev-dependencies] {group}",
                  [str(d) for d in pdm.get(group, []) if not str(d).startswith("-e")])  # fmt: skip
    hatch = (tool.get("hatch", {}) or {}).get("envs", {}) or {}
    for env in ("default", *TEST_GROUPS):
        table = hatch.get(env, {}) if isinstance(hatch.get(env), dict) else {}
        deps = [*table.get("dependencies", []), *table.get("extra-dependencies", [])]
        found.add(f"pyproject.toml [tool.hatch.envs.{env}]", [str(d) for d in deps])


def _group(groups: dict[str, Any], name: str, seen: set[str]) -> list[str]:
    """A PEP 735 dependency group, its `include-group`s followed."""
    if name in seen or name not in groups:
        return []
    seen.add(name)
    out = []
    for item in groups[name]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and "include-group" in item:
            out += _group(groups, str(item["include-group"]), seen)
    return out


def _poetry(table: Any) -> list[str]:
    """Poetry's `name = "^1.2"` tables as PEP 508 lines."""
    if not isinstance(table, dict):
        return []
    out = []
    for name, raw in table.items():
        if name.lower() == "python":
            continue
        spec = (raw[0] if raw else "*") if isinstance(raw, list) else raw
        label = name
        if isinstance(spec, dict):
            if "path" in spec or "git" in spec or "url" in spec:
                continue
            extras = spec.get("extras")
            label = f"{name}[{','.join(extras)}]" if extras else name
            spec = str(spec.get("version", "*"))
        out.append(f"{label}{_poetry_version(str(spec))}")
    return out


def _poetry_version(spec: str) -> str:
    parts = []
    for piece in (p.strip() for p in spec.split(",")):
        if piece in {"", "*"}:
            continue
        if piece[0] in "^~" and not piece.startswith("~="):
            numbers = [int(n) if n.isdigit() else 0 for n in piece[1:].split(".")]
            if piece[0] == "^":
                first = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
                upper = numbers[: first + 1]
            else:
                upper = numbers[:2] if len(numbers) > 1 else numbers[:1]
            upper[-1] += 1
            parts += [f">={piece[1:]}", f"<{'.'.join(map(str, upper))}"]
        elif piece[0].isdigit():
            parts.append(f"=={piece}")
        else:
            parts.append(piece)
    return ",".join(parts)


def _setup_cfg(parser: configparser.RawConfigParser | None, found: Declared) -> None:
    found.add("setup.cfg [options] install_requires",
              _lines(_get(parser, "options", "install_requires")))  # fmt: skip
    for extra in TEST_GROUPS:
        deps = _lines(_get(parser, "options.extras_require", extra))
        if deps and found.install_project:
            found.extras.append(extra)
        found.add(f"setup.cfg [options.extras_require] {extra}", deps)
    found.add("setup.cfg [options] tests_require",
              _lines(_get(parser, "options", "tests_require")))  # fmt: skip


_EXTRA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FACTOR = re.compile(r"^[\w,.-]+:\s*")
_TEST_ENV = re.compile(r"^testenv(:(py\d*|py\d+[\w.-]*|tests?|unit[\w-]*))?$")


def _tox(root: Path, found: Declared) -> None:
    """The deps and extras of tox's test environments (`[testenv]`, `py3x`, `test`), with
    factor prefixes (`py38: mock`) dropped and substitutions skipped."""
    parser = _ini(root / "tox.ini")
    if parser is None:
        return
    deps = []
    for section in parser.sections():
        if not _TEST_ENV.match(section):
            continue
        for raw in _lines(_get(parser, section, "deps")):
            line = _FACTOR.sub("", raw)
            if "{" in line or line.startswith("-") or not line:
                continue  # substitutions and options
            if line.startswith(".["):
                found.extras += [e for e in line[2:].rstrip("]").split(",") if _EXTRA.match(e)]
                continue
            deps.append(line)
        if found.install_project:
            for raw in _lines(_get(parser, section, "extras")):
                line = _FACTOR.sub("", raw)
                found.extras += [e for e in re.split(r"[,\s]+", line) if _EXTRA.match(e)]
    found.add("tox.ini [testenv] deps", deps)


def _locks(root: Path, found: Declared) -> None:
    own = normalize(found.project_name) if found.project_name else None
    for name in ("uv.lock", "poetry.lock", "pdm.lock"):
        data = _toml(root / name)
        pins = []
        for package in data.get("package", []) or []:
            if not isinstance(package, dict) or "name" not in package or "version" not in package:
                continue
            source = package.get("source", {})
            if normalize(str(package["name"])) == own or (
                isinstance(source, dict) and ({"editable", "virtual", "directory"} & set(source))
            ):
                continue
            pins.append(f"{package['name']}=={package['version']}")
        if pins:
            found.constraints += pins
            found.sources.append(name)
            return  # one lock file is the project's truth


def _plugins(
    root: Path,
    pyproject: dict[str, Any],
    setup_cfg: configparser.RawConfigParser | None,
    found: Declared,
) -> None:
    options = pytest_options(root, pyproject, setup_cfg)
    plugins: list[str] = []
    for spec in re.split(r"[\s,]+", str(options.get("required_plugins", ""))):
        if spec and name_of(spec):
            plugins.append(spec)
    addopts = " ".join(options.get("addopts", "").split())
    for flag, plugin in PLUGIN_OPTIONS:
        if re.search(rf"(^|\s){re.escape(flag)}(\b|=|\s|$)", addopts):
            plugins.append(plugin)
    for key, plugin in PLUGIN_INI_KEYS.items():
        if key in options:
            plugins.append(plugin)
    conftest = root / "conftest.py"
    if conftest.is_file():
        for module in re.findall(
            r"[\"'](pytest_[a-z_]+)[\"']", conftest.read_text(errors="replace")
        ):
            plugins.append(module.replace("_", "-"))
    found.plugins = sorted(dict.fromkeys(p for p in plugins if name_of(p) not in found.names()))


def pytest_options(
    root: Path,
    pyproject: dict[str, Any] | None = None,
    setup_cfg: configparser.RawConfigParser | None = None,
) -> dict[str, str]:
    """pytest's ini options from the first file pytest itself would read them from."""
    for name, section in (("pytest.ini", "pytest"), (".pytest.ini", "pytest")):
        parser = _ini(root / name)
        if parser is not None and parser.has_section(section):
            return dict(parser.items(section))
    data = pyproject if pyproject is not None else _toml(root / "pyproject.toml")
    table = data.get("tool", {}).get("pytest", {}).get("ini_options")
    if isinstance(table, dict):
        return {k: " ".join(map(str, v)) if isinstance(v, list) else str(v)
                for k, v in table.items()}  # fmt: skip
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        parser = setup_cfg if name == "setup.cfg" and setup_cfg is not None else _ini(root / name)
        if parser is not None and parser.has_section(section):
            return dict(parser.items(section))
    return {}


def _test_imports(root: Path, found: Declared) -> None:
    """Well-known test-only packages the tests import but nothing declared."""
    names = found.names() | {normalize(p) for p in found.plugins}
    local = {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if p.is_dir()}
    if (root / "src").is_dir():
        local |= {p.stem for p in (root / "src").iterdir()}
    wanted = []
    for folder in ("tests", "test", "testing"):
        for path in sorted((root / folder).rglob("*.py"))[:200] if (root / folder).is_dir() else []:
            text = path.read_text(errors="replace")
            for module in re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", text, re.M):
                dist = TEST_IMPORTS.get(module)
                if dist and module not in local and normalize(dist) not in names:
                    wanted.append(dist)
                    names.add(normalize(dist))
    found.add("imports in the tests", wanted)


def coverage_exclusions(root: Path) -> dict[str, list[str]]:
    """The project's coverage.py `exclude_lines` / `exclude_also` (what it marks as not worth
    covering), from the first config file coverage.py itself would read. Assay runs coverage
    with its own settings otherwise: a project's `parallel = True` or `data_file` would hide
    the data from Assay."""
    tables: list[dict[str, Any]] = []
    rc = _ini(root / ".coveragerc")
    if rc is not None and rc.has_section("report"):
        tables.append(dict(rc.items("report")))
    report = _toml(root / "pyproject.toml").get("tool", {}).get("coverage", {}).get("report")
    if isinstance(report, dict):
        tables.append(report)
    for name in ("setup.cfg", "tox.ini"):
        parser = _ini(root / name)
        if parser is not None and parser.has_section("coverage:report"):
            tables.append(dict(parser.items("coverage:report")))
    for table in tables:
        found = {}
        for key in ("exclude_lines", "exclude_also"):
            value = table.get(key)
            lines = value if isinstance(value, list) else _lines(str(value or ""))
            if lines:
                found[key] = [str(line) for line in lines]
        if found:
            return found
    return {}
