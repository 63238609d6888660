from __future__ import annotations

from pathlib import Path

import pytest

from assay.config import Profile, Settings, load_settings
from assay.errors import ConfigError

AWS_ENV = {
    "ASSAY_PROFILE": "aws",
    "AWS_REGION": "eu-central-1",
    "ASSAY_ARTIFACTS_BUCKET": "bucket",
    "ASSAY_KMS_KEY_ID": "alias/assay",
    "ASSAY_REDIS_URL": "rediss://cache:6379/0",
}


def test_defaults_are_the_local_profile_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    settings = load_settings()
    assert settings.profile is Profile.LOCAL
    assert settings.home == Path("/home/someone/.assay")
    assert settings.database_path == Path("/home/someone/.assay/assay.db")
    assert settings.key_file == Path("/home/someone/.assay/keys/master.key")
    assert settings.redis_url is None


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path))
    monkeypatch.setenv("ASSAY_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.home == tmp_path
    assert settings.log_level == "DEBUG"


def test_a_wrong_profile_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_PROFILE", "cloud")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "ASSAY_PROFILE" in caught.value.message
    assert "'local' or 'aws'" in caught.value.message


def test_aws_profile_needs_a_region_and_its_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("ASSAY_PROFILE", "aws")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.message
    for name in ("AWS_REGION", "ASSAY_ARTIFACTS_BUCKET", "ASSAY_KMS_KEY_ID", "ASSAY_REDIS_URL"):
        assert name in message


def test_aws_profile_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.profile is Profile.AWS
    assert settings.aws_region == "eu-central-1"


def test_region_falls_back_to_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert load_settings().aws_region == "us-west-2"


def test_bad_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match="ASSAY_LOG_LEVEL"):
        load_settings()


def test_readme_lists_every_setting() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        assert f"`ASSAY_{name.upper()}`" in readme, f"README's settings table lacks {name}"
        assert field.description, f"{name} has no description"


def test_yaml_config_files_carry_settings_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "assay.yaml"
    config.write_text("settings:\n  ASSAY_RERUNS: 5\n  ASSAY_REPAIR_TURNS: 4\nmodel_list: []\n")
    monkeypatch.setenv("ASSAY_REPAIR_TURNS", "1")
    loaded = load_settings(config_file=config)
    assert (loaded.reruns, loaded.repair_turns) == (5, 1)
    config.write_text("settings:\n  ASSAY_RERUN: 5\n")
    with pytest.raises(ConfigError, match="unknown settings ASSAY_RERUN"):
        load_settings(config_file=config)
    config.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(config_file=config)
