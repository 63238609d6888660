"""The project's own suite as the baseline ran it: what passed, what failed, what could not even
be collected, and the warnings that make its coverage untrustworthy."""

from __future__ import annotations

from typing import Any

from assay.runtimes import TestRun
from assay.runtimes.results import error_lines

# pytest also fails collection on a warning turned error, and on `pytest.fail` (Failed).
KINDS = ("Error", "Exception", "Warning", "Exit", "Failed")


def _first_error(message: str | None, detail: str | None) -> str:
    """The line that names the error (`ModuleNotFoundError: No module named 'six'`): pytest
    marks the exception's own lines with `E`, the first of which names it."""
    text = detail or ""
    marked = error_lines("\n".join(ln for ln in text.splitlines() if ln.startswith("E ")), KINDS)
    found = marked[:1] or error_lines(text, KINDS)[-1:]
    return (found[0] if found else (message or "").strip())[:300]


def baseline_counts(run: TestRun, *, has_tests: bool) -> dict[str, Any]:
    """Counts, the first errors and warnings; `collection_errors` are files pytest could not
    import (the project or a test dependency missing)."""
    collection = [
        t for t in run.tests if t.outcome == "error" and "collection failure" in (t.message or "")
    ]
    by = {name: sum(t.outcome == name for t in run.tests)
          for name in ("passed", "xfailed", "failed", "error", "skipped")}  # fmt: skip
    errors = [f"{t.file}: {_first_error(t.message, t.detail)}" for t in collection]
    errors += [f"{t.test_id}: {_first_error(t.message, t.detail)}"
               for t in run.failed if t not in collection]  # fmt: skip
    warnings = []
    if collection:
        warnings.append(
            f"{len(collection)} of the project's test files could not be collected "
            f"(first: {errors[0]})"
        )
    elif has_tests and not run.tests:
        why = _first_error(None, run.output)
        warnings.append(f"the project's own tests did not run: {run.reason}"
                        + (f" ({why})" if why else ""))  # fmt: skip
        errors.append(why or run.reason)
    if has_tests and run.tests and not run.passed:
        warnings.append("none of the project's own tests passed")
    return {
        "tests": len(run.tests),
        "passed": by["passed"] + by["xfailed"],
        "failed": by["failed"],
        "errored": by["error"] - len(collection),
        "skipped": by["skipped"],
        "collection_errors": len(collection),
        "first_errors": errors[:5],
        "reason": run.reason,
        "duration_s": round(run.duration_s, 2),
        "warnings": warnings,
    }
