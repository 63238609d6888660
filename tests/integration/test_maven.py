"""Java projects built by their own Maven build: real dependencies from Maven Central through
the package egress, JUnit 4, a mirror (ASSAY_MAVEN_MIRROR) served on loopback from a layout
Maven itself downloaded, and bad input (a pom that does not parse, a dependency the mirror
lacks) refused with the reason and nothing half-made left behind."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assay.runtimes import EnvironmentFailed
from assay.runtimes.java import JavaRuntime
from assay.runtimes.port import Environment
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox

USABLE, WHY = JavaRuntime().availability()
pytestmark = [
    pytest.mark.skipif(not USABLE or "Maven" not in WHY, reason=f"Maven builds: {WHY}"),
    pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", "repo.maven.apache.org"]),
]

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId><artifactId>words</artifactId><version>1.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>org.apache.commons</groupId><artifactId>commons-lang3</artifactId>
      <version>3.14.0</version></dependency>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13.2</version>
      <scope>test</scope></dependency>EXTRA
  </dependencies>
  <build><plugins>
    <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
    <plugin><artifactId>maven-surefire-plugin</artifactId><version>3.2.5</version></plugin>
  </plugins></build>
</project>
"""
WORDS = """package com.acme.text;

import org.apache.commons.lang3.StringUtils;

public class Words {
    public static String shout(String s) {
        return StringUtils.upperCase(s) + "!";
    }

    public static int count(String s) {
        if (StringUtils.isBlank(s)) {
            return 0;
        }
        return s.trim().split("\\\\s+").length;
    }
}
"""
OWN_TEST = """package com.acme.text;

import static org.junit.Assert.assertEquals;
import org.junit.Test;

public class WordsTest {
    @Test public void shouts() { assertEquals("HI!", Words.shout("hi")); }
}
"""
GENERATED = """package com.acme.text;

import static org.junit.Assert.assertEquals;
import org.junit.Test;

public class AssayWordsLlm0Test {
    @Test public void countsWords() { assertEquals(3, Words.count(" a b  c ")); }
    @Test public void blankIsNothing() { assertEquals(0, Words.count("   ")); }
    @Test public void wrongOnPurpose() { assertEquals(2, Words.count("one")); }
}
"""


def _project(where: Path, extra: str = "") -> Path:
    (where / "src/main/java/com/acme/text").mkdir(parents=True)
    (where / "src/test/java/com/acme/text").mkdir(parents=True)
    (where / "pom.xml").write_text(POM.replace("EXTRA", extra))
    (where / "src/main/java/com/acme/text/Words.java").write_text(WORDS)
    (where / "src/main/java/com/acme/text/package-info.java").write_text(
        "/** Words. */\npackage com.acme.text;\n"
    )
    (where / "src/test/java/com/acme/text/WordsTest.java").write_text(OWN_TEST)
    return where


def _envdir(env: Environment) -> Path:
    return next(p for p in env.readonly if (p / ".ready").exists())


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Environment]:
    """The project prepared once from Maven Central, through the egress."""
    root = tmp_path_factory.mktemp("maven-central")
    project = _project(root / "project")
    runtime = JavaRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    env = runtime.prepare(detection, project, ProcessSandbox(), root / "cache", [])
    return project, env


def test_a_project_with_real_dependencies_runs_its_maven_build(
    central: tuple[Path, Environment], tmp_path: Path
) -> None:
    project, env = central
    runtime = JavaRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    assert (detection.package_manager, detection.test_runner) == ("maven", "junit4")
    assert detection.modules == ["src/main/java/com/acme/text/Words.java"]  # no package-info
    assert "JUnit 4" in runtime.idioms(detection).rules
    assert any("commons" in p.name for p in (_envdir(env) / "repo" / "org" / "apache").iterdir())
    workdir = tmp_path / "run"
    shutil.copytree(project, workdir)
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    baseline = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=300))
    assert baseline.ok, baseline.output
    assert [t.test_id for t in baseline.tests] == [
        "src/test/java/com/acme/text/WordsTest.java::shouts"]  # fmt: skip
    assert baseline.coverage is not None
    words = baseline.coverage.files["src/main/java/com/acme/text/Words.java"]
    assert words.executed and words.missing  # count() is not tested yet
    path = runtime.candidate_path("src/main/java/com/acme/text/Words.java", 0, "llm", detection)
    assert path == "src/test/java/com/acme/text/AssayWordsLlm0Test.java"
    (workdir / path).write_text(GENERATED)
    run = runtime.run_tests(env, detection, workdir, [path], sandbox, limits=Limits(wall_s=300))
    assert sorted(t.outcome for t in run.tests) == ["failed", "passed", "passed"]
    (wrong,) = run.failed
    assert wrong.test_id == f"{path}::wrongOnPurpose"
    assert runtime.is_assertion_failure(wrong.error_type, wrong.message)
    assert run.coverage is not None
    assert not run.coverage.files["src/main/java/com/acme/text/Words.java"].missing_branches
    # A test that does not compile is a build failure, said so.
    (workdir / path).write_text(GENERATED.replace("Words.count", "Words.nothing"))
    broken = runtime.run_tests(env, detection, workdir, [path], sandbox, limits=Limits(wall_s=300))
    assert not broken.ok and "do not compile" in broken.reason
    assert "cannot find symbol" in broken.output


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        self.server.asked.append(self.path)  # type: ignore[attr-defined]


@pytest.fixture
def mirror(central: tuple[Path, Environment]) -> Iterator[tuple[str, list[str]]]:
    """A Maven repository on loopback: the layout Maven downloaded from Central."""
    repo = _envdir(central[1]) / "repo"
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(repo)))
    server.asked = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/", server.asked  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_the_mirror_setting_fetches_everything_from_it(
    mirror: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, asked = mirror
    project = _project(tmp_path / "project")
    runtime = JavaRuntime(package_hosts=(), maven_mirror=url)  # Central is not reachable
    detection = runtime.detect(project)
    assert detection is not None
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, project, sandbox, tmp_path / "cache", [])
    assert any("commons-lang3-3.14.0.jar" in p for p in asked)
    assert "127.0.0.1" in (_envdir(env) / "settings.xml").read_text()
    run = runtime.run_tests(env, detection, project, [], sandbox, limits=Limits(wall_s=300))
    assert run.ok, run.output
    # A dependency the mirror does not have: the reason names it, and no environment is left.
    missing = '\n    <dependency><groupId>com.acme</groupId><artifactId>nowhere</artifactId>' \
        "<version>9.9</version></dependency>"  # fmt: skip
    other = _project(tmp_path / "other", missing)
    with pytest.raises(EnvironmentFailed) as refused:
        runtime.prepare(detection, other, sandbox, tmp_path / "cache2", [])
    assert "com.acme:nowhere" in refused.value.message
    assert url.rstrip("/") in refused.value.message
    assert not (tmp_path / "cache2" / "envs").exists()


def test_a_pom_that_does_not_parse_is_refused_with_the_reason(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    (project / "pom.xml").write_text("<project><dependencies></project>")
    runtime = JavaRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    with pytest.raises(EnvironmentFailed) as refused:
        runtime.prepare(detection, project, ProcessSandbox(), tmp_path / "cache", [])
    assert "pom.xml does not parse" in refused.value.message
    assert not (tmp_path / "cache" / "envs").exists()
