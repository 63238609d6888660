"""Mutation testing for Rust: cargo-mutants in the process sandbox, offline, against the kept
tests only, on a tiny crate whose mutants' fates are known. The crate has one dependency
(vendored from crates.io at prepare), so the mutants build on the vendored crates and the
dependencies compiled once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.runtimes.port import Environment
from assay.runtimes.rust import CRATES_HOSTS, RustRuntime
from assay.runtimes.rust_mutation import CargoMutants, availability
from assay.sandbox.process import ProcessSandbox

USABLE, WHY = RustRuntime().availability()
MUTANTS = shutil.which("cargo-mutants") is not None
pytestmark = [
    pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", *CRATES_HOSTS]),
    pytest.mark.skipif(not USABLE, reason=f"Rust with coverage tools: {WHY}"),
    pytest.mark.skipif(not MUTANTS, reason="cargo-mutants is not installed (make setup)"),
]

FILES = {
    "Cargo.toml": '[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2021"\n\n'
    '[dependencies]\nitoa = "=1.0.11"\n',
    "src/lib.rs": """pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

pub fn is_adult(age: u32) -> bool {
    age >= 18
}

pub fn double(x: i32) -> i32 {
    x * 2
}

pub fn render(n: u64) -> String {
    itoa::Buffer::new().format(n).to_string()
}
""",
    # add(2, 2) cannot tell + from *: that mutant survives; every is_adult mutant is caught;
    # no kept test calls double, so its mutants are uncovered.
    "tests/assay_lib_llm_0.rs": """#[test]
fn adds() {
    assert_eq!(tiny::add(2, 2), 4);
}

#[test]
fn adults() {
    assert!(tiny::is_adult(30));
    assert!(!tiny::is_adult(5));
}

#[test]
fn renders() {
    assert_eq!(tiny::render(7), "7");
}
""",
    # The project's own test is not a kept test: it would catch the survivor, and must not run.
    "tests/own.rs": "#[test]\nfn adds_three() {\n    assert_eq!(tiny::add(2, 3), 5);\n}\n",
}


def test_cargo_mutants_scores_the_kept_tests(tmp_path: Path) -> None:
    root = tmp_path / "crate"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    runtime = RustRuntime()
    assert "mutation testing with cargo-mutants" in WHY
    detection = runtime.detect(root)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path / "home",))
    env = runtime.prepare(detection, root, sandbox, tmp_path / "cache", [])
    tool = runtime.mutation_tool()
    assert isinstance(tool, CargoMutants)
    result = tool.run(env, detection, root, modules=["src/lib.rs"],
                      tests=["tests/assay_lib_llm_0.rs"], sandbox=sandbox,
                      budget_s=240)  # fmt: skip
    assert result.complete, result.reason
    score = result.modules["src/lib.rs"]
    # add: 0, 1, -1, + -> -, + -> *; is_adult: true, false, >= -> <; double: five; render:
    # String::new() and "xyzzy".
    assert (score.killed, score.survived, score.uncovered, score.total) == (9, 1, 5, 15)
    (survivor,) = score.survivors
    assert survivor.mutant == "src/lib.rs:2:7: replace + with * in add"
    assert "+    a * /* ~ changed by cargo-mutants ~ */ b" in survivor.diff
    assert (root / "src/lib.rs").read_text() == FILES["src/lib.rs"]  # restored in place
    logs = (root / ".assay" / "mutants.out" / "log").glob("*.log")
    built = "".join(log.read_text() for log in logs)
    assert "Compiling tiny" in built
    assert "Compiling itoa" not in built  # the dependency as prepare compiled it


def test_without_cargo_mutants_the_reason_is_given(tmp_path: Path) -> None:
    absent = tmp_path / "bin" / "cargo-mutants"
    assert availability(absent) == (
        f"no mutation testing: [Errno 2] No such file or directory: '{absent}' "
        "(cargo install --locked cargo-mutants)"
    )
    root = tmp_path / "crate"
    for name in ("Cargo.toml", "src/lib.rs"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(FILES[name])
    runtime = RustRuntime()
    detection = runtime.detect(root)
    assert detection is not None
    env = Environment(interpreter=runtime.sysroot() / "bin" / "cargo", readonly=[], key="",
                      tools=[])  # fmt: skip
    result = CargoMutants(runtime, binary=absent).run(
        env, detection, root, modules=["src/lib.rs"], tests=[], sandbox=ProcessSandbox(),
        budget_s=10)  # fmt: skip
    assert (result.complete, result.modules) == (False, {})
    assert result.reason.startswith("no mutation testing: [Errno 2]")
