"""Where kept tests are written in the output directory."""

from __future__ import annotations

from assay.analysis.outputs import kept_test_path


def test_kept_tests_are_always_under_tests_and_never_collide() -> None:
    # Python, JavaScript, Rust: generated under the project's tests/, same path in the output.
    assert kept_test_path("tests/test_assay_a_llm_0.py") == "tests/test_assay_a_llm_0.py"
    # Go: beside the package; the root package and a package named tests/ stay apart.
    root = kept_test_path("assay_util_offline_0_test.go", in_tests_dir=False)
    nested = kept_test_path("tests/assay_util_offline_0_test.go", in_tests_dir=False)
    assert root == "tests/assay_util_offline_0_test.go"
    assert nested == "tests/tests/assay_util_offline_0_test.go"
    # Java: under src/test/java, placed below tests/ at that path.
    assert kept_test_path("src/test/java/shop/AssayCartTest.java", in_tests_dir=False) == (
        "tests/src/test/java/shop/AssayCartTest.java"
    )
