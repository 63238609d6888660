"""The funnel keeps what pytest counts as a success: a candidate of strict-xfail tests (the
call is expected to raise) is kept and counts toward coverage; a strict xfail that passes, a
skipped test and a test whose fixture breaks are cut out; a module the model answers nothing
for is listed with why."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import REGISTRY
from tests.support.analysis import analyze_with_script

pytestmark = REGISTRY

PARSE = """def parse_port(text):
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError("out of range")
    return value


def scheme(url):
    if "://" not in url:
        raise ValueError("no scheme")
    return url.split("://", 1)[0]
"""

ANSWER = """```python
import pytest
from net.parse import parse_port


@pytest.mark.xfail(strict=True)
def test_letters_are_no_port():
    parse_port("http")


@pytest.mark.xfail(strict=True)
def test_zero_is_out_of_range():
    parse_port("0")


@pytest.mark.xfail(strict=True)
def test_a_valid_port_passes_so_this_strict_xfail_fails():
    parse_port("80")


@pytest.mark.skip(reason="not today")
def test_skipped():
    parse_port("1")


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


def test_with_a_broken_fixture(broken):
    assert parse_port("22") == 22
```
"""


def test_strict_xfail_tests_are_kept_and_the_rest_pruned(assay_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "net").mkdir(parents=True)
    (project / "net" / "__init__.py").write_text("")
    (project / "net" / "parse.py").write_text(PARSE)
    (project / "net" / "other.py").write_text("def unused(x):\n    return x * 2\n")
    report, _ = analyze_with_script(project, [("net/parse.py", ANSWER)], assay_home,
                                    tmp_path / "out", reruns=2)  # fmt: skip
    assert report["status"] == "succeeded", report["reason"]
    kept = [t for t in report["tests"] if t["status"] == "kept"]
    assert [t["module"] for t in kept] == ["net/parse.py"]
    code = (tmp_path / "out" / kept[0]["path"]).read_text()
    assert "def test_letters_are_no_port" in code and "def test_zero_is_out_of_range" in code
    for pruned in ("test_a_valid_port_passes", "test_skipped", "test_with_a_broken_fixture"):
        assert pruned not in code
    assert kept[0]["new_lines"] >= 3  # the raising paths were covered by the xfail tests
    assert report["findings"] == []  # an unexpected pass or a broken fixture is no bug
    gaps = {g["module"]: g for g in report["gaps"]}
    assert gaps["net/other.py"]["kind"] == "no_tests"
    assert "no Python test code" in gaps["net/other.py"]["reason"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Modules left without tests" in summary and "`net/other.py`" in summary
