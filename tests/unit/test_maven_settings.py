"""How prepare reaches ASSAY_MAVEN_MIRROR, and what of its credentials each job sees."""

from __future__ import annotations

from assay.config import load_settings
from assay.runtimes.maven import mirror_route, settings_xml

HOSTS = ("repo.maven.apache.org",)


def test_an_https_mirror_goes_through_the_egress_and_others_directly() -> None:
    assert mirror_route("", HOSTS) == (False, HOSTS)
    assert mirror_route("file:///srv/m2", HOSTS) == (False, HOSTS)
    assert mirror_route("https://u:t@nexus.corp/repo", HOSTS) == (False, (*HOSTS, "nexus.corp"))
    assert mirror_route("https://nexus.corp:8443/repo", HOSTS) == (True, HOSTS)
    assert mirror_route("http://127.0.0.1:8081/repo", HOSTS) == (True, HOSTS)
    assert mirror_route("https://nexus.corp:notaport/", HOSTS) == (True, HOSTS)


def test_only_prepare_sees_the_mirror_credentials() -> None:
    mirror = "https://reader:s%26cret@nexus.corp/repo"
    prepare = settings_xml(mirror, proxy=True, credentials=True)
    run = settings_xml(mirror, proxy=False, credentials=False)
    assert "<password>s&amp;cret</password>" in prepare and "127.0.0.1" in prepare
    assert "cret" not in run and "reader" not in run and "<proxies>" not in run
    assert "<url>https://nexus.corp/repo</url>" in run  # the same mirror id and URL offline


def test_the_mirror_setting_is_a_secret() -> None:
    settings = load_settings(maven_mirror="https://reader:s3cr3tvalue@nexus.corp/repo")
    assert "s3cr3tvalue" not in repr(settings) and "s3cr3tvalue" not in str(settings.model_dump())
    assert settings.maven_mirror_url == "https://reader:s3cr3tvalue@nexus.corp/repo"
