"""Go modules and Rust crates with real dependencies, fetched from the public registries through
Assay's egress proxy in the install sandbox, cached, then tested offline in the sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.runtimes.coverage import CoverageMap
from assay.runtimes.golang import GoRuntime
from assay.runtimes.port import EnvironmentFailed
from assay.runtimes.rust import RustRuntime
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox

REGISTRIES = ["proxy.golang.org", "sum.golang.org", "index.crates.io", "static.crates.io"]
pytestmark = pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", *REGISTRIES])
GO_USABLE = shutil.which("go") is not None
RUST_USABLE, RUST_WHY = RustRuntime().availability()

GO_MOD = "module example.com/gdep\n\ngo 1.21\n\nrequire github.com/google/go-cmp v0.6.0\n"
GO_SUM = (
    "github.com/google/go-cmp v0.6.0 h1:ofyhxvXcZhMsU5ulbFiLKl/XBFqE1GSq7atu8tAmTRI=\n"
    "github.com/google/go-cmp v0.6.0/go.mod h1:17dUlkBOakJ0+DkrSSNjCkIjxS6bF9zb3elmeNGIjoY=\n"
)
GO_CODE = """package diff

import "github.com/google/go-cmp/cmp"

// Same reports whether two string slices hold the same items in the same order.
func Same(a, b []string) bool { return cmp.Equal(a, b) }
"""
GO_TEST = """package diff

import "testing"

func TestSameSlices(t *testing.T) {
	if !Same([]string{"a"}, []string{"a"}) {
		t.Fatal("expected equal")
	}
}
"""
CARGO_TOML = """[package]
name = "fmtnum"
version = "0.1.0"
edition = "2021"

[dependencies]
{dependency}
"""
RUST_CODE = """pub fn render(n: u64) -> String {
    let mut buffer = itoa::Buffer::new();
    buffer.format(n).to_string()
}
"""
RUST_TEST = '#[test]\nfn renders_zero() {\n    assert_eq!(fmtnum::render(0), "0");\n}\n'


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _run(runtime: GoRuntime | RustRuntime, root: Path, tmp_path: Path) -> CoverageMap:
    detection = runtime.detect(root)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path / "home",))
    env = runtime.prepare(detection, root, sandbox, tmp_path / "cache", [])
    workdir = tmp_path / "run"
    workdir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(root, workdir)
    run = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=300))
    assert run.ok, run.output
    assert [t.outcome for t in run.tests] == ["passed"]
    assert run.coverage is not None
    return run.coverage


@pytest.mark.skipif(not GO_USABLE, reason="Go is not installed")
def test_a_go_module_with_a_dependency_is_downloaded_once_then_tested_offline(
    tmp_path: Path,
) -> None:
    files = {"go.mod": GO_MOD, "go.sum": GO_SUM, "diff/diff.go": GO_CODE,
             "diff/diff_test.go": GO_TEST}  # fmt: skip
    coverage = _run(GoRuntime(), _write(tmp_path / "mod", files), tmp_path)
    assert "diff/diff.go" in coverage.files
    cached = list((tmp_path / "cache" / "envs").glob("go*/mod/github.com/google/go-cmp@v0.6.0"))
    assert cached, "the module is cached per go.sum"


@pytest.mark.skipif(not RUST_USABLE, reason=f"Rust with coverage tools: {RUST_WHY}")
def test_a_crate_with_a_dependency_is_vendored_once_then_tested_offline(tmp_path: Path) -> None:
    files = {"Cargo.toml": CARGO_TOML.format(dependency='itoa = "1"'), "src/lib.rs": RUST_CODE,
             "tests/basic.rs": RUST_TEST}  # fmt: skip
    coverage = _run(RustRuntime(), _write(tmp_path / "crate", files), tmp_path)
    assert "src/lib.rs" in coverage.files
    assert list((tmp_path / "cache" / "envs").glob("rust-*/vendor/itoa-1.*"))


@pytest.mark.skipif(not RUST_USABLE, reason=f"Rust with coverage tools: {RUST_WHY}")
def test_a_crate_the_registry_does_not_have_fails_with_the_reason(tmp_path: Path) -> None:
    missing = 'assay-no-such-crate-4f2a = "1"'
    files = {"Cargo.toml": CARGO_TOML.format(dependency=missing), "src/lib.rs": "pub fn f() {}\n"}
    root = _write(tmp_path / "crate", files)
    runtime = RustRuntime()
    detection = runtime.detect(root)
    assert detection is not None
    with pytest.raises(EnvironmentFailed, match="vendoring the crate's dependencies failed"):
        runtime.prepare(detection, root, ProcessSandbox(hidden=(tmp_path / "home",)),
                        tmp_path / "cache", [])  # fmt: skip
    assert not list((tmp_path / "cache" / "envs").glob("rust-*"))  # nothing half-written


@pytest.mark.skipif(not GO_USABLE, reason="Go is not installed")
def test_go_modules_come_from_the_configured_mirror(tmp_path: Path) -> None:
    """ASSAY_GOPROXY: a file:// mirror (an air-gapped copy, laid out as a GOPROXY) serves the
    download with no registry reachable at all."""
    files = {"go.mod": GO_MOD, "go.sum": GO_SUM, "diff/diff.go": GO_CODE,
             "diff/diff_test.go": GO_TEST}  # fmt: skip
    root = _write(tmp_path / "mod", files)
    _run(GoRuntime(), root, tmp_path / "first")  # fills a module cache from the public proxy
    (download,) = (tmp_path / "first" / "cache" / "envs").glob("go*/mod/cache/download")
    mirror = tmp_path / "mirror"
    shutil.copytree(download, mirror)
    offline = GoRuntime(package_hosts=(), goproxy=f"file://{mirror}")
    coverage = _run(offline, root, tmp_path / "second")
    assert "diff/diff.go" in coverage.files
    refused = GoRuntime(package_hosts=(), goproxy="https://proxy.golang.org")
    detection = refused.detect(root)
    assert detection is not None
    with pytest.raises(EnvironmentFailed, match="downloading the Go module's requirements"):
        refused.prepare(detection, root, ProcessSandbox(hidden=(tmp_path / "home",)),
                        tmp_path / "third" / "cache", [])  # fmt: skip
