"""Java: Maven-layout projects (`src/main/java`, `src/test/java`) tested with JUnit 5 and measured
with JaCoCo (lines and branches), built with javac inside the sandbox.

Assay does not run Maven: plugins and dependencies come from Maven Central, which a sandbox
(and this project's CI) cannot reach. It compiles with the machine's JDK against JUnit 5 and
JaCoCo from the machine's Java library directory (Debian's `junit5` and `libjacoco-java`), so
projects whose only dependencies are JUnit's work; others are refused with the reason. JaCoCo
0.8.6 reads class files up to Java 15, so code is compiled with `--release 11`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Any

from defusedxml import ElementTree

from assay.intake.local import SKIP_DIRS
from assay.runtimes import sandboxed, scanning
from assay.runtimes.coverage import CoverageMap, FileCoverage
from assay.runtimes.port import (
    Commands,
    Detection,
    Environment,
    EnvironmentFailed,
    Idioms,
    Ran,
    Runtime,
    TestCaseResult,
    TestRun,
    toolchain,
)
from assay.runtimes.results import junit_cases, read_inside
from assay.runtimes.sandboxed import STATE_DIR
from assay.sandbox import Limits, Outcome, Sandbox

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
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.MULTILINE)
_CLASS = re.compile(r"^((?:\s*(?:public|final|abstract)\s+)*)class\s+(\w+)", re.MULTILINE)
_METHOD = re.compile(
    r"^[ \t]*(?:(?:public|protected|private|static|final|synchronized|abstract)\s+)*"
    r"(?:<[^>]+>\s+)?[\w<>\[\], ?]+\s+(?P<name>\w+)\s*\([^)]*\)\s*(?:throws [\w., ]+)?\s*\{",
    re.MULTILINE,
)
_TEST_METHOD = re.compile(r"^[ \t]*@Test\b[^\n]*\n(?:[ \t]*@[^\n]*\n)*[ \t]*(?:[\w<>]+\s+)*"
                          r"(?P<name>\w+)\s*\(", re.MULTILINE)  # fmt: skip
_DEPENDENCY = re.compile(r"<dependency>(.*?)</dependency>", re.DOTALL)


def _foreign_dependencies(root: Path) -> list[str]:
    """The pom's dependencies other than JUnit's: Assay cannot fetch them."""
    pom = root / "pom.xml"
    if not pom.is_file():
        return []
    found = []
    for block in _DEPENDENCY.findall(pom.read_text(errors="replace")):
        group = re.search(r"<groupId>([^<]+)</groupId>", block)
        artifact = re.search(r"<artifactId>([^<]+)</artifactId>", block)
        name = f"{group.group(1) if group else '?'}:{artifact.group(1) if artifact else '?'}"
        if not name.startswith(("org.junit", "org.opentest4j", "org.apiguardian")):
            found.append(name)
    return found


class JavaRuntime(Runtime):
    language = "java"
    tests_in_tests_dir = False

    def __init__(self, library: Path = JAVA_LIB) -> None:
        self._library = library

    def jdk(self) -> Path:
        javac = toolchain("javac", None, missing="no JDK on this machine (javac)",
                          fix="install a JDK 11+ (Debian: default-jdk-headless)")  # fmt: skip
        return javac.resolve().parent.parent

    def jars(self) -> dict[str, Path]:
        missing = [name for name in JARS.values() if not (self._library / name).is_file()]
        if missing:
            raise EnvironmentFailed(
                f"JUnit 5 or JaCoCo is missing from {self._library}: {', '.join(missing)}",
                fix="apt-get install junit5 libjacoco-java",
            )
        return {key: (self._library / name).resolve() for key, name in JARS.items()}

    def availability(self) -> tuple[bool, str]:
        try:
            jdk = self.jdk()
            self.jars()
        except EnvironmentFailed as exc:
            return False, str(exc)
        return True, f"JUnit 5 with JaCoCo line and branch coverage on {jdk.name}"

    # ------------------------------------------------------------------ detect
    def detect(self, root: Path) -> Detection | None:
        if not (root / MAIN).is_dir() or not any((root / n).is_file()
                                                 for n in ("pom.xml", "build.gradle")):  # fmt: skip
            return None
        modules: list[str] = []
        tests: list[str] = []
        for base, bucket in ((MAIN, modules), (TEST, tests)):
            for dirpath, dirnames, filenames in os.walk(root / base):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                bucket.extend(sorted((Path(dirpath) / n).relative_to(root).as_posix()
                                     for n in filenames if n.endswith(".java")))  # fmt: skip
        if not modules:
            return None
        return Detection(language="java", test_runner="junit5", package_manager="javac",
                         source_roots=[MAIN], modules=modules, test_files=tests,
                         dependency_files=[n for n in ("pom.xml", "build.gradle")
                                           if (root / n).is_file()])  # fmt: skip

    # ------------------------------------------------------------------ language
    def idioms(self, detection: Detection) -> Idioms:
        return Idioms(
            language="Java", fence="java", framework="JUnit 5",
            rules="Write one test class in the same package as the code, without `public` "
            "(Assay names the file), using org.junit.jupiter.api (@Test, Assertions.*, "
            "assertThrows); Java 11 syntax; no libraries beyond JUnit 5.",
            starts=("package ", "import "),
        )  # fmt: skip

    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        path = PurePosixPath(module).relative_to(MAIN)
        name = f"Assay{path.stem}{engine.capitalize()}{index}Test"
        return str(PurePosixPath(TEST) / path.parent / f"{name}.java")

    def import_hint(self, module: str, detection: Detection) -> str:
        return ".".join(PurePosixPath(module).relative_to(MAIN).with_suffix("").parts)

    def place(self, code: str, path: str) -> str:
        """Name the first top-level class after its file, so candidates never collide."""
        return _CLASS.sub(lambda m: f"{m.group(1)}class {PurePosixPath(path).stem}", code, 1)

    def functions(self, source: str) -> list[tuple[str, int, int]]:
        owner = _CLASS.search(source)
        found = []
        for match in _METHOD.finditer(source):
            if match.group("name") in {"if", "for", "while", "switch", "catch", "synchronized"}:
                continue
            close = scanning.matching(source, match.end() - 1)
            if close is None:
                continue
            name = f"{owner.group(2)}.{match.group('name')}" if owner else match.group("name")
            found.append((name, source.count("\n", 0, match.start()) + 1,
                          source.count("\n", 0, close) + 1))  # fmt: skip
        return found

    def prune(self, code: str, failing: set[str]) -> str | None:
        return scanning.cut_blocks(code, _TEST_METHOD, {n.split("(")[0] for n in failing})

    def is_assertion_failure(self, error_type: str | None, message: str | None) -> bool:
        return error_type == "AssertionError"

    # ------------------------------------------------------------------ prepare
    def prepare(self, detection: Detection, root: Path, sandbox: Sandbox, cache: Path,
                extra_tools: list[str]) -> Environment:  # fmt: skip
        del sandbox, extra_tools
        foreign = _foreign_dependencies(root)
        if foreign:
            raise EnvironmentFailed(
                f"this project needs Maven dependencies Assay cannot fetch: {', '.join(foreign)}",
                fix="Java projects are built with javac and the machine's JUnit 5 and JaCoCo; "
                "Maven Central is not reachable from the sandbox",
            )
        jars = self.jars()
        jdk = self.jdk()
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

    # ------------------------------------------------------------------ run tests
    check_reasons = ("the code compiles", "the code does not compile")

    def commands(self, env: Environment, detection: Detection, workdir: Path, tests: list[str],
                 *, limits: Limits, collect_only: bool) -> Commands:  # fmt: skip
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

    def read_output(self, workdir: Path, records: list[dict[str, Any]], outcome: Outcome) -> str:
        return sandboxed.text(workdir, "build.txt")  # what the compilers said

    def read_results(self, ran: Ran) -> TestRun:
        if ran.code in (3, 4):  # the script's own codes: the code or the tests did not compile
            return self.read_check(ran)
        found = _junit(read_inside(ran.workdir, f"{STATE_DIR}/junit/TEST-junit-jupiter.xml"))
        xml = read_inside(ran.workdir, f"{STATE_DIR}/jacoco.xml")
        coverage = _jacoco(xml) if xml else None
        text = sandboxed.text(ran.workdir, "test.txt")
        reason = ran.verdict(found, f"the JUnit launcher exited with {ran.code}")
        return ran.finished(found, coverage, reason=reason, output=text + ran.output)


def _junit(data: bytes | None) -> list[TestCaseResult]:
    results = []
    for case in junit_cases(data):
        path = f"{TEST}/{case.classname.replace('.', '/')}.java"
        thrown = case.thrown or ""
        assertion = thrown.endswith(("AssertionFailedError", "AssertionError"))
        error_type = None
        if case.outcome != "passed":
            error_type = "AssertionError" if assertion else thrown.rsplit(".", 1)[-1] or None
        # The launcher reports a failed assertion thrown outside the test body as an error.
        outcome = "failed" if case.outcome == "error" and assertion else case.outcome
        results.append(
            TestCaseResult(test_id=f"{path}::{case.name}", file=path, outcome=outcome,
                           error_type=error_type, message=case.message, detail=case.detail)
        )  # fmt: skip
    return results


def _jacoco(data: bytes) -> CoverageMap:
    root = ElementTree.fromstring(data)
    files = {}
    for package in root.iter("package"):
        for source in package.iter("sourcefile"):
            rel = f"{MAIN}/{package.get('name', '')}/{source.get('name', '')}".replace("//", "/")
            coverage = FileCoverage()
            ordinal = 0
            for line in source.iter("line"):
                number = int(line.get("nr", "0"))
                (coverage.executed if int(line.get("ci", "0")) > 0 else coverage.missing).add(
                    number
                )
                covered, missed = int(line.get("cb", "0")), int(line.get("mb", "0"))
                for index in range(covered + missed):
                    ordinal += 1
                    target = (
                        coverage.executed_branches if index < covered else coverage.missing_branches
                    )
                    target.add((number, -ordinal))
            files[rel] = coverage
    return CoverageMap(files=files)
