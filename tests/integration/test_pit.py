"""PIT through the project's Maven build (its plugin from Maven Central through the package
egress at prepare, then offline in the sandbox): on a tiny project whose kept test kills the
arithmetic mutant and lets the boundary one survive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.runtimes.java import JavaRuntime
from assay.runtimes.pit import PitMutation
from assay.sandbox.process import ProcessSandbox

USABLE, WHY = JavaRuntime().availability()
pytestmark = [
    pytest.mark.skipif(not USABLE or "Maven" not in WHY, reason=f"Maven builds: {WHY}"),
    pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", "repo.maven.apache.org"]),
]

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId><artifactId>rules</artifactId><version>1.0</version>
  <properties><maven.compiler.release>17</maven.compiler.release></properties>
  <dependencies>
    <dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId>
      <version>5.10.2</version><scope>test</scope></dependency>
  </dependencies>
  <build><plugins>
    <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
    <plugin><artifactId>maven-surefire-plugin</artifactId><version>3.2.5</version></plugin>
  </plugins></build>
</project>
"""
RULES = """package com.acme;

public class Rules {
    public static boolean adult(int age) {
        return age >= 18;
    }

    public static int twice(int x) {
        return x * 2;
    }

    public static int unused(int x) {
        return x + 1;
    }
}
"""
KEPT = """package com.acme;

import static org.junit.jupiter.api.Assertions.*;
import org.junit.jupiter.api.Test;

class AssayRulesLlm0Test {
    @Test void adults() { assertTrue(Rules.adult(30)); assertFalse(Rules.adult(3)); }
    @Test void doubles() { assertEquals(6, Rules.twice(3)); }
}
"""


def test_pit_scores_the_kept_tests(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src/main/java/com/acme").mkdir(parents=True)
    (project / "pom.xml").write_text(POM)
    (project / "src/main/java/com/acme/Rules.java").write_text(RULES)
    runtime = JavaRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    tool = runtime.mutation_tool()
    assert isinstance(tool, PitMutation)
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, project, sandbox, tmp_path / "cache", tool.tools)
    assert any(t.startswith("pitest-maven") for t in env.tools)
    workdir = tmp_path / "work"
    shutil.copytree(project, workdir)
    test = "src/test/java/com/acme/AssayRulesLlm0Test.java"
    (workdir / test).parent.mkdir(parents=True)
    (workdir / test).write_text(KEPT)
    module = "src/main/java/com/acme/Rules.java"
    result = tool.run(env, detection, workdir, modules=[module], tests=[test], sandbox=sandbox,
                      budget_s=240)  # fmt: skip
    assert result.complete, result.reason
    score = result.modules[module]
    assert score.killed >= 2 and score.survived >= 1 and score.uncovered >= 1
    assert score.total == score.killed + score.survived + score.uncovered
    boundary = [s for s in score.survivors if "boundary" in s.mutant]
    assert boundary and "return age >= 18;" in boundary[0].diff
    assert not any("twice" in s.mutant for s in score.survivors)  # x * 2 -> x / 2 is caught
    assert "assay-pit" not in (project / "pom.xml").read_text()  # the user's pom is untouched


def test_without_maven_pit_says_why(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src/main/java/com/acme").mkdir(parents=True)
    (project / "build.gradle").write_text("plugins { id 'java' }\n")
    (project / "src/main/java/com/acme/Rules.java").write_text(RULES)
    runtime = JavaRuntime()
    detection = runtime.detect(project)
    assert detection is not None and detection.package_manager == "javac"
    tool = runtime.mutation_tool()
    assert tool is not None
    env = runtime.prepare(detection, project, ProcessSandbox(), tmp_path / "cache", tool.tools)
    result = tool.run(env, detection, project, modules=["src/main/java/com/acme/Rules.java"],
                      tests=[], sandbox=ProcessSandbox(), budget_s=30)  # fmt: skip
    assert not result.complete and "Maven build" in result.reason
