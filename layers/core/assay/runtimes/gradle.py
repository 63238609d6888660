"""The project's own Gradle build (Groovy or Kotlin DSL), in the sandbox, through the project's
wrapper where it has one (else the machine's `gradle`).

Prepare runs the build once online through the package egress (Gradle reads its proxy from
`systemProp.https.proxyHost` in GRADLE_USER_HOME's gradle.properties, not from HTTPS_PROXY),
with GRADLE_USER_HOME in the job's own folder: the wrapper fetches its distribution, and the
`test` task run against a one-test probe fetches every plugin, dependency and the test
framework's launcher, plus JaCoCo, which Assay's init script applies. What it fetched is kept
per build (`cache/envs/gradle-<key>`): the distribution, and `caches/modules-2`, made a
read-only dependency cache as Gradle documents it (no lock files, no gc.properties). Test runs
are `--offline --no-daemon` with that cache as GRADLE_RO_DEP_CACHE (Gradle 6.2+) and a fresh
writable GRADLE_USER_HOME of their own, since Gradle writes there even offline. ASSAY_MAVEN_MIRROR
redirects every repository (plugins' too) to the mirror, as it does for Maven.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from assay.runtimes import sandboxed
from assay.runtimes.jvm_reports import SourceIndex, build_run, junit_reports, test_class_name
from assay.runtimes.maven import (
    ADDRESS_SPACE_MB,
    MAVEN_CENTRAL_HOSTS,
    PROCESSES,
    _split_userinfo,
    mirror_route,
    probe_test,
)
from assay.runtimes.port import (
    Commands,
    Detection,
    Environment,
    EnvironmentFailed,
    Ran,
    TestRun,
    unavailable,
)
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Sandbox
from assay.sandbox.egress import BRIDGE_PORT

# Where the wrapper's distribution comes from (services.gradle.org redirects to downloads),
# and the plugin portal with the host it redirects artifacts to.
GRADLE_HOSTS = ("services.gradle.org", "downloads.gradle.org", "plugins.gradle.org",
                "plugins-artifacts.gradle.org")  # fmt: skip
JACOCO_VERSION = "0.8.12"
WRAPPER = "gradle/wrapper/gradle-wrapper.properties"
BUILD_FILES = ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts",
               "gradle.properties", "gradle/libs.versions.toml", WRAPPER)  # fmt: skip
# GRADLE_RO_DEP_CACHE, which the offline runs rely on, came with Gradle 6.2.
OLDEST = (6, 2)
# The oldest Gradle that runs on a JDK (Gradle's compatibility matrix).
RUNS_ON = {16: (7, 0), 17: (7, 3), 18: (7, 5), 19: (7, 6), 20: (8, 3), 21: (8, 5), 22: (8, 8),
           23: (8, 10), 24: (8, 14)}  # fmt: skip
TEST_RESULTS = "build/test-results/test"
JACOCO_XML = "build/reports/jacoco/test/jacocoTestReport.xml"
_VERSION = re.compile(r"gradle-(\d+(?:\.\d+)+(?:-[\w.]+)?)-(?:bin|all)\.zip")


def is_gradle_build(root: Path) -> bool:
    return (root / "build.gradle").is_file() or (root / "build.gradle.kts").is_file()


def has_wrapper(root: Path) -> bool:
    return (root / "gradlew").is_file() and (root / WRAPPER).is_file()


def distribution_url(root: Path) -> str:
    """The wrapper's distributionUrl (a properties value: `https\\://...`)."""
    text = (root / WRAPPER).read_text(errors="replace")
    found = re.search(r"^\s*distributionUrl\s*[=:]\s*(\S+)", text, re.MULTILINE)
    return found.group(1).replace("\\:", ":").replace("\\=", "=") if found else ""


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("-", maxsplit=1)[0])[:3])


def init_script(mirror: str, *, credentials: bool) -> str:
    """Assay's init script: JaCoCo on every JVM project (the project's own settings win), its
    XML report after the tests, failing tests not failing the build, tests always run; and,
    with a mirror, every repository redirected to it. Runs keep the mirror's credentials block
    with a placeholder password, so offline Gradle finds what prepare cached for it."""
    url, user, password = _split_userinfo(mirror) if mirror else ("", "", "")
    if user and not credentials:
        password = "assay-offline"  # noqa: S105 - not a secret: runs never reach the mirror
    login = (f"credentials {{ username = {_groovy(user)}; password = {_groovy(password)} }}"
             if user else "")  # fmt: skip
    redirect = f"""
def assayRedirect = {{ handler ->
    handler.all {{ repo ->
        if (repo.name != 'assayMirror' && repo.hasProperty('url')
                && !String.valueOf(repo.url).startsWith('file:')) {{
            handler.remove(repo)
        }}
    }}
    handler.maven {{ name = 'assayMirror'; url = {_groovy(url)}; {login} }}
}}
beforeSettings {{ settings ->
    assayRedirect(settings.pluginManagement.repositories)
    if (settings.hasProperty('dependencyResolutionManagement')) {{
        assayRedirect(settings.dependencyResolutionManagement.repositories)
    }}
}}
allprojects {{ p ->
    assayRedirect(p.buildscript.repositories)
    assayRedirect(p.repositories)
}}
"""
    return f"""// Assay's init script (see assay/runtimes/gradle.py)
allprojects {{ p ->
    p.plugins.withId('java') {{
        if (!p.plugins.hasPlugin('jacoco')) {{
            p.apply plugin: 'jacoco'
            p.jacoco.toolVersion = '{JACOCO_VERSION}'
        }}
        p.tasks.named('test').configure {{ t ->
            t.ignoreFailures = true
            t.filter.failOnNoMatchingTests = false
            t.outputs.upToDateWhen {{ false }}
            t.finalizedBy 'jacocoTestReport'
        }}
        p.tasks.named('jacocoTestReport').configure {{ r ->
            r.reports.xml.required.set(true)
            r.reports.html.required.set(false)
        }}
    }}
}}
{redirect if mirror else ""}"""


def _groovy(text: str) -> str:
    """A single-quoted Groovy string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class GradleBuild:
    """Prepare and test-run commands for a project built by Gradle (see the module's note)."""

    name = "gradle"

    def __init__(
        self,
        *,
        package_hosts: tuple[str, ...] = MAVEN_CENTRAL_HOSTS + GRADLE_HOSTS,
        mirror: str = "",
        gradle: Path | None = None,
    ) -> None:
        self._package_hosts = package_hosts
        self._mirror = mirror
        self._gradle = gradle

    def installed(self) -> Path | None:
        """The machine's `gradle` (for projects without a wrapper), if there is one."""
        if self._gradle:
            return self._gradle
        found = shutil.which("gradle")
        return Path(found) if found else None

    def usable(self, root: Path) -> bool:
        """A Gradle build Assay can run: a build script, and a wrapper or a `gradle` here."""
        return is_gradle_build(root) and (has_wrapper(root) or self.installed() is not None)

    def _version(self, root: Path) -> tuple[str, Path | None]:
        """The Gradle version the project builds with, and the machine's gradle when the
        project has no wrapper."""
        if has_wrapper(root):
            url = distribution_url(root)
            found = _VERSION.search(url)
            if not found:
                raise EnvironmentFailed(
                    f"the Gradle wrapper's distributionUrl names no Gradle version: {url!r}",
                    fix=f"check {WRAPPER}",
                )
            return found.group(1), None
        gradle = self.installed()
        if gradle is None:
            raise EnvironmentFailed("the project has no Gradle wrapper and Gradle is not installed",
                                    fix="add the wrapper (gradle wrapper)")  # fmt: skip
        try:
            done = subprocess.run(  # noqa: S603 - the machine's own Gradle
                [str(gradle), "--version", "--no-daemon"], capture_output=True, text=True,
                timeout=120, check=True,
            )  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            raise EnvironmentFailed(f"Gradle does not run here: {unavailable(exc)}") from exc
        found_version = re.search(r"^Gradle (\S+)", done.stdout, re.MULTILINE)
        return (found_version.group(1) if found_version else "unknown"), gradle

    @staticmethod
    def _check(version: str, jdk: Path) -> None:
        numbers = _numbers(version)
        if numbers and numbers < OLDEST:
            raise EnvironmentFailed(
                f"the project builds with Gradle {version}; Assay needs Gradle "
                f"{'.'.join(map(str, OLDEST))}+ (its offline runs use Gradle's read-only "
                "dependency cache)",
                fix="upgrade the project's wrapper (gradle wrapper --gradle-version 8.14)",
            )
        major = _jdk_major(jdk)
        needs = RUNS_ON.get(major)
        if needs and numbers and numbers < needs:
            raise EnvironmentFailed(
                f"Gradle {version} does not run on this machine's JDK {major} (Gradle "
                f"{'.'.join(map(str, needs))}+ does)",
                fix="upgrade the project's Gradle wrapper, or run Assay with an older JDK",
            )

    # ------------------------------------------------------------------ prepare
    def prepare(self, detection: Detection, root: Path, sandbox: Sandbox, cache: Path,
                jdk: Path) -> Environment:  # fmt: skip
        version, gradle = self._version(root)
        self._check(version, jdk)
        files = {n: (root / n).read_text(errors="replace") for n in BUILD_FILES
                 if (root / n).is_file()}  # fmt: skip
        fingerprint = [str(jdk), _jdk_major(jdk), version, str(gradle), files, self._mirror,
                       JACOCO_VERSION, detection.test_runner, detection.language]  # fmt: skip
        key = hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]
        envdir = cache / "envs" / f"gradle-{key}"
        readonly = {envdir, jdk, Path(sys.base_prefix), *self._outside(gradle)}
        environment = Environment(
            interpreter=jdk / "bin" / "java", key=key, readonly=sorted(readonly),
            tools=[f"Gradle {version}" + ("" if gradle else " (the project's wrapper)"),
                   f"JaCoCo {JACOCO_VERSION}"],
        )  # fmt: skip
        if (envdir / ".ready").exists():
            return environment
        shutil.rmtree(envdir, ignore_errors=True)
        launcher = self._resolve(detection, root, envdir, sandbox, cache=cache, jdk=jdk,
                                 gradle=gradle)  # fmt: skip
        (envdir / "init.gradle").write_text(init_script(self._mirror, credentials=False))
        (envdir / ".ready").write_text(json.dumps({"gradle": str(launcher), "version": version}))
        return environment

    def _outside(self, gradle: Path | None) -> list[Path]:
        """What the sandbox must show besides the cache: the machine's Gradle installation,
        and a file: mirror."""
        found = []
        if gradle is not None:
            found += [gradle.resolve().parent.parent, Path("/usr/share/java")]
        if self._mirror.startswith("file:"):
            found.append(Path(unquote(urlsplit(self._mirror).path)))
        return found

    def _resolve(self, detection: Detection, root: Path, envdir: Path, sandbox: Sandbox, *,
                 cache: Path, jdk: Path, gradle: Path | None) -> Path:  # fmt: skip
        """Run `test` once, online, on a copy of the project whose only test is the probe;
        keep the distribution and the dependency cache in `envdir`; return the launcher."""
        work = cache / ".gradle-prepare"
        shutil.rmtree(work, ignore_errors=True)
        project = work / "project"
        skip = shutil.ignore_patterns(".git", STATE_DIR, "build", ".gradle")
        shutil.copytree(root, project, symlinks=True, ignore=skip)
        for tests in ("src/test/java", "src/test/kotlin"):
            shutil.rmtree(project / tests, ignore_errors=True)
        rel, text = probe_test(detection.test_runner, detection.language)
        (project / rel).parent.mkdir(parents=True)
        (project / rel).write_text(text)
        home = work / "home"
        home.mkdir()
        direct, hosts = mirror_route(self._mirror, self._package_hosts)
        if not direct:  # the egress proxy, for the wrapper and for Gradle
            (home / "gradle.properties").write_text(
                f"systemProp.https.proxyHost=127.0.0.1\nsystemProp.https.proxyPort={BRIDGE_PORT}\n"
                f"systemProp.http.proxyHost=127.0.0.1\nsystemProp.http.proxyPort={BRIDGE_PORT}\n"
            )
        (work / "init.gradle").write_text(init_script(self._mirror, credentials=True))
        launch = ["/bin/sh", str(project / "gradlew")] if gradle is None else [str(gradle)]
        argv = [*launch, *self.arguments(work / "init.gradle", jdk), "-p", str(project),
                "test", "--tests", "AssayProbeTest"]  # fmt: skip
        env = _gradle_env(jdk, home=work, user_home=home)
        step, outcome = sandboxed.install(
            cache, argv, sandbox, env=env, hosts=hosts,
            direct={} if direct else None, readonly=[jdk, *self._outside(gradle)], workdir=work,
            limits=Limits(wall_s=1200, cpu_s=1200, memory_mb=ADDRESS_SPACE_MB,
                          processes=PROCESSES, open_files=4096),
        )  # fmt: skip
        if not outcome.ok or step.get("exit_code") != 0:
            output = str(step.get("output") or outcome.stderr)
            shutil.rmtree(work, ignore_errors=True)
            url = distribution_url(root) if gradle is None else ""
            raise _prepare_failed(output, outcome.reason, url, _split_userinfo(self._mirror)[0])
        try:
            launcher = _keep(home, envdir, wrapper=gradle is None) or gradle
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if launcher is None:
            shutil.rmtree(envdir, ignore_errors=True)
            raise EnvironmentFailed("the Gradle wrapper ran, but left no distribution in "
                                    "GRADLE_USER_HOME/wrapper/dists")  # fmt: skip
        return launcher

    @staticmethod
    def arguments(init: Path, jdk: Path) -> list[str]:
        """What every Gradle invocation gets: no daemon, plain output, Assay's init script, no
        build or configuration cache (the tests must run), and no JDK downloads."""
        return ["--no-daemon", "--console=plain", "--no-build-cache", "-I", str(init),
                "-Dorg.gradle.configuration-cache=false",
                "-Porg.gradle.java.installations.auto-download=false",
                f"-Porg.gradle.java.installations.paths={jdk}"]  # fmt: skip

    # ------------------------------------------------------------------ run tests
    def commands(self, env: Environment, detection: Detection, workdir: Path, tests: list[str],
                 *, limits: Limits, collect_only: bool) -> Commands:  # fmt: skip
        envdir = next(p for p in env.readonly if (p / ".ready").exists())
        ready = json.loads((envdir / ".ready").read_text())
        jdk = Path(env.interpreter).parent.parent
        argv = [ready["gradle"], "--offline", *self.arguments(envdir / "init.gradle", jdk)]
        if collect_only:
            argv.append("testClasses")
        else:
            argv.append("test")
            for name in sorted({n for t in tests if (n := test_class_name(t))}):
                argv += ["--tests", name]
        quoted = " ".join(_quote(a) for a in argv)
        # Reports an earlier run left in this work directory must not pass for this run's.
        stale = f"{TEST_RESULTS} {PurePosixPath(JACOCO_XML).parent}"
        script = f"rm -rf {stale}; {quoted} > {STATE_DIR}/build.txt 2>&1 || exit 3"
        state = workdir / STATE_DIR
        return Commands(
            steps=[sandboxed.shell(script)],
            env={**_gradle_env(jdk, home=state, user_home=state / "gradle-home"),
                 "GRADLE_RO_DEP_CACHE": str(envdir / "home" / "caches")},
            limits=sandboxed.at_least(limits, memory_mb=ADDRESS_SPACE_MB, processes=PROCESSES,
                                      open_files=4096),
        )  # fmt: skip

    def read_output(self, workdir: Path) -> str:
        """What Gradle said that matters: the compilers' errors and what went wrong, else all."""
        text = sandboxed.text(workdir, "build.txt")
        errors = [line for line in text.splitlines()
                  if ": error:" in line or line.startswith("e: ")]  # fmt: skip
        wrong = _what_went_wrong(text)
        said = "\n".join([*errors, *([wrong] if wrong else [])])
        return said or text

    def read_results(self, ran: Ran, index: SourceIndex) -> TestRun:
        if ran.code == 3:
            text = sandboxed.text(ran.workdir, "build.txt")
            if re.search(r"Execution failed for task '[^']*:compile\w*(Java|Kotlin)'", text):
                return ran.run(False, "the code or its tests do not compile")
            return ran.run(False, f"the Gradle build failed: {_what_went_wrong(text)}")
        reports = junit_reports(ran.workdir, TEST_RESULTS)
        return build_run(ran, reports, JACOCO_XML, index, runner="Gradle")


def _jdk_major(jdk: Path) -> int:
    """The JDK's feature version, from its `release` file (0 when it cannot be read)."""
    try:
        text = (jdk / "release").read_text(errors="replace")
    except OSError:
        return 0
    found = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def _keep(home: Path, envdir: Path, *, wrapper: bool) -> Path | None:
    """Move what the runs need from prepare's GRADLE_USER_HOME into `envdir/home`: the
    dependency cache, made read-only as Gradle documents (its lock files and gc.properties
    removed), and the wrapper's unpacked distribution. Returns that distribution's launcher."""
    kept = envdir / "home"
    (kept / "caches").mkdir(parents=True)
    modules = home / "caches" / "modules-2"
    if modules.is_dir():
        shutil.move(str(modules), str(kept / "caches" / "modules-2"))
        for pattern in ("*.lock", "gc.properties"):
            for stale in (kept / "caches").rglob(pattern):
                stale.unlink()
    if not wrapper:
        return None
    launchers = sorted((home / "wrapper" / "dists").glob("*/*/*/bin/gradle"))
    if not launchers:
        return None
    distribution = launchers[0].parent.parent
    target = kept / "dist" / distribution.name
    shutil.move(str(distribution), str(target))
    return target / "bin" / "gradle"


def _quote(arg: str | Path) -> str:
    return "'" + str(arg).replace("'", "'\\''") + "'"


def _gradle_env(jdk: Path, *, home: Path, user_home: Path) -> dict[str, str]:
    return {"PATH": f"{jdk / 'bin'}:/usr/bin:/bin", "JAVA_HOME": str(jdk), "HOME": str(home),
            "GRADLE_USER_HOME": str(user_home),
            "GRADLE_OPTS": "-Xss4m -Djava.awt.headless=true"}  # fmt: skip


def _what_went_wrong(output: str) -> str:
    """Gradle's `* What went wrong:` paragraph, in one line (else the output's last lines)."""
    found = re.search(r"\* What went wrong:\n(.*?)(?:\n\s*\n|\n\* |\Z)", output, re.DOTALL)
    if found:
        lines = [line.strip().lstrip("> ").strip() for line in found.group(1).splitlines()]
        return " | ".join(line for line in lines if line)[:800]
    return " | ".join(output.strip().splitlines()[-3:])


def _prepare_failed(output: str, reason: str, distribution: str, mirror: str) -> EnvironmentFailed:
    """Why prepare's build failed: the wrapper's distribution, a dependency, or the build."""
    if "FAILURE:" not in output and distribution and "Exception" in output:
        thrown = next((line.strip() for line in output.splitlines()
                       if "Exception" in line and not line.lstrip().startswith("at ")),
                      "")  # fmt: skip
        return EnvironmentFailed(
            f"the Gradle wrapper could not download its distribution {distribution} "
            f"({reason}): {thrown}",
            fix="let the prepare job reach that host (ASSAY_PACKAGE_HOSTS; services.gradle.org "
            "and downloads.gradle.org by default), or point the wrapper's distributionUrl at "
            "a copy it can reach",
        )
    said = _what_went_wrong(output)
    if re.search(r"Execution failed for task '[^']*:compile\w*(Java|Kotlin)'", output):
        return EnvironmentFailed(
            f"the project does not compile with its Gradle build ({reason}): {said}",
            fix="check that `./gradlew testClasses` passes on this project with this JDK",
        )
    if re.search(r"Could not (resolve|find|download|GET)|Plugin \[id: .*\] was not found", output):
        where = f"the mirror {mirror}" if mirror else "Maven Central and the Gradle plugin portal"
        return EnvironmentFailed(
            f"the Gradle build could not fetch what it needs from {where} ({reason}): {said}",
            fix="check that the build's repositories are reachable from the package egress "
            "(ASSAY_PACKAGE_HOSTS), or set ASSAY_MAVEN_MIRROR to your repository manager",
        )
    return EnvironmentFailed(f"the project's Gradle build failed ({reason}): {said}",
                             fix="check that `./gradlew test` passes on this project")  # fmt: skip
