"""The project's own Maven build, in the sandbox: its pom, plugins and dependencies.

Prepare resolves everything the test runs will need into a local repository cached per pom
(`cache/envs/maven-<key>/repo`), online through the package egress (Maven Central, or the
mirror set by ASSAY_MAVEN_MIRROR): it runs the same goals a test run does against a one-test
probe, so Surefire's JUnit provider and JaCoCo's plugin are fetched too (a run with no test
fetches neither). Test runs are offline (`mvn -o`) against that repository, read-only.
Coverage is JaCoCo's, attached on the command line unless the pom attaches it itself.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from assay.runtimes import pit as pitest
from assay.runtimes import sandboxed
from assay.runtimes.jvm_reports import SourceIndex, build_run, junit_reports, test_class_name
from assay.runtimes.pom import jacoco_attachment
from assay.runtimes.port import (
    Commands,
    Detection,
    Environment,
    EnvironmentFailed,
    Ran,
    TestRun,
    toolchain,
    unavailable,
)
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Sandbox
from assay.sandbox.egress import BRIDGE_PORT

JACOCO = "org.jacoco:jacoco-maven-plugin:0.8.12"
MAVEN_CENTRAL_HOSTS = ("repo.maven.apache.org", "repo1.maven.org")
MIRROR_ID = "assay-mirror"
# The JVM reserves a large heap and code cache up front; Maven and Surefire fork.
ADDRESS_SPACE_MB = 32 * 1024
PROCESSES = 1024
# Checks a project may bind to its build that judge style, licences or signatures, not
# behaviour: they would refuse generated tests for their formatting, or need the network.
SKIP_CHECKS = (
    "-Dcheckstyle.skip", "-Dspotless.check.skip=true", "-Dspotless.apply.skip=true",
    "-Denforcer.skip", "-Drat.skip", "-Dlicense.skip", "-Dpmd.skip", "-Dcpd.skip",
    "-Dspotbugs.skip", "-Dformatter.skip", "-Dimpsort.skip", "-Danimal.sniffer.skip",
    "-Dmaven.javadoc.skip", "-Dgpg.skip", "-Drevapi.skip", "-Djapicmp.skip",
    "-Dbasepom.check.skip-all", "-Dsort.skip", "-Dmdep.analyze.skip",
)  # fmt: skip
CLI_FLAGS = ("-Dstyle.color=never", *SKIP_CHECKS)


def pom_problem(root: Path) -> str | None:
    """Why the project's pom.xml cannot be read as a Maven model, or None."""
    try:
        project = ElementTree.fromstring((root / "pom.xml").read_bytes())
    except (ElementTree.ParseError, OSError, ValueError) as exc:
        return f"pom.xml does not parse: {exc}"
    if project.tag.rsplit("}", 1)[-1] != "project":
        return f"pom.xml is not a Maven project (its root element is <{project.tag}>)"
    return None


def junit_flavour(build_text: str) -> str:
    """junit5 or junit4, from what the build file declares (JUnit 5 when it says neither)."""
    if re.search(r"junit-jupiter|junit-bom|kotlin-test-junit5", build_text):
        return "junit5"
    if re.search(r"<artifactId>\s*junit\s*</artifactId>|junit:junit|kotlin-test-junit\b",
                 build_text):  # fmt: skip
        return "junit4"
    return "junit5"


def probe_test(flavour: str, language: str) -> tuple[str, str]:
    """A test that passes, in the project's JUnit and language, and where it goes: prepare runs
    it so Surefire resolves the provider the real runs will use."""
    if language == "kotlin":
        test = "org.junit.Test" if flavour == "junit4" else "org.junit.jupiter.api.Test"
        return (
            "src/test/kotlin/AssayProbeTest.kt",
            f"class AssayProbeTest {{ @{test} fun probe() {{}} }}\n",
        )
    return "src/test/java/AssayProbeTest.java", _java_probe(flavour)


def _java_probe(flavour: str) -> str:
    if flavour == "junit4":
        return ("public class AssayProbeTest {\n"
                "  @org.junit.Test public void probe() {}\n}\n")  # fmt: skip
    return "class AssayProbeTest {\n  @org.junit.jupiter.api.Test void probe() {}\n}\n"


def settings_xml(mirror: str, *, proxy: bool, credentials: bool) -> str:
    """Maven settings: the egress proxy (prepare only), and the mirror every repository is
    fetched through (its credentials only where they are needed: prepare, never a test run).
    Runs keep the mirror's id so offline Maven accepts what prepare downloaded through it."""
    parts = ["<settings>"]
    if proxy:
        parts.append(
            "<proxies><proxy><id>assay-egress</id><active>true</active><protocol>https"
            f"</protocol><host>127.0.0.1</host><port>{BRIDGE_PORT}</port></proxy></proxies>"
        )
    if mirror:
        url, user, password = _split_userinfo(mirror)
        parts.append(f"<mirrors><mirror><id>{MIRROR_ID}</id><mirrorOf>*</mirrorOf>"
                     f"<url>{escape(url)}</url></mirror></mirrors>")  # fmt: skip
        if credentials and user:
            parts.append(f"<servers><server><id>{MIRROR_ID}</id><username>{escape(user)}"
                         f"</username><password>{escape(password)}</password></server>"
                         "</servers>")  # fmt: skip
    parts.append("</settings>\n")
    return "".join(parts)


def mirror_route(mirror: str, hosts: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    """How prepare reaches ASSAY_MAVEN_MIRROR: (directly, the egress's hosts). An https mirror
    on the standard port goes through the registry-only proxy, its host allowed since the
    operator named it; a file:// copy needs no network; anything else (http, another port: a
    repository manager on a private network) is reached directly, so the prepare job, which
    runs the project's build, then has the network, as with a direct pip index."""
    if not mirror or mirror.startswith("file:"):
        return False, hosts
    parts = urlsplit(mirror)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme == "https" and port in (None, 443) and parts.hostname:
        return False, (*hosts, parts.hostname)
    return True, hosts


def _split_userinfo(url: str) -> tuple[str, str, str]:
    """`https://user:token@host/path` -> (`https://host/path`, user, token)."""
    parts = urlsplit(url)
    if not parts.username:
        return url, "", ""
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, unquote(parts.username), unquote(parts.password or "")


class MavenBuild:
    """Prepare and test-run commands for a project built by Maven (see the module's note)."""

    name = "maven"

    def __init__(
        self,
        *,
        package_hosts: tuple[str, ...] = MAVEN_CENTRAL_HOSTS,
        mirror: str = "",
        mvn: Path | None = None,
    ) -> None:
        self._package_hosts = package_hosts
        self._mirror = mirror
        self._mvn = mvn

    def mvn(self) -> Path:
        return toolchain("mvn", self._mvn, missing="Maven is not installed (mvn)",
                         fix="install Maven 3.6+ (Debian: maven)")  # fmt: skip

    def home(self) -> Path:
        return self.mvn().resolve().parent.parent

    def version(self) -> str:
        try:
            done = subprocess.run(  # noqa: S603 - the machine's own Maven
                [str(self.mvn()), "-v", "-B"], capture_output=True, text=True, timeout=60,
                check=True,
            )  # fmt: skip
        except (subprocess.SubprocessError, OSError) as exc:
            raise EnvironmentFailed(f"Maven does not run here: {unavailable(exc)}") from exc
        first = done.stdout.splitlines()[0] if done.stdout else "Apache Maven"
        return re.sub(r"\x1b\[[0-9;]*m", "", first).split("(")[0].strip()

    # ------------------------------------------------------------------ prepare
    def prepare(self, detection: Detection, root: Path, sandbox: Sandbox, cache: Path,
                jdk: Path, *, pit: bool = False) -> Environment:  # fmt: skip
        """With `pit`, PIT's Maven plugin is resolved too (mutation testing was asked for)."""
        problem = pom_problem(root)
        if problem:
            raise EnvironmentFailed(problem, fix="fix pom.xml so `mvn validate` accepts it")
        pom = (root / "pom.xml").read_text(errors="replace")
        version = self.version()
        home = self.home()
        fingerprint = [str(jdk), version, pom, self._mirror, JACOCO, detection.test_runner,
                       pitest.PITEST if pit else None]  # fmt: skip
        key = hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:16]
        envdir = cache / "envs" / f"maven-{key}"
        base = Path(sys.base_prefix)
        environment = Environment(
            interpreter=jdk / "bin" / "java", key=key,
            readonly=sorted({envdir, jdk, home, Path("/usr/share/java"), base}),
            tools=[version, f"jacoco-maven-plugin {JACOCO.rsplit(':', 1)[1]}"]
            + ([f"pitest-maven {pitest.PITEST.rsplit(':', 1)[1]}"] if pit else []),
        )  # fmt: skip
        if (envdir / ".ready").exists():
            return environment
        shutil.rmtree(envdir, ignore_errors=True)
        self._resolve(detection, root, envdir, sandbox, cache=cache, jdk=jdk, pit=pit, pom=pom)
        (envdir / "settings.xml").write_text(settings_xml(self._mirror, proxy=False,
                                                          credentials=False))  # fmt: skip
        (envdir / ".ready").write_text(json.dumps({"maven": version}))
        return environment

    def _resolve(self, detection: Detection, root: Path, envdir: Path, sandbox: Sandbox, *,
                 cache: Path, jdk: Path, pit: bool, pom: str) -> None:  # fmt: skip
        """Run the test goals once, online, on a copy of the project whose only test is the
        probe (its own tests may not build yet); what Maven fetched becomes `envdir/repo`."""
        work = cache / ".maven-prepare"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(root, work / "project", symlinks=True,
                        ignore=shutil.ignore_patterns(".git", STATE_DIR, "target"))  # fmt: skip
        for tests in ("src/test/java", "src/test/kotlin"):
            shutil.rmtree(work / "project" / tests, ignore_errors=True)
        rel, text = probe_test(detection.test_runner, detection.language)
        probe = work / "project" / rel
        probe.parent.mkdir(parents=True)
        probe.write_text(text)
        file_mirror = self._mirror.startswith("file:")
        direct, hosts = mirror_route(self._mirror, self._package_hosts)
        settings = work / "settings.xml"
        settings.write_text(settings_xml(self._mirror, proxy=not direct, credentials=True))
        goals = self.goals(pom)
        if pit:  # PIT on the probe alone: its plugin and its test launcher get fetched
            (work / "project" / "pom.xml").write_text(
                pitest.with_profile(pom, detection.test_runner)
            )
            goals += pitest.goals(["AssayProbeTest"], ["AssayProbeTest"])
        argv = [str(self.mvn()), "-B", "-f", str(work / "project" / "pom.xml"), "-s",
                str(settings), f"-Dmaven.repo.local={work / 'repo'}", *goals,
                "-Dtest=AssayProbeTest", "-Dsurefire.failIfNoSpecifiedTests=false"]  # fmt: skip
        readonly = [jdk, self.home(), Path("/usr/share/java")]
        if file_mirror:
            readonly.append(Path(unquote(urlsplit(self._mirror).path)))
        step, outcome = sandboxed.install(
            cache, argv, sandbox, env=_maven_env(jdk, work), hosts=hosts,
            direct={} if direct else None, readonly=readonly, workdir=work,
            limits=Limits(wall_s=900, cpu_s=900, memory_mb=ADDRESS_SPACE_MB,
                          processes=PROCESSES, open_files=4096),
        )  # fmt: skip
        if not outcome.ok or step.get("exit_code") != 0:
            output = str(step.get("output") or outcome.stderr)
            shutil.rmtree(work, ignore_errors=True)
            raise _prepare_failed(output, outcome.reason, _split_userinfo(self._mirror)[0])
        envdir.mkdir(parents=True)
        shutil.move(str(work / "repo"), str(envdir / "repo"))
        shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def goals(pom: str) -> list[str]:
        """JaCoCo around the test phase: the pom's own agent when it attaches one, else ours;
        failing tests do not fail the build (the reports say which failed)."""
        attached = jacoco_attachment(pom)
        if attached == "none":
            attach, report = [f"{JACOCO}:prepare-agent"], [f"{JACOCO}:report"]
        else:  # the build's own plugin (its version); its agent when it attaches one
            attach = [] if attached == "agent" else ["jacoco:prepare-agent"]
            report = ["jacoco:report"]
        return [*attach, "test", *report, "-Dmaven.test.failure.ignore=true",
                "-Djacoco.skip=false", *CLI_FLAGS]  # fmt: skip

    # ------------------------------------------------------------------ run tests
    def commands(self, env: Environment, detection: Detection, workdir: Path, tests: list[str],
                 *, limits: Limits, collect_only: bool) -> Commands:  # fmt: skip
        if collect_only:
            return self.offline(env, workdir, ["test-compile", *CLI_FLAGS], limits=limits)
        goals = self.goals((workdir / "pom.xml").read_text(errors="replace"))
        classes = sorted({name for t in tests if (name := test_class_name(t))})
        if classes:
            goals += [f"-Dtest={','.join(classes)}", "-Dsurefire.failIfNoSpecifiedTests=false"]
        return self.offline(env, workdir, goals, limits=limits)

    def offline(self, env: Environment, workdir: Path, goals: list[str], *, limits: Limits,
                log: str = "build.txt") -> Commands:  # fmt: skip
        """`mvn -o GOALS` in `workdir` against the prepared repository, its output in `log`
        (in `.assay`); exit 3 when the build fails."""
        envdir = next(p for p in env.readonly if (p / ".ready").exists())
        jdk = Path(env.interpreter).parent.parent
        mvn = shlex.join([str(self.mvn()), "-o", "-B", "-s", str(envdir / "settings.xml"),
                          f"-Dmaven.repo.local={envdir / 'repo'}"])  # fmt: skip
        # Reports an earlier run left in this work directory must not pass for this run's.
        stale = "target/surefire-reports target/site/jacoco target/jacoco.exec target/pit-reports"
        words = " ".join(shlex.quote(g) for g in goals)
        script = f"rm -rf {stale}; {mvn} {words} > {STATE_DIR}/{log} 2>&1 || exit 3"
        return Commands(
            steps=[sandboxed.shell(script)],
            env=_maven_env(jdk, workdir / STATE_DIR),
            limits=sandboxed.at_least(limits, memory_mb=ADDRESS_SPACE_MB, processes=PROCESSES,
                                      open_files=4096),
        )  # fmt: skip

    @staticmethod
    def errors(output: str) -> str:
        return errors(output)

    def read_output(self, workdir: Path) -> str:
        """What Maven said that matters: its errors (a compiler's, a plugin's), else its tail."""
        text = sandboxed.text(workdir, "build.txt")
        said = [line for line in text.splitlines() if line.startswith("[ERROR]")]
        return "\n".join(said) if said else text

    def read_results(self, ran: Ran, index: SourceIndex) -> TestRun:
        if ran.code == 3:
            text = sandboxed.text(ran.workdir, "build.txt")
            if "COMPILATION ERROR" in text or "Compilation failure" in text:
                return ran.run(False, "the code or its tests do not compile")
            return ran.run(False, f"the Maven build failed: {errors(text)}")
        reports = junit_reports(ran.workdir, "target/surefire-reports")
        return build_run(ran, reports, "target/site/jacoco/jacoco.xml", index, runner="Surefire")


def _maven_env(jdk: Path, home: Path) -> dict[str, str]:
    return {"PATH": f"{jdk / 'bin'}:/usr/bin:/bin", "JAVA_HOME": str(jdk), "HOME": str(home),
            "MAVEN_OPTS": "-Xss4m -Djava.awt.headless=true"}  # fmt: skip


def _prepare_failed(output: str, reason: str, mirror: str) -> EnvironmentFailed:
    """Why prepare's build failed: what could not be fetched, or the build's own error."""
    said = errors(output)
    if "COMPILATION ERROR" in output or "Compilation failure" in output:
        return EnvironmentFailed(
            f"the project does not compile with its Maven build ({reason}): {said}",
            fix="check that `mvn test-compile` passes on this project with this machine's JDK",
        )
    where = f"the mirror {mirror}" if mirror else "Maven Central"
    fetching = re.search(r"Could not (resolve|find|transfer)|Non-resolvable|offline", output)
    if fetching:
        return EnvironmentFailed(
            f"the Maven build could not fetch what it needs from {where} ({reason}): {said}",
            fix="check that the pom's dependencies and plugins exist there; set "
            "ASSAY_MAVEN_MIRROR to your repository manager (Artifactory, Nexus, CodeArtifact) "
            "if they live in one",
        )
    return EnvironmentFailed(f"the project's Maven build failed ({reason}): {said}",
                             fix="check that `mvn test` passes on this project")  # fmt: skip


def errors(output: str) -> str:
    """Maven's first error lines, without its help footer."""
    lines = [line.removeprefix("[ERROR]").strip() for line in output.splitlines()
             if line.startswith("[ERROR]")]  # fmt: skip
    useful = [line for line in lines if line and not line.startswith(("To see the full",
              "Re-run Maven", "For more information", "[Help", "-> [Help"))]  # fmt: skip
    return " | ".join(useful[:4]) or " | ".join(output.strip().splitlines()[-3:])
