"""What real projects declare, read as data, for every packaging style."""

from __future__ import annotations

from pathlib import Path

from assay.runtimes.python_requirements import declared


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_setup_py_only_installs_the_project_itself(tmp_path: Path) -> None:
    found = declared(write(tmp_path, {"setup.py": "from setuptools import setup\nsetup()\n"}))
    assert found.install_project
    assert found.requirements == []


def test_setup_cfg_install_requires_and_test_extras(tmp_path: Path) -> None:
    found = declared(write(tmp_path, {"setup.cfg": (
        "[metadata]\nname = demo\n[options]\ninstall_requires =\n    six>=1.10\n    attrs\n"
        "[options.extras_require]\ntesting =\n    pretend\ndocs =\n    sphinx\n"
        "[tool:pytest]\naddopts = --cov=demo -n 2\n")}))  # fmt: skip
    assert found.install_project
    assert found.requirements == ["six>=1.10", "attrs", "pretend"]
    assert found.extras == ["testing"]  # docs is not a test extra
    assert set(found.plugins) == {"pytest-cov", "pytest-xdist"}


def test_pyproject_extras_groups_and_hatch(tmp_path: Path) -> None:
    found = declared(
        write(
            tmp_path,
            {
                "pyproject.toml": """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
[project]
name = "demo"
dependencies = ["idna>=3"]
[project.optional-dependencies]
tests = ["freezegun", "demo[extra]"]
[dependency-groups]
lint = ["ruff"]
test = ["pytest>=7", {include-group = "lint"}]
[tool.hatch.envs.default]
dependencies = ["hypothesis"]
[tool.pytest.ini_options]
asyncio_mode = "auto"
required_plugins = "pytest-timeout>=2"
"""
            },
        )
    )
    assert found.install_project and found.extras == ["tests"]
    assert found.requirements == ["idna>=3", "freezegun", "pytest>=7", "ruff", "hypothesis"]
    assert "demo[extra]" not in found.requirements  # the project naming itself
    assert set(found.plugins) == {"pytest-asyncio", "pytest-timeout>=2"}


def test_poetry_dependencies_and_groups_become_pep508(tmp_path: Path) -> None:
    found = declared(
        write(
            tmp_path,
            {
                "pyproject.toml": """
[tool.poetry]
name = "demo"
[tool.poetry.dependencies]
python = "^3.8"
requests = "^2.28"
tomli = {version = "~1.2.3", optional = true}
local = {path = "../local"}
[tool.poetry.group.test.dependencies]
pytest = "7.4.2"
[tool.poetry.group.docs.dependencies]
sphinx = "*"
[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""
            },
        )
    )
    assert found.requirements == ["requests>=2.28,<3", "tomli>=1.2.3,<1.3", "pytest==7.4.2"]


def test_requirements_files_follow_includes_and_keep_pins(tmp_path: Path) -> None:
    found = declared(write(tmp_path, {
        "requirements-dev.txt": "-r requirements/base.txt\npytest==7.4.2  # pinned\n-e .\n"
                                "--index-url https://elsewhere.example/simple\n",
        "requirements/base.txt": "six\n-r ../../outside.txt\n",
        "docs-requirements.txt": "sphinx\n",
    }))  # fmt: skip
    assert found.requirements == ["six", "pytest==7.4.2"]
    assert found.install_project  # `-e .`
    assert "pytest" in found.names()


def test_lock_files_give_exact_versions_without_the_project(tmp_path: Path) -> None:
    found = declared(write(tmp_path, {"pyproject.toml": '[project]\nname = "demo"\n',
                                      "uv.lock": """
[[package]]
name = "demo"
version = "0.1.0"
source = { editable = "." }
[[package]]
name = "six"
version = "1.16.0"
"""}))  # fmt: skip
    assert found.constraints == ["six==1.16.0"]


def test_tox_deps_and_test_imports(tmp_path: Path) -> None:
    found = declared(write(tmp_path, {
        "tox.ini": "[testenv]\ndeps =\n    mock\n    py38: oldthing\n    -rrequirements.txt\n"
                   "    {env:EXTRA}\nextras = test\n",
        "setup.py": "",
        "tests/test_a.py": "import freezegun\nfrom hypothesis import given\nimport demo\n",
    }))  # fmt: skip
    assert found.requirements == ["mock", "oldthing", "freezegun", "hypothesis"]
    assert found.extras == ["test"]


def test_setup_py_extras_are_asked_for_by_their_usual_names(tmp_path: Path) -> None:
    found = declared(write(tmp_path, {"setup.py": "from setuptools import setup\nsetup()\n"}))
    assert found.extras == ["test", "tests", "testing"]


def test_requirements_files_for_other_jobs_and_other_pythons_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, {"requirements-tests36.txt": "attrs==22.2.0\n",
                     "requirements-tests39.txt": "attrs==23.1.0\n",
                     "requirements-tests399.txt": "attrs==99\n",
                     "requirements-update.txt": "pip-tools\n",
                     "requirements-docs.txt": "sphinx\n",
                     "requirements.txt": "six\n"})  # fmt: skip
    assert declared(tmp_path).requirements == ["six", "attrs==23.1.0"]
