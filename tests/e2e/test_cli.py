"""The `assay` command as users run it: separate processes sharing one ASSAY_HOME."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ASSAY = shutil.which("assay", path=str(Path(sys.executable).parent)) or "assay"


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    environment.update({"ASSAY_HOME": str(home), **env})
    return subprocess.run(
        [ASSAY, *args], capture_output=True, text=True, env=environment, timeout=120, check=False
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


def test_version(tmp_path: Path) -> None:
    result = run(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("assay, version ")


def test_doctor_reports_every_check_as_json(tmp_path: Path) -> None:
    result = run(tmp_path / "home", "doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    names = {check["name"] for check in report["checks"]}
    assert {"profile", "data dir", "records", "artifacts", "secrets", "limits", "sandbox"} <= names
    assert "runtime python" in names
    assert report["profile"] == "local"
    assert (tmp_path / "home" / "keys" / "master.key").exists()


def test_doctor_reaches_a_real_redis(tmp_path: Path, redis_url: str) -> None:
    result = run(tmp_path, "doctor", "--json", ASSAY_REDIS_URL=redis_url)
    limits = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "limits")
    assert limits["status"] == "ok"
    assert "reachable" in limits["detail"]


def test_records_written_by_one_process_are_read_by_the_next(tmp_path: Path) -> None:
    assert run(tmp_path, "tenants", "create", "Acme Corp").returncode == 0
    created = run(
        tmp_path,
        "keys",
        "create",
        "--tenant",
        "acme-corp",
        "--name",
        "ci",
        "--scope",
        "analyses:write",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)

    tenants = json.loads(run(tmp_path, "tenants", "list", "--json").stdout)
    assert [t["slug"] for t in tenants] == ["acme-corp"]
    keys = json.loads(run(tmp_path, "keys", "list", "--tenant", "acme-corp", "--json").stdout)
    assert [k["id"] for k in keys] == [key["id"]]
    assert keys[0]["revoked_at"] is None
    assert key["key"] not in json.dumps(keys)  # listings never show the key

    assert run(tmp_path, "keys", "revoke", key["id"], "--tenant", "acme-corp").returncode == 0
    keys = json.loads(run(tmp_path, "keys", "list", "--tenant", "acme-corp", "--json").stdout)
    assert keys[0]["revoked_at"] is not None


def test_a_wrong_profile_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = run(tmp_path, "doctor", ASSAY_PROFILE="cloud")
    assert result.returncode == 1
    no_traceback(result)
    assert result.stderr.startswith("error: invalid configuration: ASSAY_PROFILE")
    assert "fix:" in result.stderr


def test_aws_profile_without_region_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ASSAY_"))}
    env.update({"ASSAY_HOME": str(tmp_path), "ASSAY_PROFILE": "aws"})
    result = subprocess.run(
        [ASSAY, "doctor"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 1
    no_traceback(result)
    assert "AWS_REGION" in result.stderr


def test_a_corrupt_database_is_reported_and_kept(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    database = tmp_path / "assay.db"
    database.write_bytes(b"garbage " * 200)
    result = run(tmp_path, "tenants", "list")
    assert result.returncode == 1
    no_traceback(result)
    assert "corrupt" in result.stderr
    assert database.read_bytes() == b"garbage " * 200
    doctor = run(tmp_path, "doctor")
    assert doctor.returncode == 1
    assert "FAIL" in doctor.stdout


def test_an_unreachable_redis_fails_doctor_clearly(tmp_path: Path) -> None:
    from tests.conftest import _free_port

    result = run(tmp_path, "doctor", ASSAY_REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    assert result.returncode == 1
    no_traceback(result)
    assert "unreachable" in result.stdout


def test_a_damaged_key_file_fails_doctor_and_is_kept(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "master.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("oops")
    result = run(tmp_path, "doctor")
    assert result.returncode == 1
    assert "damaged" in result.stdout
    assert key_file.read_text() == "oops"


@pytest.mark.parametrize(
    "args",
    [
        ["nonsense"],
        ["keys", "create", "--name", "x"],
        ["keys", "create", "--tenant", "t", "--name", "x", "--scope", "root"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = run(tmp_path, *args)
    assert result.returncode == 2
    no_traceback(result)


def test_unknown_tenant_is_exit_1(tmp_path: Path) -> None:
    result = run(tmp_path, "keys", "list", "--tenant", "nobody")
    assert result.returncode == 1
    assert "no tenant 'nobody'" in result.stderr


def test_verify_exits_0_on_good_evidence_and_1_naming_the_bad_entry(tmp_path: Path) -> None:
    from assay.evidence import EvidenceLog
    from assay.evidence.signers import LocalSigner

    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    log = EvidenceLog(out, "an1")
    log.append("intake", {"files": 1})
    log.append("report", {}, artifacts=["report.json"])
    key = tmp_path / "k.pem"
    log.seal(LocalSigner(key))

    good = run(tmp_path, "verify", str(out), "--public-key", str(key.with_suffix(".pub")))
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("verified: 2 entries")

    (out / "report.json").write_text('{"status": "forged"}')
    bad = run(tmp_path, "verify", str(out))
    assert bad.returncode == 1
    no_traceback(bad)
    assert "entry 2" in bad.stderr
    assert "report.json" in bad.stderr

    missing = run(tmp_path, "verify", str(tmp_path / "nowhere"))
    assert missing.returncode == 2


def test_analyze_usage_errors_exit_2(tmp_path: Path) -> None:
    bad_engine = run(tmp_path, "analyze", ".", "--engine", "magic")
    assert bad_engine.returncode == 2
    no_target = run(tmp_path, "analyze")
    assert no_target.returncode == 2
    no_model = run(tmp_path, "analyze", ".", "--engine", "llm", "--out", str(tmp_path / "o"))
    assert no_model.returncode == 1
    assert "needs a model" in no_model.stderr
    no_traceback(no_model)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    busy = run(tmp_path, "analyze", ".", "--out", str(tmp_path / "full"))
    assert busy.returncode == 2
    assert (tmp_path / "full" / "x").read_text() == "x"  # nothing overwritten


def test_a_target_that_cannot_be_is_a_usage_error_that_creates_nothing(tmp_path: Path) -> None:
    plain = tmp_path / "notes.txt"
    plain.write_text("not an archive")
    for target, says in ((tmp_path / "missing", "does not exist"), (plain, "not a .tar.gz")):
        out = tmp_path / "out"
        result = run(tmp_path, "analyze", str(target), "--out", str(out))
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and says in result.stderr
        no_traceback(result)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no record, no key


def test_a_failed_analysis_exits_1_measures_nothing_and_still_writes_its_report(
    tmp_path: Path,
) -> None:
    """It failed after it started (the git host does not resolve): a sealed report, exit 1,
    and no coverage it never measured. The URL's password surfaces nowhere."""
    out = tmp_path / "out"
    result = run(tmp_path, "analyze", "https://bob:s3cr3t-pw@no-such-host.invalid/org/repo.git",
                 "--engine", "offline", "--out", str(out))  # fmt: skip
    assert "s3cr3t" not in result.stdout + result.stderr
    for path in tmp_path.rglob("*"):  # records, report, evidence, events, work files
        assert not path.is_file() or b"s3cr3t" not in path.read_bytes(), path
    assert result.returncode == 1
    no_traceback(result)
    assert "coverage" not in result.stdout and "%" not in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed"
    assert "no-such-host.invalid" in report["reason"]
    assert report["coverage"]["before"]["line_pct"] is None
    assert report["coverage"]["after"]["branch_pct"] is None
    summary = (out / "summary.md").read_text()
    assert "Not measured" in summary and "100.0%" not in summary
    assert run(tmp_path, "verify", str(out)).returncode == 0


def test_hostile_targets_are_refused_by_analyze(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run(tmp_path, "analyze", "https://169.254.169.254/latest.git", "--engine",
                 "offline", "--out", str(out))  # fmt: skip
    assert result.returncode == 1
    report = json.loads((out / "report.json").read_text())
    assert "not a public address" in report["reason"]


def test_keys_mint_prints_a_valid_key_and_touches_no_store(tmp_path: Path) -> None:
    from assay.records.api_keys import is_well_formed, key_problem

    minted = run(tmp_path, "keys", "mint")
    assert minted.returncode == 0, minted.stderr
    key = minted.stdout.strip()
    assert is_well_formed(key)
    assert run(tmp_path, "keys", "mint").stdout.strip() != key
    assert list(tmp_path.iterdir()) == []  # no database, no signing key
    mistyped = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert "checksum" in (key_problem(mistyped) or "")
    assert "starts" not in (key_problem(mistyped) or "")
    assert "characters after" in (key_problem(key + "x") or "")


def test_a_multi_module_maven_build_is_refused_with_the_reason(tmp_path: Path) -> None:
    project = tmp_path / "build"
    (project / "core" / "src" / "main" / "java" / "a").mkdir(parents=True)
    (project / "core" / "src" / "main" / "java" / "a" / "A.java").write_text("class A {}\n")
    (project / "core" / "pom.xml").write_text("<project><artifactId>core</artifactId></project>")
    (project / "pom.xml").write_text(
        "<project><packaging>pom</packaging><!-- <module>old</module> -->"
        "<modules><module>core</module></modules></project>"
    )
    out = tmp_path / "out"
    result = run(tmp_path, "analyze", str(project), "--out", str(out), "--engine", "llm",
                 "--model", "openai/x", OPENAI_API_KEY="sk-x")  # fmt: skip
    assert result.returncode == 1, result.stderr
    no_traceback(result)
    said = result.stdout + result.stderr
    assert "multi-module build (core) is not supported yet" in said, said
    assert "(old" not in said
