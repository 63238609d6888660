"""ASSAY_CARGO_REGISTRY: a crate's dependencies vendored from a configured mirror instead of
crates.io. The air-gapped copies are laid out from a real crates.io download (the index entry
and the .crate file), then used with no registry reachable at all."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import tarfile
import urllib.request
from pathlib import Path

import pytest

from assay.runtimes.port import EnvironmentFailed
from assay.runtimes.rust import CRATES_HOSTS, RustRuntime
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox

pytestmark = pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", *CRATES_HOSTS])
USABLE, WHY = RustRuntime().availability()
VERSION = "1.0.11"  # itoa, pinned so the mirror's one version is the one resolved
CARGO_TOML = """[package]
name = "fmtnum"
version = "0.1.0"
edition = "2021"

[dependencies]
itoa = "={version}"
{more}
"""
CODE = "pub fn render(n: u64) -> String {\n    itoa::Buffer::new().format(n).to_string()\n}\n"
TEST = '#[test]\nfn renders_zero() {\n    assert_eq!(fmtnum::render(0), "0");\n}\n'


def _crate(root: Path, more: str = "") -> Path:
    files = {"Cargo.toml": CARGO_TOML.format(version=VERSION, more=more), "src/lib.rs": CODE,
             "tests/basic.rs": TEST}  # fmt: skip
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def download() -> tuple[str, bytes]:
    """itoa's index entry for VERSION and its .crate, from crates.io."""
    with urllib.request.urlopen("https://index.crates.io/it/oa/itoa", timeout=60) as response:
        lines = response.read().decode().splitlines()
    entry = next(ln for ln in lines if json.loads(ln)["vers"] == VERSION)
    url = f"https://static.crates.io/crates/itoa/itoa-{VERSION}.crate"
    with urllib.request.urlopen(url, timeout=60) as response:
        crate = response.read()
    assert hashlib.sha256(crate).hexdigest() == json.loads(entry)["cksum"]
    return entry, crate


def _local_registry(root: Path, download: tuple[str, bytes]) -> Path:
    """cargo's local-registry layout: the index as crates.io's, the .crate files beside it."""
    entry, crate = download
    (root / "index" / "it" / "oa").mkdir(parents=True)
    (root / "index" / "it" / "oa" / "itoa").write_text(entry + "\n")
    (root / f"itoa-{VERSION}.crate").write_bytes(crate)
    return root


def _directory(root: Path, download: tuple[str, bytes]) -> Path:
    """A directory of vendored crates (what `cargo vendor` leaves): each unpacked, with the
    package's checksum."""
    entry, crate = download
    with tarfile.open(fileobj=io.BytesIO(crate), mode="r:gz") as archive:
        archive.extractall(root, filter="data")
    (root / f"itoa-{VERSION}" / ".cargo-checksum.json").write_text(
        json.dumps({"files": {}, "package": json.loads(entry)["cksum"]})
    )
    return root


def _prepare(runtime: RustRuntime, root: Path, tmp_path: Path) -> Path:
    detection = runtime.detect(root)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path / "home",))
    env = runtime.prepare(detection, root, sandbox, tmp_path / "cache", [])
    (envdir,) = (tmp_path / "cache" / "envs").glob("rust-*")
    assert envdir in env.readonly
    return envdir


@pytest.mark.skipif(not USABLE, reason=f"Rust with coverage tools: {WHY}")
def test_crates_come_from_a_local_registry_with_no_registry_reachable(
    tmp_path: Path, download: tuple[str, bytes]
) -> None:
    mirror = _local_registry(tmp_path / "mirror", download)
    runtime = RustRuntime(package_hosts=(), registry=f"file://{mirror}")
    root = _crate(tmp_path / "crate")
    detection = runtime.detect(root)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path / "home",))
    env = runtime.prepare(detection, root, sandbox, tmp_path / "cache", [])
    assert list((tmp_path / "cache" / "envs").glob(f"rust-*/vendor/itoa-{VERSION}"))
    workdir = tmp_path / "run"
    shutil.copytree(root, workdir)
    run = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=300))
    assert run.ok, run.output
    assert [t.outcome for t in run.tests] == ["passed"]
    # A crate the mirror lacks: cargo's own words say which, and nothing half-written stays.
    lacking = _crate(tmp_path / "lacking", more='ryu = "1"')
    detection = runtime.detect(lacking)
    assert detection is not None
    with pytest.raises(EnvironmentFailed, match="no matching package named `ryu` found") as err:
        runtime.prepare(detection, lacking, sandbox, tmp_path / "cache2", [])
    assert str(mirror) in str(err.value) and "ASSAY_CARGO_REGISTRY" in str(err.value.fix)
    assert not list((tmp_path / "cache2" / "envs").glob("rust-*"))


@pytest.mark.skipif(not USABLE, reason=f"Rust with coverage tools: {WHY}")
def test_crates_come_from_a_directory_of_vendored_crates(
    tmp_path: Path, download: tuple[str, bytes]
) -> None:
    mirror = _directory(tmp_path / "mirror", download)
    runtime = RustRuntime(package_hosts=(), registry=str(mirror))
    envdir = _prepare(runtime, _crate(tmp_path / "crate"), tmp_path)
    assert (envdir / "vendor" / f"itoa-{VERSION}" / "src" / "lib.rs").is_file()


@pytest.mark.skipif(not USABLE, reason=f"Rust with coverage tools: {WHY}")
def test_a_registry_url_mirror_replaces_crates_io(tmp_path: Path) -> None:
    """A sparse index URL is vendored from in crates.io's place, through the egress proxy:
    with crates.io allowed but the mirror's host not, the download is refused, with the
    reason."""
    root = _crate(tmp_path / "crate")
    registry = "sparse+https://crates-mirror.invalid/index/"
    runtime = RustRuntime(package_hosts=CRATES_HOSTS, registry=registry)
    detection = runtime.detect(root)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path / "home",))
    with pytest.raises(EnvironmentFailed, match=re.escape(f"from the mirror {registry}")) as err:
        runtime.prepare(detection, root, sandbox, tmp_path / "c", [])
    assert "CONNECT tunnel failed, response 403" in str(err.value)
    assert "ASSAY_PACKAGE_HOSTS" in str(err.value.fix)
    with pytest.raises(EnvironmentFailed, match="is not a directory"):
        RustRuntime(registry=f"file://{tmp_path}/nowhere").prepare(
            detection, root, sandbox, tmp_path / "n", [])  # fmt: skip
