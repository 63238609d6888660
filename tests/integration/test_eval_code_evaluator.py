"""The code evaluator in the real process sandbox: what `score` returns becomes a Score, what
goes wrong becomes a reason for its own case only, and the code can neither read the server's
files, nor reach the network, nor write outside its work directory."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from assay.config import load_settings
from assay.errors import ValidationFailed
from assay.evals.code_evaluator import PythonCode, score_batch
from assay.evals.evaluators import Observed, Score
from assay.sandbox import Job, Outcome, Sandbox
from assay.sandbox.process import ProcessSandbox
from assay.wiring import make_sandbox


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    """The server's home (its database, its keys), the sandbox built as the server builds it.
    Beside this file rather than under /tmp, which the sandbox covers anyway: what hides it
    must be the server's own setting."""
    path = Path(__file__).parent / f".planted-home-{uuid.uuid4().hex}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox(home: Path) -> Sandbox:
    box = make_sandbox(load_settings(home=home))
    assert isinstance(box, ProcessSandbox)
    if not box.isolated:
        pytest.fail("this machine cannot create namespaces; the sandbox cannot be tested")
    return box


class Counting(Sandbox):
    """The real sandbox, counting its jobs; `tamper` rewrites the work directory afterwards
    (what a hostile driver could leave behind)."""

    isolation = "counting"

    def __init__(self, inner: Sandbox, tamper: Any = None) -> None:
        self.inner, self.tamper, self.jobs = inner, tamper, 0

    def run(self, job: Job) -> Outcome:
        self.jobs += 1
        outcome = self.inner.run(job)
        if self.tamper is not None:
            self.tamper(job.workdir / "results.json")
        return outcome


def cases(*outputs: str, expected: Any = "yes") -> list[tuple[Observed, dict[str, Any]]]:
    return [
        (Observed(output=o), {"id": f"item-{i}", "input": {"q": o}, "expected": expected,
                              "metadata": {"n": i}})
        for i, o in enumerate(outputs)
    ]  # fmt: skip


def run(sandbox: Sandbox, code: str, *outputs: str, **settings: Any) -> list[Score]:
    evaluator = PythonCode(name="code", type="python", code=code, **settings)
    return score_batch(sandbox, evaluator, code, cases(*outputs))


def failed(score: Score) -> bool:
    return score.score == 0.0 and not score.passed


def test_bools_numbers_and_dicts_are_scores(sandbox: Sandbox) -> None:
    code = (
        "def score(output, item):\n"
        "    assert set(item) == {'id', 'input', 'expected', 'metadata'}\n"
        "    if output == 'bool':\n        return item['expected'] == 'yes'\n"
        "    if output == 'no':\n        return False\n"
        "    if output == 'high':\n        return 0.75\n"
        "    if output == 'low':\n        return 0\n"
        "    if output == 'dict':\n"
        "        return {'score': 0.25, 'passed': True, 'reason': item['id'] + ' close'}\n"
        "    return {'score': item['metadata']['n'] / 10}\n"
    )
    scores = run(sandbox, code, "bool", "no", "high", "low", "dict", "plain", threshold=0.6)
    assert [(s.score, s.passed) for s in scores] == [
        (1.0, True), (0.0, False), (0.75, True), (0.0, False), (0.25, True), (0.5, False)
    ]  # fmt: skip
    assert {s.name for s in scores} == {"code"}
    assert scores[0].reason == "score returned True"
    assert scores[2].reason == "score 0.750 >= threshold 0.6"
    assert scores[4].reason == "item-4 close"  # the item reached the code as a dict
    assert scores[5].reason == "score 0.500 < threshold 0.6"


def test_exceptions_and_other_values_become_reasons(sandbox: Sandbox) -> None:
    code = (
        "import os\n"
        "def score(output, item):\n"
        "    if output == 'raise':\n        raise ValueError('no verdict ' * 100)\n"
        "    if output == 'exit':\n        os._exit(3)\n"
        "    return {'str': 'yes', 'big': 1.5, 'none': None, 'obj': object(),\n"
        "            'keys': {'score': 1, 'pass': True}, 'dict': {'score': 'high'},\n"
        "            'ok': True}[output]\n"
    )
    outputs = ("raise", "exit", "str", "big", "none", "obj", "keys", "dict", "ok")
    scores = dict(zip(outputs, run(sandbox, code, *outputs), strict=True))
    assert scores.pop("ok").passed
    assert all(failed(s) for s in scores.values()), scores
    reasons = {name: s.reason for name, s in scores.items()}
    assert reasons["raise"].startswith("score raised ValueError: no verdict no verdict")
    assert len(reasons["raise"]) <= 320  # truncated
    assert reasons["exit"] == "score ended its process (exit code 3)"
    assert reasons["str"] == "score returned a str, not a bool, a number in [0, 1] or a dict"
    assert reasons["big"] == "score returned 1.5, not a number in [0, 1]"
    assert reasons["none"].startswith("score returned None")
    assert reasons["obj"] == "score returned a value of type object, which JSON cannot hold"
    assert reasons["keys"] == "score returned a dict with unknown keys: pass"
    assert "'score' is a str" in reasons["dict"]


def test_code_that_does_not_load_fails_every_case_with_why(sandbox: Sandbox) -> None:
    broken = run(sandbox, "def score(output, item:\n    return True\n", "a", "b")
    assert all(failed(s) and "does not compile: SyntaxError" in s.reason for s in broken)
    missing = run(sandbox, "def scorer(output, item):\n    return True\n", "a")
    assert "defines no score(output, item)" in missing[0].reason
    raising = run(sandbox, "import no_such_module\n", "a")
    assert "ModuleNotFoundError" in raising[0].reason


def test_an_endless_loop_times_out_for_its_case_only(sandbox: Sandbox) -> None:
    code = "def score(output, item):\n    while output == 'loop':\n        pass\n    return True\n"
    started = time.monotonic()
    scores = run(sandbox, code, "a", "loop", "b", timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert [s.passed for s in scores] == [True, False, True]
    assert scores[1].reason == "timed out after 0.5 s"


def test_one_sandbox_job_for_a_whole_batch(sandbox: Sandbox) -> None:
    counting = Counting(sandbox)
    code = "def score(output, item):\n    return len(output) / 10\n"
    evaluator = PythonCode(name="length", type="python", code=code)
    scores = score_batch(counting, evaluator, code, cases(*(f"{'x' * i}" for i in range(8))))
    assert counting.jobs == 1
    assert [s.score for s in scores] == [i / 10 for i in range(8)]
    assert score_batch(counting, evaluator, code, []) == []
    assert counting.jobs == 1  # no job for no cases


def test_the_code_cannot_read_the_servers_files(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    planted = [home / "keys" / "master.key", tmp_path / "secret.txt"]
    for path in planted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("hunter2")
    code = "def score(output, item):\n    return {'score': 1, 'reason': open(output).read()}\n"
    scores = run(sandbox, code, *map(str, planted))
    for score in scores:
        assert failed(score), score
        assert score.reason.startswith("score raised FileNotFoundError"), score
        assert "hunter2" not in score.reason


class Listener:
    """A TCP listener on the host's loopback, counting the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def test_the_code_cannot_reach_the_network(sandbox: Sandbox) -> None:
    listener = Listener()
    code = (
        "import socket\n"
        "def score(output, item):\n"
        f"    socket.create_connection(('127.0.0.1', {listener.port}), timeout=1).close()\n"
        "    return True\n"
    )
    try:
        scores = run(sandbox, code, "a")
    finally:
        listener.close()
    assert failed(scores[0]), scores
    assert scores[0].reason.startswith("score raised "), scores  # refused or unreachable
    assert listener.accepted == 0


def test_the_code_cannot_write_outside_its_workspace(
    sandbox: Sandbox, home: Path, tmp_path: Path
) -> None:
    targets = [
        tmp_path / "planted.txt",
        home / "planted.txt",
        Path("/etc") / f"assay-planted-{uuid.uuid4().hex}.txt",
    ]
    code = (
        "import os\n"
        "def score(output, item):\n"
        "    for path in item['input']['paths']:\n"
        "        try:\n            open(path, 'w').write('pwned')\n"
        "        except OSError:\n            pass\n"
        "    open('mine.txt', 'w').write('fine')  # its own workspace is writable\n"
        "    return os.path.exists('mine.txt')\n"
    )
    evaluator = PythonCode(name="code", type="python", code=code)
    item = {"id": "1", "input": {"paths": [str(p) for p in targets]}, "expected": None,
            "metadata": {}}  # fmt: skip
    scores = score_batch(sandbox, evaluator, code, [(Observed(output=""), item)])
    assert scores[0].passed, scores
    assert [p for p in targets if p.exists()] == []


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("tamper", "said"),
    [
        (lambda p: p.write_text("[]"), "not a list of 2 results"),
        (lambda p: p.write_text("{not json"), "not JSON"),
        (lambda p: p.write_text(json.dumps([{"kind": "value", "value": 1}] * 100_000)),
         "not a file of at most"),
        (lambda p: p.write_text('[{"kind": "oops"}, {"kind": "value"}]'), "malformed"),
        (lambda p: p.unlink(), "wrote no results"),
        (_fifo, "not a file of at most"),  # a FIFO would block a plain read forever
    ],
    ids=["wrong-length", "not-json", "huge", "malformed", "missing", "fifo"],
)  # fmt: skip
def test_hostile_results_fail_the_whole_batch_with_why(
    sandbox: Sandbox, tamper: Any, said: str
) -> None:
    tampering = Counting(sandbox, tamper)
    code = "def score(output, item):\n    return True\n"
    evaluator = PythonCode(name="code", type="python", code=code)
    scores = score_batch(tampering, evaluator, code, cases("a", "b"))
    assert len(scores) == 2
    assert all(failed(s) and said in s.reason for s in scores), scores


def test_the_settings_want_exactly_one_source_inside_the_suite(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        PythonCode.model_validate({"name": "c", "type": "python"})
    with pytest.raises(ValidationError, match="exactly one"):
        PythonCode.model_validate({"name": "c", "type": "python", "code": "x", "file": "a.py"})
    for outside in ("/etc/passwd", "../secret.py"):
        with pytest.raises(ValidationError, match="inside the suite's folder"):
            PythonCode.model_validate({"name": "c", "type": "python", "file": outside})
    with pytest.raises(ValidationError):
        PythonCode.model_validate({"name": "c", "type": "python", "code": "x", "timeout_s": 0})
    (tmp_path / "scorers").mkdir()
    (tmp_path / "scorers" / "judge.py").write_text("def score(output, item):\n    return 1\n")
    evaluator = PythonCode.model_validate(
        {"name": "c", "type": "python", "file": "scorers/judge.py"}
    )
    assert "def score" in evaluator.load_source(tmp_path)
    (tmp_path / "scorers" / "link.py").symlink_to("/etc/hostname")
    linked = PythonCode.model_validate({"name": "c", "type": "python", "file": "scorers/link.py"})
    with pytest.raises(ValidationFailed, match="leads out of the suite's folder"):
        linked.load_source(tmp_path)
