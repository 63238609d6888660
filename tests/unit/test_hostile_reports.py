"""Reports the sandboxed code wrote are hostile: names in them must not lead Assay to read a
host file into a report, and malformed fields must not end an analysis with a traceback."""

from __future__ import annotations

from pathlib import Path

from assay.runtimes.javascript_mutation import _survivor
from assay.runtimes.jvm_reports import SourceIndex
from assay.runtimes.pit import _scores as pit_scores
from assay.runtimes.results import read_inside
from assay.runtimes.rust_mutation import _scores as rust_scores
from assay.runtimes.sandboxed import STATE_DIR

SECRET = "SECRET=hunter2\n"


def _planted(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text(SECRET)
    work = tmp_path / "a" / "b" / "work"
    (work / "src/main/java/a").mkdir(parents=True)
    (work / "src/main/java/a/C.java").write_text("package a;\nclass C { int f() { return 1; } }\n")
    (work / "out").symlink_to(tmp_path)
    return work


def test_read_inside_stays_inside_its_root(tmp_path: Path) -> None:
    work = _planted(tmp_path)
    assert read_inside(work, "src/main/java/a/C.java") is not None
    assert read_inside(work, "../../../secret.txt") is None
    assert read_inside(work, str(tmp_path / "secret.txt")) is None
    assert read_inside(work, "out/secret.txt") is None  # through a linked folder
    assert read_inside(work, "") is None


def test_a_pit_report_naming_a_host_file_counts_nothing_and_reads_nothing(tmp_path: Path) -> None:
    work = _planted(tmp_path)
    report = (
        "<mutations><mutation status='SURVIVED'><mutatedClass>a.C</mutatedClass>"
        "<sourceFile>../../../../../../secret.txt</sourceFile><lineNumber>1</lineNumber>"
        "<description>x</description></mutation>"
        "<mutation status='SURVIVED'><mutatedClass>a.C</mutatedClass><sourceFile>C.java"
        "</sourceFile><lineNumber>oops</lineNumber><description>negated</description>"
        "</mutation></mutations>"
    )
    module = "src/main/java/a/C.java"
    scores, complete = pit_scores(report.encode(), SourceIndex([module], "src/main/java"), work)
    assert complete and list(scores) == [module]  # the planted name is not a module
    (survivor,) = scores[module].survivors
    assert "hunter2" not in survivor.diff and "negated" in survivor.diff


def test_a_cargo_mutants_report_cannot_point_its_diff_outside(tmp_path: Path) -> None:
    work = _planted(tmp_path)
    (work / STATE_DIR / "mutants.out" / "diff").mkdir(parents=True)
    (work / STATE_DIR / "mutants.out" / "diff" / "lib.rs_1.diff").write_text("-a\n+b\n")
    mutant = {"name": "m", "file": "src/lib.rs", "span": {"start": {"line": 1}}}
    record = {"outcomes": [
        {"summary": "MissedMutant", "diff_path": "../../../../../secret.txt",
         "scenario": {"Mutant": mutant}},
        {"summary": "MissedMutant", "diff_path": "diff/lib.rs_1.diff",
         "scenario": {"Mutant": {**mutant, "span": "not a span"}}},
        {"summary": "MissedMutant", "diff_path": "diff/lib.rs_1.diff",
         "scenario": {"Mutant": mutant}},
    ]}  # fmt: skip
    scores, checked = rust_scores(record, work, ["src/lib.rs"], {"src/lib.rs": {1}})
    assert checked == 3
    score = scores["src/lib.rs"]
    assert (score.survived, score.uncovered) == (2, 1)  # a span that is not one: uncovered
    assert all("hunter2" not in s.diff for s in score.survivors)
    assert [s.diff for s in score.survivors] == ["", "-a\n+b\n"]


def test_a_stryker_mutant_with_a_malformed_location_is_still_shown() -> None:
    survivor = _survivor("src/calc.js", "const a = 1;\n", {"location": "x", "replacement": 2})
    assert survivor.mutant == "src/calc.js:1:mutant"


def test_a_module_name_is_a_literal_glob_for_stryker() -> None:
    from assay.runtimes.javascript_mutation import _glob_literal

    assert _glob_literal("pages/[id].tsx") == "pages/\\[id\\].tsx"
    assert _glob_literal("app/(auth)/x.ts") == "app/\\(auth\\)/x.ts"
    assert _glob_literal("src/calc.js") == "src/calc.js"
