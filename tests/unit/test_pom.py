"""Reading a pom as Maven does: JaCoCo's attachment and Assay's PIT profile, where a
substring search was fooled by comments, pluginManagement and plugin configurations."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from assay.runtimes.maven import MavenBuild
from assay.runtimes.pit import PROFILE, with_profile
from assay.runtimes.pom import jacoco_attachment

JACOCO = """<plugin><groupId>org.jacoco</groupId><artifactId>jacoco-maven-plugin</artifactId>
<version>0.8.11</version>{executions}</plugin>"""
AGENT = "<executions><execution><goals><goal>prepare-agent</goal></goals></execution></executions>"


def _pom(build: str = "", extra: str = "") -> str:
    return (f'<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0'
            f"</modelVersion>{extra}<build>{build}</build></project>")  # fmt: skip


@pytest.mark.parametrize(
    ("pom", "attached"),
    [
        (_pom(f"<plugins>{JACOCO.format(executions=AGENT)}</plugins>"), "agent"),
        (_pom(f"<plugins>{JACOCO.format(executions='')}</plugins>"), "plugin"),
        (
            _pom(
                f"<pluginManagement><plugins>{JACOCO.format(executions=AGENT)}</plugins>"
                "</pluginManagement>"
            ),
            "none",
        ),
        (_pom(f"<!-- {JACOCO.format(executions=AGENT)} -->"), "none"),
        (
            _pom(
                extra=f"<profiles><profile><id>cov</id><build><plugins>"
                f"{JACOCO.format(executions=AGENT)}</plugins></build></profile></profiles>"
            ),
            "none",
        ),
        ("not xml", "none"),
    ],
)
def test_jacoco_is_attached_only_by_the_build_itself(pom: str, attached: str) -> None:
    assert jacoco_attachment(pom) == attached
    goals = MavenBuild.goals(pom)
    if attached == "agent":
        assert not any("prepare-agent" in g for g in goals) and "jacoco:report" in goals
    elif attached == "plugin":
        assert "jacoco:prepare-agent" in goals
    else:
        assert "org.jacoco:jacoco-maven-plugin:0.8.12:prepare-agent" in goals


def _profiles(pom: str) -> list[str]:
    project = ElementTree.fromstring(pom)
    tops = [c for c in project if c.tag.endswith("profiles")]
    assert len(tops) == 1
    return [p.findtext("{*}id") or p.findtext("id") or "" for p in tops[0]]


def test_the_pit_profile_goes_in_the_top_level_profiles() -> None:
    spring = _pom(
        "<plugins><plugin><artifactId>spring-boot-maven-plugin</artifactId><configuration>"
        "<profiles><profile>local</profile></profiles></configuration></plugin></plugins>",
        extra="<!-- <profiles></profiles> -->",
    )
    assert _profiles(with_profile(spring, "junit5")) == [PROFILE]
    own = _pom(extra="<profiles><profile><id>release</id></profile></profiles>")
    assert _profiles(with_profile(own, "junit4")) == [PROFILE, "release"]
    with pytest.raises(ValueError, match="no root element"):
        with_profile("<!-- nothing -->", "junit5")
