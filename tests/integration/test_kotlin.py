"""Kotlin through the project's own Maven build (kotlin-maven-plugin, kotlin.test with JUnit 5,
from Maven Central through the package egress): detection, a baseline with JaCoCo coverage of
the .kt sources, a generated test class with a failing test pruned, and an LLM analysis against
a scripted model server that keeps a Kotlin test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assay.runtimes.kotlin import KotlinRuntime
from assay.runtimes.port import Environment
from assay.sandbox import Limits
from assay.sandbox.process import ProcessSandbox
from tests.support.analysis import analyze_with_script

USABLE, WHY = KotlinRuntime().availability()
pytestmark = [
    pytest.mark.skipif(not USABLE, reason=f"Kotlin: {WHY}"),
    pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost", "repo.maven.apache.org"]),
]

POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.acme</groupId><artifactId>temperatures</artifactId><version>1.0</version>
  <properties>
    <kotlin.version>2.2.21</kotlin.version>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>org.jetbrains.kotlin</groupId><artifactId>kotlin-stdlib</artifactId>
      <version>${kotlin.version}</version></dependency>
    <dependency><groupId>org.jetbrains.kotlin</groupId><artifactId>kotlin-test-junit5</artifactId>
      <version>${kotlin.version}</version><scope>test</scope></dependency>
  </dependencies>
  <build>
    <sourceDirectory>src/main/kotlin</sourceDirectory>
    <testSourceDirectory>src/test/kotlin</testSourceDirectory>
    <plugins>
      <plugin><groupId>org.jetbrains.kotlin</groupId><artifactId>kotlin-maven-plugin</artifactId>
        <version>${kotlin.version}</version>
        <executions>
          <execution><id>compile</id><goals><goal>compile</goal></goals></execution>
          <execution><id>test-compile</id><goals><goal>test-compile</goal></goals></execution>
        </executions>
        <configuration><jvmTarget>17</jvmTarget></configuration>
      </plugin>
      <plugin><artifactId>maven-surefire-plugin</artifactId><version>3.2.5</version></plugin>
    </plugins>
  </build>
</project>
"""
SOURCE = """package com.acme.weather

data class Reading(val celsius: Double)

object Temperatures {
    fun toFahrenheit(celsius: Double): Double = celsius * 9 / 5 + 32

    fun describe(reading: Reading): String {
        if (reading.celsius < 0) {
            return "freezing"
        }
        return if (reading.celsius > 30) "hot" else "mild"
    }
}
"""
OWN_TEST = """package com.acme.weather

import kotlin.test.Test
import kotlin.test.assertEquals

class TemperaturesTest {
    @Test
    fun boiling() {
        assertEquals(212.0, Temperatures.toFahrenheit(100.0))
    }
}
"""
GENERATED = """```kotlin
package com.acme.weather

import kotlin.test.Test
import kotlin.test.assertEquals

class DescribeTest {
    @Test
    fun `below zero is freezing`() {
        assertEquals("freezing", Temperatures.describe(Reading(-5.0)))
    }

    @Test
    fun `hot and mild`() {
        assertEquals("hot", Temperatures.describe(Reading(31.0)))
        assertEquals("mild", Temperatures.describe(Reading(20.0)))
    }

    @Test
    fun wrongOnPurpose() {
        assertEquals("hot", Temperatures.describe(Reading(30.0)))
    }
}
```
"""


def _project(where: Path) -> Path:
    (where / "src/main/kotlin/com/acme/weather").mkdir(parents=True)
    (where / "src/test/kotlin/com/acme/weather").mkdir(parents=True)
    (where / "pom.xml").write_text(POM)
    (where / "src/main/kotlin/com/acme/weather/Temperatures.kt").write_text(SOURCE)
    (where / "src/test/kotlin/com/acme/weather/TemperaturesTest.kt").write_text(OWN_TEST)
    return where


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Environment]:
    """Prepared once, in the cache of the Assay home the analysis below uses."""
    root = tmp_path_factory.mktemp("kotlin")
    project = _project(root / "project")
    runtime = KotlinRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    cache = root / "home" / "cache"
    return project, runtime.prepare(detection, project, ProcessSandbox(), cache, [])


def test_a_kotlin_project_runs_its_maven_build(
    prepared: tuple[Path, Environment], tmp_path: Path
) -> None:
    project, env = prepared
    runtime = KotlinRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    assert (detection.language, detection.package_manager) == ("kotlin", "maven")
    assert detection.modules == ["src/main/kotlin/com/acme/weather/Temperatures.kt"]
    assert detection.test_files == ["src/test/kotlin/com/acme/weather/TemperaturesTest.kt"]
    assert [name for name, _, _ in runtime.functions(SOURCE)] == [
        "Temperatures.toFahrenheit", "Temperatures.describe"]  # fmt: skip
    module = detection.modules[0]
    path = runtime.candidate_path(module, 0, "llm", detection)
    assert path == "src/test/kotlin/com/acme/weather/AssayTemperaturesLlm0Test.kt"
    assert runtime.import_hint(module, detection) == "com.acme.weather.Temperatures"
    code = runtime.place(GENERATED.split("```kotlin\n")[1].split("```", maxsplit=1)[0], path)
    assert "class AssayTemperaturesLlm0Test {" in code
    workdir = tmp_path / "run"
    shutil.copytree(project, workdir)
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    baseline = runtime.run_tests(env, detection, workdir, [], sandbox, limits=Limits(wall_s=300))
    assert baseline.ok, baseline.output
    assert [t.test_id for t in baseline.tests] == [
        "src/test/kotlin/com/acme/weather/TemperaturesTest.kt::boiling"]  # fmt: skip
    assert baseline.coverage is not None
    before = baseline.coverage.files[module]
    assert before.missing and before.missing_branches  # describe() is untested
    (workdir / path).write_text(code)
    run = runtime.run_tests(env, detection, workdir, [path], sandbox, limits=Limits(wall_s=300))
    (wrong,) = run.failed
    assert wrong.test_id == f"{path}::wrongOnPurpose"
    assert runtime.is_assertion_failure(wrong.error_type, wrong.message)
    assert {t.test_id.split("::")[1] for t in run.passed} == {
        "below zero is freezing", "hot and mild"}  # fmt: skip
    pruned = runtime.prune(code, {"wrongOnPurpose", "below zero is freezing"})
    assert pruned is not None
    assert "wrongOnPurpose" not in pruned and "below zero" not in pruned
    assert "hot and mild" in pruned


def test_an_llm_analysis_of_a_kotlin_project(
    prepared: tuple[Path, Environment], tmp_path: Path
) -> None:
    project, _ = prepared
    report, _ = analyze_with_script(
        project, [("Temperatures.kt", GENERATED)], project.parent / "home", tmp_path / "out",
        test_timeout_s=300,
    )  # fmt: skip
    assert report["status"] == "succeeded", report["reason"]
    assert report["language"] == "kotlin"
    kept = [t for t in report["tests"] if t["status"] == "kept"]
    assert [Path(t["path"]).suffix for t in kept] == [".kt"]
    assert report["coverage"]["after"]["branch_pct"] > report["coverage"]["before"]["branch_pct"]
    (finding,) = report["findings"]
    assert finding["test_id"].endswith("::wrongOnPurpose")
