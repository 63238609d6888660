"""Java and Kotlin projects built by Gradle, as far as this machine allows: it reaches no Gradle
distribution (services.gradle.org and downloads.gradle.org are not package registries here, and
none of the registries it reaches ships one), so no Gradle build runs in these tests. What runs
for real: detection of Groovy and Kotlin DSL builds; the project's real Gradle wrapper (8.14.2's
gradlew and gradle-wrapper.jar, in gradle_wrapper/, as Gradle generates them into every
project) refused its distribution by the package egress, with the reason and nothing cached;
the refusals of Gradle versions Assay cannot run; a Kotlin DSL build without a wrapper or a
gradle falling back to javac as before; and Gradle's report paths read with JUnit XML and JaCoCo
XML that a real run (the javac one) wrote, whose formats are the ones Gradle writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assay.runtimes import EnvironmentFailed
from assay.runtimes.gradle import JACOCO_XML, TEST_RESULTS, GradleBuild, _jdk_major, init_script
from assay.runtimes.java import JavaRuntime
from assay.runtimes.jvm_reports import SourceIndex
from assay.runtimes.kotlin import KotlinRuntime
from assay.runtimes.maven import MAVEN_CENTRAL_HOSTS
from assay.runtimes.port import Environment, Ran
from assay.sandbox import Limits
from assay.sandbox.port import Ending, Outcome
from assay.sandbox.process import ProcessSandbox

WRAPPER = Path(__file__).parent / "gradle_wrapper"
GRADLE_HERE = shutil.which("gradle") is not None
USABLE, WHY = JavaRuntime().availability()
pytestmark = pytest.mark.skipif(not USABLE, reason=f"Java: {WHY}")

GROOVY = """plugins { id 'java' }
repositories { mavenCentral() }
dependencies {
    testImplementation platform('org.junit:junit-bom:5.10.2')
    testImplementation 'org.junit.jupiter:junit-jupiter'
    testRuntimeOnly 'org.junit.platform:junit-platform-launcher'
}
test { useJUnitPlatform() }
"""
KOTLIN_DSL = """plugins { kotlin("jvm") version "2.2.21" }
repositories { mavenCentral() }
dependencies { testImplementation("junit:junit:4.13.2") }
"""
JUNIT5_ONLY = """plugins { java }
repositories { mavenCentral() }
dependencies { testImplementation("org.junit.jupiter:junit-jupiter:5.10.2") }
tasks.test { useJUnitPlatform() }
"""
COUNTER = """package shop;

public class Counter {
    public static int clamp(int n) {
        if (n < 0) {
            return 0;
        }
        return n;
    }
}
"""
COUNTER_TEST = """package shop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import org.junit.jupiter.api.Test;

class CounterTest {
    @Test void keepsPositive() { assertEquals(3, Counter.clamp(3)); }
}
"""


def _project(where: Path, build: str, script: str, *, wrapper: str | None = None) -> Path:
    """A project with `script` as its build file, and the real Gradle wrapper for `wrapper`."""
    (where / "src/main/java/shop").mkdir(parents=True)
    (where / "src/test/java/shop").mkdir(parents=True)
    (where / build).write_text(script)
    (where / "src/main/java/shop/Counter.java").write_text(COUNTER)
    (where / "src/test/java/shop/CounterTest.java").write_text(COUNTER_TEST)
    if wrapper:
        (where / "gradle/wrapper").mkdir(parents=True)
        shutil.copy2(WRAPPER / "gradlew", where / "gradlew")
        shutil.copy2(WRAPPER / "gradle-wrapper.jar", where / "gradle/wrapper")
        (where / "gradle/wrapper/gradle-wrapper.properties").write_text(
            "distributionBase=GRADLE_USER_HOME\ndistributionPath=wrapper/dists\n"
            f"distributionUrl=https\\://services.gradle.org/distributions/gradle-{wrapper}-bin.zip"
            "\nnetworkTimeout=10000\nzipStoreBase=GRADLE_USER_HOME\nzipStorePath=wrapper/dists\n"
        )
    return where


def test_groovy_and_kotlin_dsl_builds_with_a_wrapper_are_gradle(tmp_path: Path) -> None:
    java = JavaRuntime()
    groovy = java.detect(_project(tmp_path / "groovy", "build.gradle", GROOVY, wrapper="8.14.2"))
    assert groovy is not None
    assert (groovy.package_manager, groovy.test_runner) == ("gradle", "junit5")
    assert groovy.dependency_files == ["build.gradle"]
    assert "already declares" in java.idioms(groovy).rules
    kts = _project(tmp_path / "kts", "build.gradle.kts", KOTLIN_DSL, wrapper="8.14.2")
    (kts / "src/main/kotlin/shop").mkdir(parents=True)
    (kts / "src/main/kotlin/shop/Sum.kt").write_text("package shop\n\nfun sum(a: Int) = a + 1\n")
    kotlin = KotlinRuntime().detect(kts)
    assert kotlin is not None
    assert (kotlin.package_manager, kotlin.test_runner) == ("gradle", "junit4")
    # A wrapper script without its properties is no wrapper; a pom beside wins (Maven's build).
    (kts / "gradle/wrapper/gradle-wrapper.properties").unlink()
    assert java.build_tool(kts) == ("gradle" if GRADLE_HERE else "javac")
    (tmp_path / "groovy/pom.xml").write_text("<project/>")
    assert java.build_tool(tmp_path / "groovy") in {"maven", "javac"}


def test_a_wrapper_whose_distribution_cannot_be_fetched_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path / "project", "build.gradle", GROOVY, wrapper="8.14.2")
    # The distribution's hosts are not allowed: the egress refuses them, the same everywhere.
    runtime = JavaRuntime(package_hosts=MAVEN_CENTRAL_HOSTS)
    detection = runtime.detect(project)
    assert detection is not None and detection.package_manager == "gradle"
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    with pytest.raises(EnvironmentFailed) as refused:
        runtime.prepare(detection, project, sandbox, tmp_path / "cache", [])
    said = refused.value.message
    assert "could not download its distribution" in said
    assert "services.gradle.org/distributions/gradle-8.14.2-bin.zip" in said
    assert "403" in said  # the wrapper quotes the proxy's refusal
    assert "ASSAY_PACKAGE_HOSTS" in (refused.value.fix or "")
    assert not (tmp_path / "cache" / "envs").exists()
    assert not (tmp_path / "cache" / ".gradle-prepare").exists()


def test_gradle_versions_assay_cannot_run_are_refused_before_any_download(
    tmp_path: Path,
) -> None:
    runtime = JavaRuntime()
    for version, reason in (("5.6.4", "Assay needs Gradle 6.2+"),
                            ("7.0", "does not run on this machine's JDK")):  # fmt: skip
        project = _project(tmp_path / version, "build.gradle", GROOVY, wrapper=version)
        detection = runtime.detect(project)
        assert detection is not None
        if reason.startswith("does not") and _jdk_major(runtime.jdk()) < 17:
            continue  # an older JDK runs Gradle 7.0
        with pytest.raises(EnvironmentFailed) as refused:
            runtime.prepare(detection, project, ProcessSandbox(), tmp_path / "cache", [])
        assert reason in refused.value.message
        assert not (tmp_path / "cache").exists()


@pytest.mark.skipif(GRADLE_HERE, reason="a gradle is installed here: the fallback cannot happen")
def test_a_kotlin_dsl_build_without_wrapper_or_gradle_falls_back_to_javac_and_gradle_reads_the_same_reports(  # noqa: E501
    tmp_path: Path,
) -> None:
    project = _project(tmp_path / "project", "build.gradle.kts", JUNIT5_ONLY)
    runtime = JavaRuntime()
    detection = runtime.detect(project)
    assert detection is not None
    assert (detection.package_manager, detection.test_runner) == ("javac", "junit5")
    sandbox = ProcessSandbox(hidden=(tmp_path,))
    env = runtime.prepare(detection, project, sandbox, tmp_path / "cache", [])
    run = runtime.run_tests(env, detection, project, [], sandbox, limits=Limits(wall_s=300))
    assert run.ok, run.output
    assert [t.test_id for t in run.tests] == [
        "src/test/java/shop/CounterTest.java::keepsPositive()"
    ]
    assert run.coverage is not None
    # The same JUnit XML and JaCoCo XML at the paths Gradle's test and jacocoTestReport tasks
    # write them (the formats are the same): Gradle's reader finds the same tests and lines.
    gradle_dir = tmp_path / "as-gradle"
    shutil.copytree(project / "src", gradle_dir / "src")
    (gradle_dir / TEST_RESULTS).mkdir(parents=True)
    (gradle_dir / JACOCO_XML).parent.mkdir(parents=True)
    shutil.copy(project / ".assay/junit/TEST-junit-jupiter.xml", gradle_dir / TEST_RESULTS)
    shutil.copy(project / ".assay/jacoco.xml", gradle_dir / JACOCO_XML)
    index = SourceIndex(["src/main/java/shop/Counter.java", "src/test/java/shop/CounterTest.java"],
                        "src/main/java")  # fmt: skip
    # The javac run's sandbox outcome is not kept on its TestRun; it ended well.
    ended = Outcome(ending=Ending.EXITED, exit_code=0, reason="exited", stdout="", stderr="",
                    duration_s=run.duration_s)  # fmt: skip
    ran = Ran(workdir=gradle_dir, tests=[], code=0, outcome=ended, output="")
    read = GradleBuild().read_results(ran, index)
    assert read.ok and read.reason == "all tests passed"
    assert [t.test_id for t in read.tests] == [t.test_id for t in run.tests]
    assert read.coverage is not None
    counter = "src/main/java/shop/Counter.java"
    assert read.coverage.files[counter].missing == run.coverage.files[counter].missing
    assert read.coverage.files[counter].missing  # clamp's negative branch is not tested
    # A report planted as a link is not read; no report at all is no test.
    shutil.rmtree(gradle_dir / TEST_RESULTS)
    (gradle_dir / TEST_RESULTS).symlink_to(project / ".assay/junit")
    assert not GradleBuild().read_results(ran, index).tests


def test_the_offline_run_command_and_the_init_script(tmp_path: Path) -> None:
    """The run a prepared environment gets (its launcher and cache as prepare leaves them)."""
    envdir = tmp_path / "cache/envs/gradle-k"
    (envdir / "home/caches/modules-2").mkdir(parents=True)
    launcher = envdir / "home/dist/gradle-8.14.2/bin/gradle"
    (envdir / ".ready").write_text(json.dumps({"gradle": str(launcher), "version": "8.14.2"}))
    jdk = JavaRuntime().jdk()
    env = Environment(interpreter=jdk / "bin/java", readonly=[jdk, envdir], key="k", tools=[])
    project = _project(tmp_path / "p", "build.gradle", GROOVY, wrapper="8.14.2")
    detection = JavaRuntime().detect(project)
    assert detection is not None
    tests = ["src/test/java/shop/CounterTest.java", "src/test/java/shop/AssayCounterLlm0Test.java"]
    commands = GradleBuild().commands(env, detection, project, tests, limits=Limits(),
                                      collect_only=False)  # fmt: skip
    script = commands.steps[0]["argv"][-1]
    assert script.startswith(f"rm -rf {TEST_RESULTS} build/reports/jacoco/test; '{launcher}'")
    for flag in ("'--offline'", "'--no-daemon'", f"'-I' '{envdir}/init.gradle'", "'test'",
                 "'--tests' 'shop.AssayCounterLlm0Test' '--tests' 'shop.CounterTest'"):  # fmt: skip
        assert flag in script
    assert commands.env["GRADLE_RO_DEP_CACHE"] == str(envdir / "home/caches")
    assert commands.env["GRADLE_USER_HOME"] == str(project / ".assay/gradle-home")
    check = GradleBuild().commands(env, detection, project, [], limits=Limits(), collect_only=True)
    assert "'testClasses'" in check.steps[0]["argv"][-1]
    # The mirror's credentials reach prepare's init script only; runs keep a placeholder.
    mirror = "https://bot:s3cret@repo.example.com/maven"
    assert "s3cret" in init_script(mirror, credentials=True)
    assert "s3cret" not in init_script(mirror, credentials=False)
    assert "https://repo.example.com/maven" in init_script(mirror, credentials=False)
    assert "assayMirror" not in init_script("", credentials=True)
