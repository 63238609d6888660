"""Java: Maven-layout projects (`src/main/java`, `src/test/java`) tested with JUnit 4 or 5 and
measured with JaCoCo (lines and branches).

A project with a pom is built by its own Maven build (`runtimes.maven`): its plugins and
dependencies, fetched through the package egress or ASSAY_MAVEN_MIRROR; a Gradle build by
Gradle (`runtimes.gradle`), through its wrapper. Without either, the sources are compiled with
javac against the machine's JUnit 5 (`runtimes.java_javac`),
which serves projects whose only dependency is JUnit; others are refused with the reason.
Kotlin (`runtimes.kotlin`) shares all of this but its language knowledge.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from assay.intake.local import SKIP_DIRS
from assay.runtimes import scanning
from assay.runtimes.gradle import GRADLE_HOSTS, GradleBuild
from assay.runtimes.java_javac import JAVA_LIB, JavacBuild
from assay.runtimes.jvm_reports import SourceIndex
from assay.runtimes.maven import MAVEN_CENTRAL_HOSTS, MavenBuild, junit_flavour
from assay.runtimes.port import (
    Commands,
    Detection,
    Environment,
    EnvironmentFailed,
    Idioms,
    MutationTool,
    Ran,
    Runtime,
    TestRun,
    toolchain,
)
from assay.sandbox import Limits, Outcome, Sandbox

MAIN, TEST = "src/main/java", "src/test/java"
BUILD_FILES = ("pom.xml", "build.gradle", "build.gradle.kts")
# Files that describe a package or a module and hold no code to test.
DESCRIPTORS = frozenset({"package-info.java", "module-info.java"})
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
    """The pom's dependencies other than JUnit's: javac alone cannot fetch them."""
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


def _uncommented(path: Path) -> str:
    """A build file's text without XML comments ('' when there is none)."""
    if not path.is_file():
        return ""
    return re.sub(r"<!--.*?-->", "", path.read_text(errors="replace"), flags=re.DOTALL)


def build_text(root: Path) -> str:
    """The project's build files, as text (what its dependencies are read from)."""
    return "\n".join((root / n).read_text(errors="replace") for n in BUILD_FILES
                     if (root / n).is_file())  # fmt: skip


class JavaRuntime(Runtime):
    language = "java"
    tests_in_tests_dir = False
    # Where the code under test and the tests live, and the source files' extension.
    main_dirs: tuple[str, ...] = (MAIN,)
    test_dir = TEST
    extensions: tuple[str, ...] = (".java",)

    def __init__(
        self,
        library: Path = JAVA_LIB,
        *,
        package_hosts: tuple[str, ...] = MAVEN_CENTRAL_HOSTS + GRADLE_HOSTS,
        maven_mirror: str = "",
        mvn: Path | None = None,
    ) -> None:
        self._javac = JavacBuild(library)
        self._gradle = GradleBuild(package_hosts=package_hosts, mirror=maven_mirror)
        self.maven = MavenBuild(package_hosts=package_hosts, mirror=maven_mirror, mvn=mvn)

    def jdk(self) -> Path:
        javac = toolchain("javac", None, missing="no JDK on this machine (javac)",
                          fix="install a JDK 11+ (Debian: default-jdk-headless)")  # fmt: skip
        return javac.resolve().parent.parent

    def maven_here(self) -> bool:
        try:
            self.maven.mvn()
        except EnvironmentFailed:
            return False
        return True

    def build_tool(self, root: Path) -> str:
        """maven for a pom when Maven is installed; gradle for a Gradle build without a pom, with
        its wrapper or a `gradle` here; else javac (JUnit-only projects)."""
        if (root / "pom.xml").is_file():
            return "maven" if self.maven_here() else "javac"
        return "gradle" if self._gradle.usable(root) else "javac"

    def availability(self) -> tuple[bool, str]:
        try:
            jdk = self.jdk()
        except EnvironmentFailed as exc:
            return False, str(exc)
        if self.maven_here():
            return True, f"the project's Maven build, JUnit 4/5 with JaCoCo, on {jdk.name}"
        try:
            self._javac.jars()
        except EnvironmentFailed as exc:
            return False, f"no Maven, and {exc}"
        return True, f"javac and JUnit 5 with JaCoCo line and branch coverage on {jdk.name}"

    # ------------------------------------------------------------------ detect
    def _sources(self, root: Path, bases: tuple[str, ...]) -> list[str]:
        found: list[str] = []
        for base in bases:
            for dirpath, dirnames, filenames in os.walk(root / base):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                found.extend(sorted((Path(dirpath) / n).relative_to(root).as_posix()
                                    for n in filenames if n.endswith(self.extensions)
                                    and n not in DESCRIPTORS))  # fmt: skip
        return found

    def detect(self, root: Path) -> Detection | None:
        if not (root / self.main_dirs[0]).is_dir() or not any(
            (root / n).is_file() for n in BUILD_FILES
        ):
            return None
        modules = self._sources(root, self.main_dirs)
        if not any(m.startswith(self.main_dirs[0]) for m in modules):
            return None
        tests = self._sources(root, (TEST, "src/test/kotlin"))
        return Detection(
            language=self.language, test_runner=junit_flavour(build_text(root)),
            package_manager=self.build_tool(root), source_roots=list(self.main_dirs),
            modules=modules, test_files=tests,
            dependency_files=[n for n in BUILD_FILES if (root / n).is_file()],
        )  # fmt: skip

    def unsupported(self, root: Path) -> str | None:
        modules = re.findall(r"<module>\s*([^<\s]+)\s*</module>", _uncommented(root / "pom.xml"))
        settings = "\n".join(_uncommented(root / n) for n in ("settings.gradle",
                                                              "settings.gradle.kts"))  # fmt: skip
        included = re.findall(r"^\s*include\s*\(?\s*[\"']([^\"']+)", settings, re.MULTILINE)
        built = modules or included
        if built and not (root / MAIN).is_dir() and not (root / "src/main/kotlin").is_dir():
            return (f"a multi-module build ({', '.join(built[:5])}) is not supported yet: "
                    "Assay builds one module whose code is in src/main/java or src/main/kotlin "
                    "at the root it is given")  # fmt: skip
        return None

    # ------------------------------------------------------------------ language
    @staticmethod
    def junit(detection: Detection) -> str:
        if detection.test_runner == "junit4":
            return "JUnit 4 (org.junit.Test, org.junit.Assert.*, @Test(expected = ...))"
        return "JUnit 5 (org.junit.jupiter.api: @Test, Assertions.*, assertThrows)"

    def idioms(self, detection: Detection) -> Idioms:
        libraries = ("only JUnit and the libraries the project's build already declares"
                     if detection.package_manager != "javac" else "no libraries beyond JUnit 5; "
                     "Java 11 syntax")  # fmt: skip
        return Idioms(
            language="Java", fence="java",
            framework="JUnit 4" if detection.test_runner == "junit4" else "JUnit 5",
            rules="Write one test class in the same package as the code, without `public` "
            f"(Assay names the file), using {self.junit(detection)}; {libraries}.",
            starts=("package ", "import "),
        )  # fmt: skip

    def candidate_path(self, module: str, index: int, engine: str, detection: Detection) -> str:
        path = self._relative(module)
        name = f"Assay{path.stem}{engine.capitalize()}{index}Test"
        return str(PurePosixPath(self.test_dir) / path.parent / f"{name}{self.extensions[0]}")

    def _relative(self, module: str) -> PurePosixPath:
        """A source file's path below its source root (its package's folders and its name)."""
        path = PurePosixPath(module)
        root = next((r for r in (*self.main_dirs, MAIN) if path.is_relative_to(r)), None)
        return path.relative_to(root) if root else PurePosixPath(path.name)

    def import_hint(self, module: str, detection: Detection) -> str:
        return ".".join(self._relative(module).with_suffix("").parts)

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
        if detection.package_manager == "maven":
            return self.maven.prepare(detection, root, sandbox, cache, self.jdk(),
                                      pit="pitest" in extra_tools)  # fmt: skip
        if detection.package_manager == "gradle":
            return self._gradle.prepare(detection, root, sandbox, cache, self.jdk())
        foreign = _foreign_dependencies(root)
        if foreign:
            raise EnvironmentFailed(
                f"this project needs Maven dependencies, and Maven is not installed: "
                f"{', '.join(foreign)}",
                fix="install Maven (Debian: maven); Assay then runs the project's own build",
            )
        if any(m.endswith(".kt") for m in detection.modules):
            raise EnvironmentFailed(
                "Kotlin needs the project's Maven or Gradle build, and neither can run here "
                "(no Maven installed, no Gradle wrapper in the project)",
                fix="install Maven (Debian: maven), or add the Gradle wrapper (gradle wrapper)",
            )
        return self._javac.prepare(self.jdk(), cache)

    def mutation_tool(self) -> MutationTool | None:
        from assay.runtimes.pit import PitMutation

        return PitMutation(self)

    # ------------------------------------------------------------------ run tests
    check_reasons = ("the code compiles", "the code does not compile")

    def commands(self, env: Environment, detection: Detection, workdir: Path, tests: list[str],
                 *, limits: Limits, collect_only: bool) -> Commands:  # fmt: skip
        if self.build_tool(workdir) == "maven":
            return self.maven.commands(env, detection, workdir, tests, limits=limits,
                                       collect_only=collect_only)  # fmt: skip
        if self.build_tool(workdir) == "gradle":
            return self._gradle.commands(env, detection, workdir, tests, limits=limits,
                                         collect_only=collect_only)  # fmt: skip
        return self._javac.commands(env, tests, limits=limits, collect_only=collect_only)

    def read_output(self, workdir: Path, records: list[dict[str, Any]], outcome: Outcome) -> str:
        if self.build_tool(workdir) == "maven":
            return self.maven.read_output(workdir)
        if self.build_tool(workdir) == "gradle":
            return self._gradle.read_output(workdir)
        return self._javac.read_output(workdir)

    def read_results(self, ran: Ran) -> TestRun:
        index = SourceIndex(self._sources(ran.workdir, ("src/main", "src/test")), MAIN)
        if self.build_tool(ran.workdir) == "maven":
            return self.maven.read_results(ran, index)
        if self.build_tool(ran.workdir) == "gradle":
            return self._gradle.read_results(ran, index)
        return self._javac.read_results(ran, index) or self.read_check(ran)
