"""Kotlin: `src/main/kotlin` (Java beside it allowed), tests in `src/test/kotlin` with JUnit 5 or
4 and kotlin.test, built by the project's own Maven build (its kotlin-maven-plugin) or Gradle
build and measured by JaCoCo, exactly as Java is (`runtimes.java`); only the language
differs."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from assay.runtimes import scanning
from assay.runtimes.java import JavaRuntime
from assay.runtimes.port import Detection, Idioms

MAIN, TEST = "src/main/kotlin", "src/test/kotlin"
_MODIFIERS = r"(?:(?:public|private|internal|protected|override|open|final|abstract|suspend|" \
    r"inline|operator|infix|tailrec|external)\s+)*"  # fmt: skip
_CLASS = re.compile(r"^((?:[ \t]*(?:public|internal|open|final|abstract|data)\s+)*)class\s+(\w+)",
                    re.MULTILINE)  # fmt: skip
_OWNER = re.compile(r"^[ \t]*(?:\w+\s+)*(?:class|object|interface)\s+(\w+)", re.MULTILINE)
# `fun name(`, `fun <T> Receiver.name(`, or a backquoted name (`fun \`adds two numbers\`(`).
_FUN = re.compile(rf"^[ \t]*{_MODIFIERS}fun\s+(?:<[^>]+>\s+)?(?:[\w.<>?]+\.)?"
                  r"`?(?P<name>[^`(\s][^`(]*?)`?\s*\(", re.MULTILINE)  # fmt: skip
_TEST_FUN = re.compile(rf"^[ \t]*@Test\b[^\n]*\n(?:[ \t]*@[^\n]*\n)*[ \t]*{_MODIFIERS}fun\s+"
                       r"`?(?P<name>[^`(\s][^`(]*?)`?\s*\(", re.MULTILINE)  # fmt: skip


class KotlinRuntime(JavaRuntime):
    language = "kotlin"
    main_dirs = (MAIN, "src/main/java")
    test_dir = TEST
    extensions = (".kt", ".java")

    def availability(self) -> tuple[bool, str]:
        usable, said = super().availability()
        if usable and not self.maven_here():
            return True, ("Kotlin through a Gradle wrapper only (Kotlin needs the project's "
                          "Maven or Gradle build, and Maven is not installed)")  # fmt: skip
        return usable, said.replace("JUnit 4/5", "JUnit 4/5 and kotlin.test")

    def idioms(self, detection: Detection) -> Idioms:
        return Idioms(
            language="Kotlin", fence="kotlin",
            framework="JUnit 4" if detection.test_runner == "junit4" else "JUnit 5",
            rules="Write one test class in the same package as the code (Assay names the "
            f"file), with `@Test fun` methods, using {self.junit(detection)} or kotlin.test "
            "(assertEquals, assertFailsWith); only the libraries the project's build already "
            "declares.",
            starts=("package ", "import "),
        )  # fmt: skip

    def place(self, code: str, path: str) -> str:
        """Name the first top-level class after its file, so candidates never collide."""
        return _CLASS.sub(lambda m: f"{m.group(1)}class {PurePosixPath(path).stem}", code, 1)

    def functions(self, source: str) -> list[tuple[str, int, int]]:
        owners = [(m.start(), m.group(1)) for m in _OWNER.finditer(source)]
        found = []
        for match in _FUN.finditer(source):
            # The nearest class or object declared above it (a scanner's guess, like Java's).
            owner = next((n for at, n in reversed(owners) if at < match.start()), None)
            params = scanning.matching(source, match.end() - 1)
            if params is None:
                continue
            body = re.compile(r"\s*(?::\s*[^={\n]+)?\s*([{=])").match(source, params + 1)
            if body is None:
                continue
            if body.group(1) == "{":
                close = scanning.matching(source, body.end() - 1)
                if close is None:
                    continue
            else:  # an expression body: to the end of its line
                close = source.find("\n", body.end())
                close = len(source) if close < 0 else close
            name = f"{owner}.{match.group('name')}" if owner else match.group("name")
            found.append((name, source.count("\n", 0, match.start()) + 1,
                          source.count("\n", 0, close) + 1))  # fmt: skip
        return found

    def prune(self, code: str, failing: set[str]) -> str | None:
        return scanning.cut_blocks(code, _TEST_FUN, {n.split("(")[0] for n in failing})
