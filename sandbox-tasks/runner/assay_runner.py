#!/usr/bin/env python3
"""Assay's sandbox runner: the program that runs *inside* a sandbox.

Locally the process sandbox starts it; in AWS it is the entry point of every Fargate sandbox
image. It must run on any Python 3.8+ with the standard library only, because it runs under the
target project's interpreter, not Assay's.

    python assay_runner.py JOB.json

JOB.json: {"steps": [{"name": str, "argv": [str, ...], "timeout_s": number,
                      "env": {str: str}}, ...],
           "results": "path/to/results.json", "stop_on_failure": bool,
           "bridge": {"port": int, "socket": "/path/to/proxy.sock"}}

With "bridge", the runner listens on 127.0.0.1:port inside the sandbox and forwards each
connection to the Unix socket: the sandbox's only way to the registry proxy outside.

Each step runs in turn, in the current directory, with its own timeout; the runner writes one
record per step (exit code, duration, the tail of its output) to `results` and exits 0 if every
step exited 0, else 1. A step that times out is killed with its whole process group.

    python assay_runner.py --remote

is how a Fargate sandbox runs it: ASSAY_JOB_URL (a presigned GET) is a .tar.gz holding
job.json and the workspace, unpacked into ASSAY_SCRATCH (default /scratch, the task's only
writable place); after the job, results.json and the files job.json lists under "collect"
go back as a .tar.gz to ASSAY_RESULTS_URL (a presigned PUT). The task needs no AWS
credentials and holds no task token: the URLs are all it can reach.

A job archive whose job.json says "rooted" carries its files under `root/` at the absolute
paths they had where the job was made (a venv only works where it was built): they are put
back at those paths under ASSAY_ROOT (default /), only below the writable roots listed in
ASSAY_WRITABLE (default /tmp and the scratch directory); the job runs in its "cwd" there, and
that directory's files go back with the results under `work/`. The runner then exits 0: the
task succeeded when the results were delivered, whatever the job's own exit codes say.

    python assay_runner.py --session   (or --remote with ASSAY_SESSION_URL set: the images)

runs many rooted jobs in one task (a sandbox session: one task start for a whole unit of
work). ASSAY_SESSION_URL (a presigned GET) is a manifest: {"ready": PUT, "stop": GET,
"cursor": GET, "jobs": [{"job": GET, "results": PUT}, ...], "idle_s": n, "poll_s": n}. The
runner says it is up through "ready", then waits for job 0 (a GET that fails until the job is
written), runs it, puts its results, and goes on to job 1 (a task started again begins at the
steps' "cursor"); it ends when "stop" answers, when no job came for
idle_s, or when the slots run out. Between jobs the paths the previous job restored are
removed and, in an ECS task (its container is the session's alone), every process it left
behind is killed, so each job starts from the image and its own archive.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
from typing import Any

TAIL = 20000  # bytes of output kept per step


def run_step(step: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    env = dict(os.environ)
    env.update(step.get("env") or {})
    record = {"name": step.get("name", step["argv"][0]), "argv": step["argv"]}
    try:
        process = subprocess.Popen(  # noqa: S603 - running the job's commands is the point
            step["argv"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        record.update(exit_code=127, timed_out=False, output=str(exc), duration_s=0.0)
        return record
    # Read the output beside the wait: a background process the step left behind keeps the
    # pipe open, and waiting for its end would hold the job until its wall time.
    chunks: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(process.stdout, chunks), daemon=True)
    reader.start()
    try:
        process.wait(timeout=step.get("timeout_s") or None)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # the step, or what it left running
    process.wait()
    reader.join(timeout=5)
    output = b"".join(chunks)
    record.update(
        exit_code=process.returncode,
        timed_out=timed_out,
        output=output[-TAIL:].decode("utf-8", "replace"),
        duration_s=round(time.monotonic() - started, 4),
    )
    return record


def _drain(stream: Any, chunks: list[bytes]) -> None:
    """Keep what a step prints (the tail is what is kept)."""
    kept = 0
    for chunk in iter(lambda: stream.read1(65536), b""):
        chunks.append(chunk)
        kept += len(chunk)
        while kept > 2 * TAIL and len(chunks) > 1:
            kept -= len(chunks.pop(0))


def _forward(client: socket.socket, path: str) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
        pair = [client, upstream]
        while True:
            readable, _, _ = select.select(pair, [], [], 300)
            if not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)
    except OSError:
        return
    finally:
        upstream.close()
        client.close()


def start_bridge(port: int, path: str) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)

    def accept() -> None:
        while True:
            client, _ = listener.accept()
            threading.Thread(target=_forward, args=(client, path), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def _unpack(archive: bytes, into: str) -> None:
    """Refuse members that would land outside `into` (absolute, `..`, links)."""
    root = os.path.realpath(into)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(root, member.name))
            if not (member.isfile() or member.isdir()) or not (
                target == root or target.startswith(root + os.sep)
            ):
                raise ValueError("unsafe member in the job archive: " + member.name)
        tar.extractall(root)  # noqa: S202 - every member checked above


def _pack(root: str, names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in names:
            path = os.path.join(root, name)
            if os.path.exists(path):
                tar.add(path, arcname=name)
    return buffer.getvalue()


def _unpack_rooted(archive: bytes, root: str, writable: list[str]) -> None:
    """Members `root/<absolute path>` back at that path under `root`; files, directories and
    links only, and only below a writable prefix (the archive comes from the step that made
    the job; the fence keeps a mistake from touching the image). A hard link (a build cache
    links its entries) must name a member of the archive, mapped the same way."""

    def allowed(path: str) -> bool:
        return any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable)

    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = []
        for member in tar.getmembers():
            if member.name == "job.json":
                continue
            path = os.path.normpath("/" + member.name[len("root/") :])
            kind_ok = member.isfile() or member.isdir() or member.issym() or member.islnk()
            if not member.name.startswith("root/") or not allowed(path) or not kind_ok:
                raise ValueError("unsafe member in the job archive: " + member.name)
            if member.islnk():
                target = os.path.normpath("/" + member.linkname[len("root/") :])
                if not member.linkname.startswith("root/") or not allowed(target):
                    raise ValueError("unsafe link in the job archive: " + member.name)
                member.linkname = target.lstrip("/")
            member.name = path.lstrip("/")
            members.append(member)
        tar.extractall(root, members=members, filter="tar")


def _pack_dir(directory: str, results: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(results, arcname="results.json")
        tar.add(directory, arcname="work")
    return buffer.getvalue()


def _read_job(archive: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        handle = tar.extractfile("job.json")
        if handle is None:
            raise ValueError("the job archive holds no job.json")
        loaded: dict[str, Any] = json.load(handle)
        return loaded


def _put(results_url: str, body: bytes) -> None:
    request = urllib.request.Request(  # noqa: S310 - presigned
        results_url, data=body, method="PUT", headers={"Content-Type": "application/gzip"}
    )
    with urllib.request.urlopen(request, timeout=300):  # noqa: S310 - presigned
        pass


def _fences(scratch: str) -> tuple[str, list[str]]:
    """Where rooted paths land (ASSAY_ROOT) and the writable roots they must stay below."""
    root = os.environ.get("ASSAY_ROOT", "/")
    writable = os.environ.get("ASSAY_WRITABLE", "/tmp:" + scratch).split(":")  # noqa: S108
    return root, [w for w in writable if w]


def remote_rooted(job: dict[str, Any], archive: bytes, results_url: str, scratch: str) -> int:
    root, writable = _fences(scratch)
    _unpack_rooted(archive, root, writable)
    cwd = os.path.join(root, job["cwd"].lstrip("/"))
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    results = os.path.join(scratch, "results.json")
    job["results"] = results
    run_job(job)
    _put(results_url, _pack_dir(cwd, results))
    return 0  # the task did its part: the job's own exit codes are in the results


def _restored_tops(archive: bytes, root: str, writable: list[str]) -> set[str]:
    """The directories directly below a writable root that a rooted archive fills: what the
    next job of a session must not inherit."""
    tops: set[str] = set()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for name in tar.getnames():
            path = os.path.normpath("/" + name[len("root/") :])
            for fence in writable:
                prefix = fence.rstrip("/") or "/"
                if path.startswith(prefix + "/"):
                    first = path[len(prefix) + 1 :].split("/", 1)[0]
                    tops.add(os.path.join(root, prefix.lstrip("/"), first))
    return tops


def _reset(tops: set[str]) -> None:
    import shutil

    for path in tops:
        shutil.rmtree(path, ignore_errors=True)
    # Only in an ECS task (the agent sets the metadata URI), whose container is the session's
    # alone: elsewhere (the stand-in in tests) other processes are not the session's to kill.
    if "ECS_CONTAINER_METADATA_URI_V4" not in os.environ:
        return
    keep = {1, os.getpid(), os.getppid()}  # init (tini) and the runner
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in keep:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)


def _fetch(url: str) -> bytes | None:
    """A presigned GET's body, or None while the object does not exist (S3 answers 404, or
    403 when the signer may not list the bucket)."""
    import urllib.error

    try:
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - presigned
            body: bytes = answer.read()
            return body
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):
            return None
        raise


def session(manifest_url: str, scratch: str) -> int:
    manifest = json.loads(_fetch(manifest_url) or b"{}")
    root, writable = _fences(scratch)
    poll_s, idle_s = float(manifest.get("poll_s", 1.0)), float(manifest.get("idle_s", 120))
    _put(manifest["ready"], b"")
    slots = manifest.get("jobs", [])
    # A task started again (the first one failed) resumes where the steps are: the job in
    # flight if its archive is still there (a consumed job's is deleted), else the next one.
    cursor = (
        json.loads(_fetch(manifest["cursor"]) or b'{"next": 0}')["next"]
        if manifest.get("cursor")
        else 0
    )
    first = cursor - 1 if cursor > 0 and _fetch(slots[cursor - 1]["job"]) is not None else cursor
    restored: set[str] = set()
    for slot in slots[first:]:
        waited, archive = 0.0, None
        while archive is None:
            archive = _fetch(slot["job"])
            if archive is not None:
                break
            if _fetch(manifest["stop"]) is not None or waited >= idle_s:
                return 0
            time.sleep(poll_s)
            waited += poll_s
        _reset(restored)
        restored = _restored_tops(archive, root, writable)
        job = _read_job(archive)
        if not job.get("rooted"):
            raise ValueError("a session runs rooted jobs only")
        remote_rooted(job, archive, slot["results"], scratch)
    return 0


def remote(job_url: str, results_url: str, scratch: str) -> int:
    with urllib.request.urlopen(job_url, timeout=300) as answer:  # noqa: S310 - presigned
        archive = answer.read()
    job = _read_job(archive)
    if job.get("rooted"):
        return remote_rooted(job, archive, results_url, scratch)
    work = os.path.join(scratch, "work")
    os.makedirs(work, exist_ok=True)
    _unpack(archive, work)
    os.chdir(work)
    with open("job.json") as handle:
        job = json.load(handle)
    job["results"] = os.path.join(work, "results.json")
    code = run_job(job)
    _put(results_url, _pack(work, ["results.json", *job.get("collect", [])]))
    return code


def run_job(job: dict[str, Any]) -> int:
    bridge = job.get("bridge")
    if bridge:
        start_bridge(int(bridge["port"]), bridge["socket"])
    records = []
    for step in job["steps"]:
        record = run_step(step)
        records.append(record)
        if job.get("stop_on_failure") and record["exit_code"] != 0:
            break
    with open(job["results"], "w") as handle:
        json.dump({"steps": records}, handle)
    return 0 if all(r["exit_code"] == 0 for r in records) else 1


def main(argv: list[str]) -> int:
    # The images' entry point says --remote: a session's task is told so by its environment.
    if argv[1:] == ["--session"] or (
        argv[1:] == ["--remote"] and "ASSAY_SESSION_URL" in os.environ
    ):
        return session(os.environ["ASSAY_SESSION_URL"], os.environ.get("ASSAY_SCRATCH", "/scratch"))
    if argv[1:] == ["--remote"]:
        return remote(
            os.environ["ASSAY_JOB_URL"],
            os.environ["ASSAY_RESULTS_URL"],
            os.environ.get("ASSAY_SCRATCH", "/scratch"),
        )
    if len(argv) != 2:
        sys.stderr.write("usage: assay_runner.py JOB.json | --remote | --session\n")
        return 2
    with open(argv[1]) as handle:
        job = json.load(handle)
    return run_job(job)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
