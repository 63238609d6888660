"""The evidence log: what it records, and that every kind of tampering is caught."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from assay.evidence import EvidenceLog, verify_dir
from assay.evidence.canonical import canonical
from assay.evidence.log import CHECKPOINT_FILE, LOG_FILE
from assay.evidence.signers import KmsSigner, LocalSigner
from tests.conftest import REGION


def _sealed(root: Path, key_file: Path, report: str = '{"status": "succeeded"}') -> EvidenceLog:
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_a.py").write_text("def test_a():\n    assert True\n")
    (root / "report.json").write_text(report)
    log = EvidenceLog(root, "an1")
    log.append("intake", {"source": "/src", "files": 3})
    log.append("generate", {"candidates": 1}, artifacts=["tests/test_a.py"])
    log.append("report", {"kept": 1}, artifacts=["report.json"])
    log.seal(LocalSigner(key_file))
    return log


def _lines(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (root / LOG_FILE).read_text().splitlines()]


def _write(root: Path, lines: list[dict[str, object]]) -> None:
    (root / LOG_FILE).write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path]:
    root, key = tmp_path / "out", tmp_path / "keys" / "evidence.pem"
    _sealed(root, key)
    return root, key


def test_an_untouched_log_verifies_with_the_signers_public_key(sealed: tuple[Path, Path]) -> None:
    root, key = sealed
    public = key.with_suffix(".pub").read_text()
    verdict = verify_dir(root, public)
    assert verdict.ok
    assert verdict.entries == 3
    assert verdict.trusted_key
    assert verify_dir(root).ok  # with the key recorded in the log
    assert not verify_dir(root).trusted_key


def test_entries_link_each_to_the_one_before(sealed: tuple[Path, Path]) -> None:
    lines = _lines(sealed[0])
    assert lines[0]["prev"] == "0" * 64
    assert lines[1]["prev"] == lines[0]["hash"]
    assert lines[2]["prev"] == lines[1]["hash"]


def test_an_edited_payload_is_caught(sealed: tuple[Path, Path]) -> None:
    root, _ = sealed
    lines = _lines(root)
    lines[1]["payload"] = {"candidates": 99}
    _write(root, lines)
    verdict = verify_dir(root)
    assert not verdict.ok
    assert verdict.bad_entry == 2


def test_an_edited_entry_with_a_recomputed_digest_is_caught(sealed: tuple[Path, Path]) -> None:
    from assay.evidence.canonical import digest

    root, _ = sealed
    lines = _lines(root)
    lines[0]["payload"] = {"source": "/elsewhere", "files": 3}
    lines[0]["payload_digest"] = digest(canonical(lines[0]["payload"]))
    _write(root, lines)
    verdict = verify_dir(root)
    assert verdict.bad_entry == 1
    assert verdict.reason is not None
    assert "hash" in verdict.reason


def test_a_removed_entry_is_caught(sealed: tuple[Path, Path]) -> None:
    root, _ = sealed
    lines = _lines(root)
    _write(root, [lines[0], lines[2]])
    verdict = verify_dir(root)
    assert not verdict.ok
    assert verdict.bad_entry == 2


def test_a_truncated_log_is_caught_by_the_checkpoint(sealed: tuple[Path, Path]) -> None:
    root, _ = sealed
    _write(root, _lines(root)[:2])
    verdict = verify_dir(root)
    assert not verdict.ok
    assert verdict.reason is not None
    assert "checkpoint" in verdict.reason


def test_a_changed_artifact_is_caught(sealed: tuple[Path, Path]) -> None:
    root, _ = sealed
    (root / "tests" / "test_a.py").write_text("def test_a():\n    assert False\n")
    verdict = verify_dir(root)
    assert verdict.bad_entry == 2
    assert "tests/test_a.py" in (verdict.reason or "")


def test_a_missing_artifact_is_caught(sealed: tuple[Path, Path]) -> None:
    root, _ = sealed
    (root / "report.json").unlink()
    assert verify_dir(root).bad_entry == 3


def test_a_wrong_key_is_caught(sealed: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = sealed
    other = LocalSigner(tmp_path / "other" / "key.pem")
    verdict = verify_dir(root, other.public_key_pem())
    assert not verdict.ok
    assert "signature" in (verdict.reason or "")


def test_a_forged_log_signed_by_another_key_fails_against_the_pinned_key(
    sealed: tuple[Path, Path], tmp_path: Path
) -> None:
    """Whoever rewrites a log can re-sign it, but not with our key: pinning catches it."""
    _, key = sealed
    forged = tmp_path / "forged"
    _sealed(forged, tmp_path / "attacker.pem")
    assert verify_dir(forged).ok  # self-consistent...
    assert not verify_dir(forged, key.with_suffix(".pub").read_text()).ok  # ...but not ours


def test_missing_files_are_reported(tmp_path: Path) -> None:
    assert "no evidence log" in (verify_dir(tmp_path).reason or "")
    (tmp_path / "evidence").mkdir()
    (tmp_path / LOG_FILE).write_text("")
    assert "checkpoint" in (verify_dir(tmp_path).reason or "")


def test_a_kms_signed_checkpoint_verifies_offline(aws: None, tmp_path: Path) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    root = tmp_path / "out"
    root.mkdir()
    log = EvidenceLog(root, "an2")
    log.append("intake", {"x": 1})
    signer = KmsSigner(key_id, kms)
    log.seal(signer)
    assert json.loads((root / CHECKPOINT_FILE).read_text())["signature"]["algorithm"] == (
        "ecdsa-p256-sha256"
    )
    assert verify_dir(root, signer.public_key_pem()).ok


def test_a_reopened_log_continues_the_chain_and_verifies(tmp_path: Path) -> None:
    root, key = tmp_path / "out", tmp_path / "keys" / "evidence.pem"
    log = EvidenceLog(root, "an1")
    log.append("intake", {"files": 3})
    log.append("plan", {"count": 1})
    with (root / LOG_FILE).open("a") as torn:  # the process died mid-write
        torn.write('{"seq": 3, "type": "gener')
    again = EvidenceLog.reopen(root, "an1")
    assert [e.type for e in again.entries] == ["intake", "plan"]
    again.append("resume", {"from": "Candidates"})
    again.seal(LocalSigner(key))
    verdict = verify_dir(root, key.with_suffix(".pub").read_text())
    assert verdict.ok, verdict
    assert verdict.entries == 3


def test_a_broken_chain_is_not_reopened(tmp_path: Path) -> None:
    root = tmp_path / "out"
    log = EvidenceLog(root, "an1")
    log.append("intake", {"files": 3})
    log.append("plan", {"count": 1})
    lines = _lines(root)
    lines[1]["prev"] = "f" * 64
    _write(root, lines)
    with pytest.raises(ValueError, match="line 2"):
        EvidenceLog.reopen(root, "an1")


def _checkpoint(root: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((root / CHECKPOINT_FILE).read_text())
    return loaded


def _put_checkpoint(root: Path, checkpoint: dict[str, Any]) -> None:
    (root / CHECKPOINT_FILE).write_text(json.dumps(checkpoint))


def _a_moment_later(stamp: str) -> str:
    """The same signing time plus one millisecond: still after the log's end and not in the
    future, so only the signature can catch it (editing the digits could leave it equal)."""
    later = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return later.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("analysis_id", lambda c: c.update(analysis_id="an9")),
        ("signed_at", lambda c: c.update(signed_at="2020-01-01T00:00:00Z")),
        ("signed_at", lambda c: c.update(signed_at="2099-01-01T00:00:00Z")),
        ("signed_at", lambda c: c.update(signed_at=_a_moment_later(c["signed_at"]))),
        ("algorithm", lambda c: c["signature"].update(algorithm="ecdsa-p256-sha256")),
        ("key_id", lambda c: c["signature"].update(key_id="0123456789abcdef")),
        ("format", lambda c: c.pop("format")),  # passed off as the weaker format 1
        ("head", lambda c: c.update(head="f" * 64)),
        ("count", lambda c: c.update(count=2)),
        ("signature value", lambda c: c["signature"].update(value=c["signature"]["value"][::-1])),
    ],
)
def test_every_field_of_the_checkpoint_is_attested(
    sealed: tuple[Path, Path], field: str, change: Callable[[dict[str, Any]], None]
) -> None:
    root, key = sealed
    (root / "report.json").write_text('{"analysis_id": "an1"}')
    _sealed_again(root, key)
    checkpoint = _checkpoint(root)
    assert checkpoint["format"] == 2
    change(checkpoint)
    _put_checkpoint(root, checkpoint)
    for pinned in (None, key.with_suffix(".pub").read_text()):
        verdict = verify_dir(root, pinned)
        assert not verdict.ok
        named = {"head": "the log does not end", "count": "the log does not end"}
        assert named.get(field, field) in (verdict.reason or ""), verdict.reason


def _sealed_again(root: Path, key: Path) -> None:
    """Re-seal after report.json changed: its digest is in the log, so rebuild the log."""
    import shutil

    shutil.rmtree(root)
    _sealed(root, key, report='{"analysis_id": "an1"}')


def test_a_checkpoint_of_the_old_format_verifies_and_says_what_it_did_not_cover(
    sealed: tuple[Path, Path],
) -> None:
    root, key = sealed
    checkpoint = _checkpoint(root)
    old = {k: v for k, v in checkpoint.items() if k != "format"}
    message = canonical(
        {"analysis_id": old["analysis_id"], "count": old["count"], "head": old["head"]}
    )
    old["signature"] = LocalSigner(key).sign(message).model_dump()
    _put_checkpoint(root, old)
    verdict = verify_dir(root, key.with_suffix(".pub").read_text())
    assert verdict.ok, verdict.reason
    assert verdict.checkpoint_format == 1
    assert verdict.unsigned_fields == ["format", "signed_at", "algorithm", "key_id"]
    assert "signed_at" in verdict.notes[0]
    old["signed_at"] = "2021-06-01T00:00:00Z"  # not attested by format 1, but still bounded
    _put_checkpoint(root, old)
    assert "signed_at" in (verify_dir(root).reason or "")


def test_hostile_evidence_fails_closed_and_never_crashes(sealed: tuple[Path, Path]) -> None:
    root, _ = sealed
    lines = _lines(root)
    lines[0]["at"] = "2026-01-01T00:00:00"  # no time zone (the chain is broken too)
    _write(root, lines)
    assert not verify_dir(root).ok
    (root / LOG_FILE).write_bytes(b"\xff\xfe not text")
    assert not verify_dir(root).ok
    checkpoint = _checkpoint(root)
    checkpoint["signature"]["public_key_pem"] = "not a key"
    _put_checkpoint(root, checkpoint)
    assert not verify_dir(root, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok
