"""What pytest counts as a success is a success: real pytest runs, their JUnit XML read back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from assay.analysis.baseline import baseline_counts
from assay.engines.pynguin import Plan, explain
from assay.runtimes import TestRun as Run
from assay.runtimes.python import _junit
from assay.runtimes.results import error_lines
from assay.sandbox import Outcome
from assay.sandbox.port import Ending

TESTS = """
import pytest

def test_plain():
    assert 1 + 1 == 2

@pytest.mark.xfail(strict=True)
def test_expected_exception():
    int("x")

@pytest.mark.xfail(strict=True)
def test_unexpected_pass():
    assert True

@pytest.mark.skip(reason="not here")
def test_skipped():
    assert False

@pytest.fixture
def broken():
    raise RuntimeError("setup went wrong")

def test_setup_error(broken):
    assert broken

def test_wrong():
    assert 1 == 2
"""


def pytest_run(tmp_path: Path, files: dict[str, str]) -> Run:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir=.",
         "--continue-on-collection-errors", "--junitxml=junit.xml", "."],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    tests = _junit((tmp_path / "junit.xml").read_bytes(), tmp_path)
    return Run(ok=done.returncode == 0, reason=f"exit {done.returncode}", tests=tests)


def test_strict_xfail_passes_and_strict_xpass_fails(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, {"test_outcomes.py": TESTS})
    outcome = {t.test_id.rsplit("::", 1)[-1]: t.outcome for t in run.tests}
    assert outcome == {
        "test_plain": "passed",
        "test_expected_exception": "xfailed",
        "test_unexpected_pass": "failed",
        "test_skipped": "skipped",
        "test_setup_error": "error",
        "test_wrong": "failed",
    }
    assert {t.test_id.rsplit("::", 1)[-1] for t in run.passed} == {
        "test_plain", "test_expected_exception"}  # fmt: skip
    assert run.counts() == "1 passed, 1 xfailed, 2 failed, 1 error, 1 skipped"
    setup = next(t for t in run.failed if t.outcome == "error")
    assert setup.error_type != "AssertionError"  # a broken fixture is no finding


def test_a_file_of_strict_xfail_tests_alone_is_all_successes(tmp_path: Path) -> None:
    only_xfail = "import pytest\n\n@pytest.mark.xfail(strict=True)\ndef test_raises():\n    {}[1]\n"
    run = pytest_run(tmp_path, {"test_only.py": only_xfail})
    assert run.ok and len(run.passed) == 1 and not run.failed


def test_baseline_counts_name_files_that_cannot_be_collected(tmp_path: Path) -> None:
    run = pytest_run(tmp_path, {"test_fine.py": "def test_ok():\n    pass\n",
                                "test_needs.py": "import not_installed_anywhere\n"})  # fmt: skip
    counts = baseline_counts(run, has_tests=True)
    assert counts["passed"] == 1 and counts["collection_errors"] == 1
    assert "No module named 'not_installed_anywhere'" in counts["first_errors"][0]
    assert counts["warnings"] and "could not be collected" in counts["warnings"][0]
    (tmp_path / "clean").mkdir()
    clean = pytest_run(tmp_path / "clean", {"test_ok.py": "def test_a():\n    pass\n"})
    assert baseline_counts(clean, has_tests=True)["warnings"] == []


def outcome(ending: Ending, code: int | None, text: str) -> Outcome:
    return Outcome(ending=ending, exit_code=code, reason=f"{ending} {code}", stdout=text,
                   stderr="", duration_s=1.0)  # fmt: skip


def test_pynguin_outcomes_are_explained() -> None:
    plan = Plan.within(30)
    assert explain(outcome(Ending.TIMEOUT, None, "Iteration: 9"), plan).kind == "timed_out"
    nothing = "ERROR    [Worker-22] SUT contains nothing we can     generator.py:176\n test.\n"
    assert explain(outcome(Ending.EXITED, 1, nothing), plan).kind == "nothing_to_call"
    failed = ("ERROR Failed to load SUT: No module named 'six'\nTraceback ...\n"
              "ModuleNotFoundError: No module named 'six'\n")  # fmt: skip
    explained = explain(outcome(Ending.EXITED, 1, failed), plan)
    assert explained.kind == "import_failed"
    assert "No module named 'six'" in explained.reason
    crashed = explain(outcome(Ending.EXITED, 139, "Segmentation fault"), plan)
    assert crashed.kind == "crashed" and "Segmentation fault" in crashed.detail
    assert explain(outcome(Ending.EXITED, 2, "done"), plan).kind == "no_tests"


def test_error_lines_keep_whole_exception_names() -> None:
    text = "Traceback ...\nEOFError: no input\nE   ModuleNotFoundError: No module named 'six'\n"
    assert error_lines(text) == ["EOFError: no input", "ModuleNotFoundError: No module named 'six'"]
    assert error_lines("DeprecationWarning: old\n") == []  # only the kinds asked for
    assert error_lines("DeprecationWarning: old\n", ("Warning",)) == ["DeprecationWarning: old"]


def test_coverage_with_nothing_to_measure_is_not_measured_rather_than_100() -> None:
    from assay.analysis.report import coverage_line
    from assay.runtimes.coverage import CoverageMap, FileCoverage

    assert CoverageMap().summary().line_pct is None
    no_branches = CoverageMap(files={"a.go": FileCoverage(executed={1, 2}, missing={3})})
    summary = no_branches.summary()
    assert (summary.line_pct, summary.branch_pct) == (66.67, None)
    measured = summary.model_dump()
    assert coverage_line(measured, measured) == "lines 66.7% -> 66.7%"
    nothing = CoverageMap().summary().model_dump()
    assert coverage_line(nothing, nothing) is None
