"""Prompts for the LLM engine: name the missing lines and branches, include the code they need,
in the project's language and test framework (the runtime's `Idioms`)."""

from __future__ import annotations

import re

from assay.engines.port import Candidate, Feedback, Target
from assay.runtimes import Idioms


def system(idioms: Idioms) -> str:
    return (
        f"You are an expert {idioms.language} test engineer. You write small, deterministic "
        f"{idioms.framework} unit tests that execute specific uncovered lines and branches of a "
        "module. Tests must not use the network, sleep, or depend on the current time or "
        "randomness without a seed. Assert on the behaviour the code's names and comments "
        f"promise. {idioms.rules} Answer with exactly one ```{idioms.fence} code block holding "
        "a complete test file, and nothing else."
    )


def numbered(source: str) -> str:
    return "\n".join(f"{n:4d}  {line}" for n, line in enumerate(source.splitlines(), start=1))


def _gaps(target: Target) -> str:
    lines = []
    for segment in target.segments:
        branches = ", ".join(f"{a}->{b}" for a, b in segment.missing_branches) or "none"
        lines.append(
            f"- {segment.name} (lines {segment.start}-{segment.end}): missing lines "
            f"{segment.missing_lines or 'none'}; missing branches {branches}"
        )
    if not lines:
        lines.append(f"- module level: missing lines {target.missing_lines}")
    return "\n".join(lines)


def generate(target: Target, source: str, idioms: Idioms) -> str:
    return (
        f"Module `{target.module}` (import it as `{target.import_name}`):\n\n"
        f"```{idioms.fence}\n{numbered(source)}\n```\n\n"
        f"These parts are not covered by the existing tests:\n{_gaps(target)}\n\n"
        f"Write a {idioms.framework} test file that imports from `{target.import_name}` and "
        "makes the missing lines and branches run. Name each test after what it checks."
    )


def repair(target: Target, candidate: Candidate, feedback: Feedback, idioms: Idioms) -> str:
    failures = "\n".join(f"- {f}" for f in feedback.failures[:10]) or "- (none)"
    missing = feedback.still_missing_lines or target.missing_lines
    return (
        f"Your previous test file for `{target.module}`:\n\n"
        f"```{idioms.fence}\n{candidate.code}\n```\n\n"
        f"It fell short at the '{feedback.stage}' stage: {feedback.reason}.\n"
        f"Failures:\n{failures}\n"
        f"Lines still not covered: {missing}\n\n"
        "Return a corrected complete test file. If a failure shows the code behaves "
        "differently from what you asserted, and the code's behaviour looks intended, fix the "
        "assertion; keep assertions that state what the code is documented to do."
    )


_BLOCK = re.compile(r"```[A-Za-z0-9_+-]*[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(text: str, idioms: Idioms) -> str | None:
    blocks = _BLOCK.findall(text)
    if blocks:
        return str(max(blocks, key=len)).strip() + "\n"
    stripped = text.strip()
    return stripped + "\n" if stripped.startswith(idioms.starts) else None
