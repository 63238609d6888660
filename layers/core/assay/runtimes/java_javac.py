"""Java without a build tool: javac against the machine's JUnit 5 and JaCoCo.

For projects Maven cannot build here (no pom, or no Maven on the machine) whose only
dependency is JUnit: the sources are compiled with the JDK against JUnit 5 and JaCoCo from the
machine's Java library directory (Debian's `junit5` and `libjacoco-java`). JaCoCo 0.8.6 reads
class files up to Java 15, so code is compiled with `--release 11`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path, PurePosixPath

from assay.runtimes import sandboxed
from assay.runtimes.jvm_reports import SourceIndex, jacoco_coverage, test_cases
from assay.runtimes.port import Commands, Environment, EnvironmentFailed, Ran, TestRun
from assay.runtimes.results import read_inside
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits

MAIN, TEST = "src/main/java", "src/test/java"
JAVA_LIB = Path("/usr/share/java")
JARS = {
    "console": "junit-platform-console-standalone.jar",
    "api": "junit-jupiter-api.jar",
    "params": "junit-jupiter-params.jar",
    "opentest4j": "opentest4j.jar",
    "apiguardian": "apiguardian-api.jar",
    "agent": "org.jacoco.agent.jar",
    "core": "org.jacoco.core.jar",
    "report": "org.jacoco.report.jar",
    "asm": "asm.jar",
    "asm-commons": "asm-commons.jar",
    "asm-tree": "asm-tree.jar",
}
# The JVM reserves a large heap and code cache up front; javac and the launcher fork.
JAVA_ADDRESS_SPACE_MB = 32 * 1024
JAVA_PROCESSES = 1024


class JavacBuild:
    name = "javac"

    def __init__(self, library: Path = JAVA_LIB) -> None:
        self._library = library

    def jars(self) -> dict[str, Path]:
        missing = [name for name in JARS.values() if not (self._library / name).is_file()]
        if missing:
            raise EnvironmentFailed(
                f"JUnit 5 or JaCoCo is missing from {self._library}: {', '.join(missing)}",
                fix="apt-get install junit5 libjacoco-java",
            )
        return {key: (self._library / name).resolve() for key, name in JARS.items()}

    def prepare(self, jdk: Path, cache: Path) -> Environment:
        jars = self.jars()
        key = hashlib.sha256(json.dumps([str(jdk), sorted(map(str, jars.values()))])
                             .encode()).hexdigest()[:16]  # fmt: skip
        envdir = cache / "envs" / f"java-{key}"
        environment = Environment(interpreter=jdk / "bin" / "java",
                                  readonly=sorted({envdir, jdk, self._library,
                                                   Path(sys.base_prefix)}),
                                  key=key, tools=[f"junit5 {jars['console'].name}",
                                                  f"jacoco {jars['core'].name}"])  # fmt: skip
        if (envdir / ".ready").exists():
            return environment
        shutil.rmtree(envdir, ignore_errors=True)
        (envdir / "tool").mkdir(parents=True)
        # The agent jar Debian ships wraps the runnable one; the report helper is ours.
        with zipfile.ZipFile(jars["agent"]) as wrapped:
            (envdir / "jacocoagent.jar").write_bytes(wrapped.read("jacocoagent.jar"))
        helper = Path(str(files("assay.runtimes") / "java_support" / "AssayJacocoXml.java"))
        classpath = f"{jars['core']}:{jars['report']}"
        subprocess.run(  # noqa: S603 - compiling Assay's own helper, no project code
            [str(jdk / "bin" / "javac"), "-d", str(envdir / "tool"), "-cp", classpath,
             str(helper)], check=True, capture_output=True,
        )  # fmt: skip
        (envdir / ".ready").write_text("ok")
        return environment

    def commands(self, env: Environment, tests: list[str], *, limits: Limits,
                 collect_only: bool) -> Commands:  # fmt: skip
        jars = self.jars()
        jdk = Path(env.interpreter).parent.parent
        envdir = next(p for p in env.readonly if (p / ".ready").exists())
        junit = ":".join(str(jars[k]) for k in ("api", "params", "opentest4j", "apiguardian"))
        javac = f"'{jdk / 'bin' / 'javac'}' --release 11 -nowarn -encoding UTF-8"
        classes = [".".join(PurePosixPath(t).relative_to(TEST).with_suffix("").parts)
                   for t in tests if t.startswith(TEST)]  # fmt: skip
        select = " ".join(f"--select-class {c}" for c in classes) or "--scan-class-path"
        report_cp = ":".join(
            [str(envdir / "tool")]
            + [str(jars[k]) for k in ("core", "report", "asm", "asm-commons", "asm-tree")]
        )
        script = (
            f"find {MAIN} -name '*.java' > {STATE_DIR}/main.txt;"
            f" {javac} -d {STATE_DIR}/classes @{STATE_DIR}/main.txt > {STATE_DIR}/build.txt 2>&1"
            " || exit 3;"
            f" find {TEST} -name '*.java' > {STATE_DIR}/tests.txt 2>/dev/null;"
            f" if [ -s {STATE_DIR}/tests.txt ]; then {javac} -d {STATE_DIR}/test-classes"
            f" -cp {STATE_DIR}/classes:{junit} @{STATE_DIR}/tests.txt >> {STATE_DIR}/build.txt"
            " 2>&1 || exit 4; fi;"
        )
        if not collect_only:
            script += (
                f" '{jdk / 'bin' / 'java'}'"
                f" -javaagent:{envdir / 'jacocoagent.jar'}=destfile={STATE_DIR}/jacoco.exec"
                f" -jar '{jars['console']}'"
                f" --class-path {STATE_DIR}/classes:{STATE_DIR}/test-classes"
                f" {select} --reports-dir={STATE_DIR}/junit --disable-banner --details=none"
                f" > {STATE_DIR}/test.txt 2>&1; code=$?;"
                f" '{jdk / 'bin' / 'java'}' -cp {report_cp} AssayJacocoXml {STATE_DIR}/jacoco.exec"
                f" {STATE_DIR}/classes {MAIN} {STATE_DIR}/jacoco.xml >> {STATE_DIR}/build.txt 2>&1;"
                " exit $code"
            )
        return Commands(
            steps=[sandboxed.shell(script)],
            env={"PATH": f"{jdk / 'bin'}:/usr/bin:/bin", "JAVA_TOOL_OPTIONS": "-Xss4m"},
            limits=sandboxed.at_least(limits, memory_mb=JAVA_ADDRESS_SPACE_MB,
                                      processes=JAVA_PROCESSES, open_files=4096),
        )  # fmt: skip

    def read_output(self, workdir: Path) -> str:
        return sandboxed.text(workdir, "build.txt")  # what the compilers said

    def read_results(self, ran: Ran, index: SourceIndex) -> TestRun | None:
        """The run's tests and coverage; None when it did not compile (a check's verdict)."""
        if ran.code in (3, 4):  # the script's own codes: the code or the tests did not compile
            return None
        report = read_inside(ran.workdir, f"{STATE_DIR}/junit/TEST-junit-jupiter.xml")
        found = test_cases([report], index)
        xml = read_inside(ran.workdir, f"{STATE_DIR}/jacoco.xml")
        coverage = jacoco_coverage(xml, index) if xml else None
        text = sandboxed.text(ran.workdir, "test.txt")
        reason = ran.verdict(found, f"the JUnit launcher exited with {ran.code}")
        return ran.finished(found, coverage, reason=reason, output=text + ran.output)
