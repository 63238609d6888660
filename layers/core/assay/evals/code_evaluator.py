"""The code evaluator: a suite's own `def score(output, item)`, run in the sandbox, never in
this process, so it can read none of the server's files and reach no network.

A batch of cases is one sandbox job: the batch (as JSON), the user's code and a small driver
go into a fresh work directory; the driver compiles the code once, then runs the cases in a
forked worker that loads it and scores one case after another, each within the evaluator's
time limit. A case that hangs or kills its worker is scored as failed and a new worker goes on
with the next case, so one bad case never costs the others. What the driver writes back is
untrusted: it is read with a size cap and validated, and a batch whose results cannot be read
fails every case with the reason.

`score` may return a bool, a number in [0, 1], or {"score": number, "passed"?: bool,
"reason"?: str}; anything else, an exception or a timeout scores 0 with the problem as the
reason."""

from __future__ import annotations

import json
import math
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assay.errors import ValidationFailed
from assay.evals.evaluators import Observed, Score, _Evaluator
from assay.runtimes.results import read_inside
from assay.sandbox import Job, Limits, Outcome, Sandbox

MAX_SOURCE_BYTES = 1_000_000
RECORD_BYTES = 16_384  # one case's result as the driver sends it
REASON_CHARS = 500
# Starting the sandbox and the interpreter, on top of the cases' own limits.
STARTUP_S = 15.0

DRIVER = r'''
import json, os, select, signal, sys, time, types

RECORD_BYTES = @RECORD_BYTES@


def describe(exc):
    try:
        text = str(exc)
    except BaseException:
        text = "(unprintable)"
    name = type(exc).__name__
    return (f"{name}: {text}" if text else name)[:300]


def work(fd, code, cases, start):
    # The forked worker: never returns into the driver (os._exit in every path).
    try:
        os.setpgid(0, 0)
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):  # what the user's code prints goes nowhere
            os.dup2(null, target)
        out = os.fdopen(fd, "wb")

        def send(record):
            out.write(json.dumps(record).encode() + b"\n")
            out.flush()

        module = types.ModuleType("assay_score")
        module.__file__ = code.co_filename
        sys.modules[module.__name__] = module  # dataclasses and pickle look modules up
        try:
            exec(code, module.__dict__)
        except BaseException as exc:
            send({"loaded": False, "error": "loading the code raised " + describe(exc)})
            return
        score = module.__dict__.get("score")
        if not callable(score):
            send({"loaded": False, "error": "the code defines no score(output, item) function"})
            return
        send({"loaded": True})
        for index in range(start, len(cases)):
            case = cases[index]
            try:
                value = score(case["output"], case["item"])
            except BaseException as exc:
                send({"i": index, "kind": "error", "error": "score raised " + describe(exc)})
                continue
            try:
                text = json.dumps({"i": index, "kind": "value", "value": value})
            except BaseException:
                text = json.dumps({"i": index, "kind": "unencodable",
                                   "type": str(type(value).__name__)[:100]})
            if len(text) > RECORD_BYTES:
                text = json.dumps({"i": index, "kind": "error",
                                   "error": f"score returned more than {RECORD_BYTES} bytes"})
            out.write(text.encode() + b"\n")
            out.flush()
    finally:
        os._exit(0)


class Worker:
    def __init__(self, code, cases, start):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            work(write, code, cases, start)
        os.close(write)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        self.pid, self.fd, self.buffer = pid, read, b""

    def line(self, timeout):
        """The worker's next line, or why there is none: timeout, ended, large."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            if len(self.buffer) > RECORD_BYTES:
                return "large"
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return "timeout"
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return "ended"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return "large" if len(line) > RECORD_BYTES else line

    def stop(self):
        """Kill the worker and whatever it started; say how it had ended."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        if os.WIFSIGNALED(status):
            return f"signal {os.WTERMSIG(status)}"
        return f"exit code {os.WEXITSTATUS(status)}"


def main(batch_path, results_path, code_path):
    with open(batch_path) as handle:
        batch = json.load(handle)
    cases, timeout = batch["cases"], batch["timeout_s"]
    results = [None] * len(cases)
    problem = None
    with open(code_path, encoding="utf-8") as handle:
        source = handle.read()
    try:
        code = compile(source, code_path, "exec")
    except BaseException as exc:
        code, problem = None, "the code does not compile: " + describe(exc)
    index = 0
    while code is not None and index < len(cases):
        worker = Worker(code, cases, index)
        loaded = worker.line(timeout)
        if isinstance(loaded, str):
            ended = worker.stop()
            problem = {"timeout": f"loading the code timed out after {timeout:g} s",
                       "large": "loading the code sent an oversized answer"}.get(
                           loaded, f"loading the code ended the process ({ended})")
            break
        try:
            message = json.loads(loaded)
            loaded_ok, error = message["loaded"] is True, str(message.get("error"))
        except Exception:
            loaded_ok, error = False, "loading the code sent an unreadable answer"
        if not loaded_ok:
            worker.stop()
            problem = error
            break
        while index < len(cases):
            got = worker.line(timeout)
            if isinstance(got, bytes):
                try:
                    record = json.loads(got)
                    if record.pop("i") != index:
                        raise ValueError(index)
                except Exception:
                    record = {"kind": "error", "error": "the worker sent an unreadable result"}
                results[index] = record
                index += 1
                continue
            ended = worker.stop()
            why = {"timeout": f"timed out after {timeout:g} s",
                   "large": f"score returned more than {RECORD_BYTES} bytes"}.get(
                       got, f"score ended its process ({ended})")
            results[index] = {"kind": "error", "error": why}
            index += 1
            break
        else:
            worker.stop()
    for at, record in enumerate(results):
        if record is None:
            results[at] = {"kind": "error", "error": problem or "not scored"}
    with open(results_path, "w") as handle:
        json.dump(results, handle)


main(*sys.argv[1:4])
'''.replace("@RECORD_BYTES@", str(RECORD_BYTES))


class PythonCode(_Evaluator):
    """`score(output, item)` from inline `code` or a `file` beside the suite; it passes at
    `threshold` unless it says whether it passed."""

    type: Literal["python"]
    code: str | None = Field(default=None, min_length=1)
    file: str | None = Field(default=None, min_length=1, description="relative to the suite")
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_source(self) -> PythonCode:
        if (self.code is None) == (self.file is None):
            raise ValueError("give exactly one of `code` (inline) and `file`")
        # The file is read by the server and sent into the sandbox: only from the suite's
        # own folder, or a suite could hand the server's files to its code.
        if self.file is not None and (
            Path(self.file).is_absolute() or ".." in Path(self.file).parts
        ):
            raise ValueError("`file` must be a path inside the suite's folder")
        return self

    def load_source(self, suite_dir: Path) -> str:
        """The code: inline, or the file relative to `suite_dir` (ValidationFailed if missing,
        too large, or reached through a link out of the folder)."""
        if self.code is not None:
            return self.code
        assert self.file is not None
        path = suite_dir / self.file
        try:
            if not path.resolve().is_relative_to(suite_dir.resolve()):
                raise ValidationFailed(f"{self.name}: {self.file} leads out of the suite's folder")
            if path.stat().st_size > MAX_SOURCE_BYTES:
                raise ValidationFailed(f"{self.name}: {self.file} is over {MAX_SOURCE_BYTES} bytes")
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"{self.name}: cannot read {self.file}: {exc}") from None


class _Record(BaseModel):
    """One case as the driver reports it (untrusted)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["value", "unencodable", "error"]
    value: Any = None
    type: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=2000)


class _Failed(Exception):
    """A batch's results, or a case's, cannot be used; the message says why."""


def score_batch(
    sandbox: Sandbox,
    evaluator: PythonCode,
    source: str,
    cases: list[tuple[Observed, dict[str, Any]]],
) -> list[Score]:
    """Score each (output, item) case with the evaluator's `source`, in one sandbox job; a
    Score per case, in order. `item` is the dataset item as a JSON-able dict (id, input,
    expected, metadata). Never raises for what the code does; SandboxUnavailable still does."""
    if not cases:
        return []
    base = Path(sys.base_prefix)  # the driver needs only the standard library
    wall = evaluator.timeout_s * (2 * len(cases) + 1) + STARTUP_S  # each case may reload
    limits = Limits(wall_s=wall, cpu_s=math.ceil(wall) + 1, processes=32, output_bytes=100_000)
    batch = {"timeout_s": evaluator.timeout_s,
             "cases": [{"output": o.output, "item": item} for o, item in cases]}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="assay-eval-code-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        (work / "driver.py").write_text(DRIVER, encoding="utf-8")
        (work / "score_code.py").write_text(source, encoding="utf-8")
        (work / "batch.json").write_text(json.dumps(batch), encoding="utf-8")
        # -I: no user site-packages, no PYTHON* variables, no script folder on sys.path.
        argv = [str(base / "bin" / "python3"), "-I", "driver.py", "batch.json", "results.json",
                str(work / "score_code.py")]  # fmt: skip
        outcome = sandbox.run(Job(argv=argv, workdir=work, readonly=[base], limits=limits))
        try:
            records = _records(work, len(cases))
        except _Failed as exc:
            why = str(exc) if outcome.ok else f"{exc}; the job {_ending(outcome)}"
            return [evaluator._score(0.0, False, why) for _ in cases]
    return [_interpret(evaluator, record) for record in records]


def _ending(outcome: Outcome) -> str:
    last = outcome.stderr.strip().splitlines()[-1:]
    return outcome.reason + (f" ({last[0][:200]})" if last else "")


def _records(work: Path, count: int) -> list[_Record]:
    """The driver's records, one per case (_Failed: why they cannot be used)."""
    limit = count * (RECORD_BYTES + 256) + 4096
    # A regular file only: a FIFO planted there would block the read forever (the job and
    # every process it started are gone, so nothing can swap it in after this check).
    try:
        regular = stat.S_ISREG((work / "results.json").lstat().st_mode)
    except OSError:
        raise _Failed("the code evaluator wrote no results") from None
    data = read_inside(work, "results.json", limit) if regular else None
    if data is None:
        raise _Failed(f"the code evaluator's results are not a file of at most {limit} bytes")
    try:
        raw = json.loads(data)
    except ValueError:
        raise _Failed("the code evaluator's results are not JSON") from None
    if not isinstance(raw, list) or len(raw) != count:
        raise _Failed(f"the code evaluator's results are not a list of {count} results")
    try:
        return [_Record.model_validate(r) for r in raw]
    except ValidationError as exc:
        raise _Failed(
            f"the code evaluator's results are malformed: {exc.errors()[0]['msg']}"
        ) from None


def _interpret(evaluator: PythonCode, record: _Record) -> Score:
    try:
        score, passed, reason = _judged(record, evaluator.threshold)
    except _Failed as exc:
        return evaluator._score(0.0, False, str(exc)[:REASON_CHARS])
    return evaluator._score(score, passed, reason[:REASON_CHARS])


def _judged(record: _Record, threshold: float) -> tuple[float, bool, str]:
    """(score, passed, reason) from what `score` returned (_Failed: it failed, or returned
    something else than a bool, a number in [0, 1] or a dict)."""
    if record.kind == "error":
        raise _Failed(record.error or "score failed")
    if record.kind == "unencodable":
        raise _Failed(f"score returned a value of type {record.type}, which JSON cannot hold")
    value = record.value
    if isinstance(value, bool):
        return float(value), value, f"score returned {value}"
    if not isinstance(value, dict):
        number = _number(value, "score returned", ", not a bool, a number in [0, 1] or a dict")
        return number, *_against(number, threshold)
    unknown = sorted(set(value) - {"score", "passed", "reason"})
    if unknown:
        raise _Failed(f"score returned a dict with unknown keys: {', '.join(unknown)[:200]}")
    number = _number(value.get("score"), "score returned a dict whose 'score' is",
                     ", not a number in [0, 1]")  # fmt: skip
    passed, reason = _against(number, threshold)
    passed = value.get("passed", passed)
    reason = value.get("reason", reason)
    if not isinstance(passed, bool):
        raise _Failed("score returned a dict whose 'passed' is not a bool")
    if not isinstance(reason, str):
        raise _Failed("score returned a dict whose 'reason' is not a str")
    return number, passed, reason


def _number(value: Any, said: str, wanted: str) -> float:
    """`value` as a score: a finite number in [0, 1] (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Failed(f"{said} {'None' if value is None else 'a ' + type(value).__name__}{wanted}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise _Failed(f"{said} {value!r}, not a number in [0, 1]")
    return number


def _against(score: float, threshold: float) -> tuple[bool, str]:
    passed = score >= threshold
    return passed, f"score {score:.3f} {'>=' if passed else '<'} threshold {threshold}"
