"""Reading what a JVM test run leaves: JUnit XML (the console launcher's, Surefire's) and
JaCoCo's XML report, mapped back to the project's source files (Java or Kotlin)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from defusedxml import ElementTree

from assay.runtimes.coverage import CoverageMap, FileCoverage
from assay.runtimes.port import Ran, TestCaseResult, TestRun
from assay.runtimes.results import junit_cases, read_inside


class SourceIndex:
    """Finds the file that holds a class or a JaCoCo source file, among the project's files
    (a class of package `a.b` named `C` is in `<root>/a/b/C.java` or `C.kt`, in any root)."""

    def __init__(self, files: Iterable[str], default_root: str) -> None:
        self._by_tail: dict[str, str] = {}
        for path in sorted(files):
            parts = PurePosixPath(path).parts
            for start in range(len(parts)):
                self._by_tail.setdefault("/".join(parts[start:]), path)
        self._default_root = default_root

    def find(self, package: str, name: str) -> str | None:
        """The project file of `package` (with slashes, JaCoCo's) and `name` (with its
        extension), or None when the project has no such file."""
        return self._by_tail.get(f"{package}/{name}".strip("/"))

    def source(self, package: str, name: str) -> str:
        """As `find`, else where the file would be under the default root."""
        tail = f"{package}/{name}".strip("/")
        return self._by_tail.get(tail) or f"{self._default_root}/{tail}"

    def test_class(self, classname: str) -> str:
        """The file of a test class (`a.b.CTest`, a nested `a.b.CTest$Inner` in its outer's)."""
        outer = classname.split("$", 1)[0].replace(".", "/")
        for extension in (".java", ".kt"):
            if found := self._by_tail.get(outer + extension):
                return found
        return f"{self._default_root}/{outer}.java"


def test_cases(reports: Iterable[bytes | None], index: SourceIndex) -> list[TestCaseResult]:
    """The test cases of JUnit XML reports; a failed assertion is `failed`, a crash `error`."""
    results = []
    for data in reports:
        for case in junit_cases(data):
            path = index.test_class(case.classname)
            thrown = case.thrown or ""
            assertion = thrown.endswith(("AssertionFailedError", "AssertionError",
                                         "ComparisonFailure"))  # fmt: skip
            error_type = None
            if case.outcome != "passed":
                error_type = "AssertionError" if assertion else thrown.rsplit(".", 1)[-1] or None
            # JUnit reports a failed assertion thrown outside the test body as an error.
            outcome = "failed" if case.outcome == "error" and assertion else case.outcome
            results.append(
                TestCaseResult(test_id=f"{path}::{case.name}", file=path, outcome=outcome,
                               error_type=error_type, message=case.message, detail=case.detail)
            )  # fmt: skip
    return results


def jacoco_coverage(data: bytes, index: SourceIndex) -> CoverageMap | None:
    """Lines and branches from JaCoCo's XML report (None when it does not parse). A line's
    branches are numbered per file, negative, as the coverage map's branch arcs."""
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None
    files = {}
    for package in root.iter("package"):
        for source in package.iter("sourcefile"):
            rel = index.source(package.get("name", ""), source.get("name", ""))
            coverage = FileCoverage()
            ordinal = 0
            for line in source.iter("line"):
                number = int(line.get("nr", "0"))
                hit = int(line.get("ci", "0")) > 0
                (coverage.executed if hit else coverage.missing).add(number)
                covered, missed = int(line.get("cb", "0")), int(line.get("mb", "0"))
                for position in range(covered + missed):
                    ordinal += 1
                    hit = position < covered
                    (coverage.executed_branches if hit else coverage.missing_branches).add(
                        (number, -ordinal)
                    )
            files[rel] = coverage
    return CoverageMap(files=files)


def test_class_name(test: str) -> str | None:
    """`src/test/java/a/b/CTest.java` -> `a.b.CTest` (Kotlin's too)."""
    path = PurePosixPath(test)
    for root in ("src/test/java", "src/test/kotlin"):
        if path.is_relative_to(root):
            return ".".join(path.relative_to(root).with_suffix("").parts)
    return None


def junit_reports(workdir: Path, folder: str) -> list[str]:
    """The JUnit XML files (`TEST-*.xml`) a build wrote in `folder` (relative), refusing a
    folder on the way that the sandboxed build made a link."""
    parts = PurePosixPath(folder).parts
    chain = [workdir.joinpath(*parts[: n + 1]) for n in range(len(parts))]
    if any(p.is_symlink() for p in chain) or not chain[-1].is_dir():
        return []
    return sorted(f"{folder}/{p.name}" for p in chain[-1].glob("TEST-*.xml"))


def build_run(ran: Ran, reports: list[str], jacoco_xml: str, index: SourceIndex, *,
              runner: str) -> TestRun:  # fmt: skip
    """A finished build's test run: its JUnit XML `reports` and JaCoCo XML (paths relative to
    the work directory), failed when a test failed or `runner` ran none."""
    found = test_cases([read_inside(ran.workdir, rel) for rel in reports], index)
    xml = read_inside(ran.workdir, jacoco_xml)
    coverage = jacoco_coverage(xml, index) if xml else None
    if not found:
        return ran.run(False, f"{runner} ran no test", results=found, coverage=coverage)
    failed = any(t.outcome in {"failed", "error"} for t in found)
    reason = "some tests failed" if failed else "all tests passed"
    return ran.run(ran.outcome.ok and not failed, reason, results=found, coverage=coverage)
