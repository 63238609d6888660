"""Small projects made here in each packaging style real projects use: what they declare is
installed (the project itself too, when its tests need its metadata), the project's own pins
win over Assay's tools, and its own suite then runs clean in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.runtimes.python import PythonRuntime
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox
from tests.integration.conftest import REGISTRY

pytestmark = REGISTRY

SETUP_PY = {
    "setup.py": "from setuptools import setup\nsetup(name='demo', version='1.2.3', "
    "packages=['demo'], install_requires=['six'])\n",
    "requirements-dev.txt": "pytest==7.4.4\n",
    "demo/__init__.py": "import six\n\ndef kind(value):\n    return six.text_type(value)\n",
    "tests/test_demo.py": (
        "import importlib.metadata\nimport pytest\nfrom demo import kind\n\n"
        "def test_kind():\n    assert kind(3) == '3'\n\n"
        "def test_metadata_of_the_installed_project():\n"
        "    assert importlib.metadata.version('demo') == '1.2.3'\n\n"
        "def test_the_project_pins_its_runner():\n    assert pytest.__version__ == '7.4.4'\n"
    ),
}  # fmt: skip
SETUP_CFG_SRC = {
    "setup.cfg": "[metadata]\nname = demo\nversion = 0.1\n[options]\npackage_dir =\n    =src\n"
    "packages = find:\ninstall_requires =\n    iniconfig\n[options.packages.find]\nwhere = src\n"
    "[options.extras_require]\ntesting =\n    pretend\n",
    "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n'
    'build-backend = "setuptools.build_meta"\n',
    "src/demo/__init__.py": "import iniconfig\n\ndef name():\n    return iniconfig.__name__\n",
    "tests/test_demo.py": "import pretend\nfrom demo import name\n\n"
    "def test_name():\n    assert name() == 'iniconfig'\n    assert pretend.stub(a=1).a == 1\n",
}  # fmt: skip
HATCH = {
    "pyproject.toml": '[build-system]\nrequires = ["hatchling"]\n'
    'build-backend = "hatchling.build"\n[project]\nname = "demo"\nversion = "0.1"\n'
    'dependencies = ["six"]\n'
    '[project.optional-dependencies]\ntests = ["pretend"]\n'
    '[tool.pytest.ini_options]\nasyncio_mode = "auto"\naddopts = "--cov=demo -p no:warnings"\n'
    # The project's coverage settings would hide the data (parallel files); its exclusions hold.
    '[tool.coverage.run]\nparallel = true\n'
    '[tool.coverage.report]\nexclude_lines = ["pragma: no cover", "if TYPE_CHECKING:"]\n',
    "demo/__init__.py": "from typing import TYPE_CHECKING\nimport six\n\nif TYPE_CHECKING:\n"
    "    import decimal\n\nasync def double(x):\n    return 2 * x\n",
    "tests/test_demo.py": "import pretend\nfrom demo import double\n\n"
    "async def test_double():\n    assert await double(2) == 4\n",
}  # fmt: skip
POETRY = {
    "pyproject.toml": '[tool.poetry]\nname = "demo"\nversion = "0.1.0"\ndescription = ""\n'
    'authors = ["A <a@example.com>"]\n[tool.poetry.dependencies]\npython = "^3.8"\n'
    'six = "^1.16"\n[tool.poetry.group.test.dependencies]\npretend = "^1.0"\n'
    '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n',
    "demo/__init__.py": "import six\n\nVALUE = six.PY3\n",
    "tests/test_demo.py": "import pretend\nimport demo\n\ndef test_value():\n"
    "    assert demo.VALUE is True\n",
}  # fmt: skip
FLIT = {
    "pyproject.toml": '[build-system]\nrequires = ["flit_core>=3.4"]\n'
    'build-backend = "flit_core.buildapi"\n[project]\nname = "demo"\n'
    'dynamic = ["version", "description"]\ndependencies = ["iniconfig"]\n'
    '[project.optional-dependencies]\ntest = ["pretend"]\n',
    "demo/__init__.py": '"""Demo."""\n__version__ = "0.2"\nimport iniconfig\n',
    "tests/test_demo.py": "import importlib.metadata\nimport pretend\nimport demo\n\n"
    "def test_version():\n    assert importlib.metadata.version('demo') == demo.__version__\n",
}  # fmt: skip


@pytest.mark.parametrize(
    ("files", "passed"),
    [(SETUP_PY, 3), (SETUP_CFG_SRC, 1), (HATCH, 1), (POETRY, 1), (FLIT, 1)],
    ids=["setup.py-pins-pytest-7", "setup.cfg-src-layout", "hatch-extras-plugins", "poetry",
         "flit"],
)  # fmt: skip
def test_declared_dependencies_are_installed_and_the_suite_runs(
    assay_home: Path, tmp_path: Path, files: dict[str, str], passed: int
) -> None:
    project = tmp_path / "project"
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    runtime = PythonRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(assay_home,))
    environment = runtime.prepare(detection, project, sandbox, assay_home / "cache", [])
    run = runtime.run_tests(environment, detection, project, [], sandbox,
                            limits=Limits(wall_s=300, cpu_s=300))  # fmt: skip
    assert [t.test_id for t in run.failed] == [], run.output
    assert len(run.passed) == passed, run.output
    assert run.coverage is not None and (run.coverage.summary().line_pct or 0) > 0
    if files is HATCH:
        assert run.coverage.summary().line_pct == 100.0  # the TYPE_CHECKING block is excluded
    assert any(i.lower().startswith("demo==") for i in environment.installed)
