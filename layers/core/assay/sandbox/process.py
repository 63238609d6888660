"""The local process sandbox: Linux namespaces, a read-only view of the host, rlimits, cgroups.

Each job runs as:  unshare (new mount, PID, network[, user] namespaces) -> /bin/sh (PID 1 of
the job, sets up mounts) -> setpriv (drops every capability) -> the command. Inside:
- network: only a loopback interface (none at all to the outside) unless the job allows it;
- files: `/` read-only; `/root`, `/home` and any `hidden` path covered by empty tmpfs; `/tmp`,
  `/var/tmp`, `/dev/shm` private tmpfs; the work directory read-write and the `readonly`
  paths (the interpreter, the environment) bound back read-only at their own paths;
- processes: a private /proc; when the PID-1 shell exits the kernel kills everything left in
  the namespace (daemons included); a cgroup `pids.max` (or RLIMIT_NPROC for non-root users,
  which the kernel never applies to uid 0) stops fork bombs;
- rlimits: CPU seconds, address space, file size, open files, no core dumps; a wall-clock
  timeout and an output cap enforced from outside.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

from assay.sandbox.port import Ending, Job, Limits, Outcome, Sandbox, SandboxUnavailable

# Runs as root inside the new namespaces, then drops every capability before the command.
# Arguments: workdir, number of readonly paths, the readonly paths, number of hidden paths,
# the hidden paths, network flag, then the command.
SETUP = r"""
set -eu
# Arguments: cgroup.procs path (or -), the rlimits (cpu s, address space KiB, file size in
# 512-byte blocks, open files, processes or -), the work dir, the readonly paths (count, then
# each), the hidden paths (count, then each), the network flag, then the command.
# Builtins wherever possible: every external command here costs a millisecond or more.
cg="$1"; cpu="$2"; mem="$3"; fsize="$4"; nofile="$5"; nproc="$6"; work="$7"; shift 7
if [ "$cg" != "-" ]; then echo 0 > "$cg"; fi
stage=/mnt
mount -t tmpfs -o size=1m,mode=700 tmpfs "$stage"
n="$1"; shift; i=0; dirs="$stage/work"
while [ "$i" -lt "$n" ]; do eval "ro$i=\$1"; dirs="$dirs $stage/ro$i"; shift; i=$((i + 1)); done
nro="$n"
# Stage what stays visible before anything is covered.
mkdir -p $dirs
mount --bind "$work" "$stage/work"
i=0
while [ "$i" -lt "$nro" ]; do eval "mount --bind \"\$ro$i\" $stage/ro$i"; i=$((i + 1)); done
n="$1"; shift
while [ "$n" -gt 0 ]; do
  if [ -d "$1" ]; then mount -t tmpfs -o size=1m,mode=755 tmpfs "$1"; fi
  shift; n=$((n - 1))
done
for d in /tmp /var/tmp /dev/shm; do
  if [ -d "$d" ]; then mount -t tmpfs -o size=512m,mode=1777 tmpfs "$d"; fi
done
# Bring the staged paths back at their own paths: readonly ones read-only.
targets="$work"; i=0
while [ "$i" -lt "$nro" ]; do eval "targets=\"\$targets \$ro$i\""; i=$((i + 1)); done
mkdir -p $targets
i=0
while [ "$i" -lt "$nro" ]; do
  eval "mount --bind -o ro $stage/ro$i \"\$ro$i\""; i=$((i + 1))
done
mount --bind "$stage/work" "$work"
mount -o remount,bind,ro / 2>/dev/null || true
network="$1"; shift
if [ "$network" = "0" ] && command -v ip >/dev/null 2>&1; then
  ip link set lo up 2>/dev/null || true
fi
ulimit -c 0; ulimit -n "$nofile"; ulimit -v "$mem"; ulimit -f "$fsize"
ulimit -S -t "$cpu"; ulimit -H -t $((cpu + 1))
if [ "$nproc" != "-" ]; then ulimit -p "$nproc"; fi
cd "$work"
setpriv --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
"""

HIDDEN_DEFAULT = (Path("/root"), Path("/home"))
_BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def pids_cgroup_roots() -> list[Path]:
    """Where a pids cgroup can be made: cgroup v1's pids controller, or v2 with pids enabled."""
    found = []
    v1 = Path("/sys/fs/cgroup/pids")
    if v1.is_dir():
        found.append(v1)
    v2 = Path("/sys/fs/cgroup")
    controllers = v2 / "cgroup.subtree_control"
    if controllers.is_file() and "pids" in controllers.read_text().split():
        found.append(v2)
    return found


class _PidsCgroup:
    """A pids cgroup (v2, or v1's pids controller) capping how many processes a job may have."""

    def __init__(self, limit: int) -> None:
        self.path: Path | None = None
        name = f"assay-{uuid.uuid4().hex[:12]}"
        for root in pids_cgroup_roots():
            try:
                (root / name).mkdir()
                (root / name / "pids.max").write_text(str(limit))
            except OSError:
                with contextlib.suppress(OSError):
                    (root / name).rmdir()
                continue
            self.path = root / name
            return

    def join_path(self) -> str | None:
        return str(self.path / "cgroup.procs") if self.path else None

    def kill_all(self) -> int:
        """SIGKILL every process left in the cgroup; return how many there were."""
        if self.path is None:
            return 0
        killed = 0
        for _ in range(50):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return killed
            if not pids:
                return killed
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
            time.sleep(0.01)
        return killed

    def remove(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()


class ProcessSandbox(Sandbox):
    def __init__(self, *, hidden: tuple[Path, ...] = (), allow_unisolated: bool = False) -> None:
        self._hidden = tuple(dict.fromkeys((*HIDDEN_DEFAULT, *hidden)))
        self._unshare = shutil.which("unshare")
        self._setpriv = shutil.which("setpriv")
        self._root = os.geteuid() == 0
        self._allow_unisolated = allow_unisolated
        self.isolated = self._probe()
        self.isolation = (
            "namespaces (mount, pid, net), read-only host, no capabilities, rlimits"
            if self.isolated
            else "none: rlimits and timeouts only (unsafe)"
        )

    def _namespace_flags(self, network: bool) -> list[str]:
        flags = ["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
                 "--mount-proc"]  # fmt: skip
        if not network:
            flags.append("--net")
        if not self._root:
            flags += ["--user", "--map-root-user"]
        return flags

    def _probe(self) -> bool:
        if self._unshare is None or self._setpriv is None:
            return False
        try:
            done = subprocess.run(  # noqa: S603
                [self._unshare, *self._namespace_flags(False), "true"],
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def _command(self, job: Job, cgroup_procs: str | None) -> list[str]:
        limits = job.limits
        if not self.isolated:
            prlimit = shutil.which("prlimit")
            if prlimit is None:
                return list(job.argv)
            mb = 1024 * 1024
            return [
                prlimit, f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",
                f"--as={limits.memory_mb * mb}", f"--fsize={limits.file_mb * mb}",
                f"--nofile={limits.open_files}", "--core=0", "--", *job.argv,
            ]  # fmt: skip
        assert self._unshare is not None
        readonly = [str(p) for p in job.readonly]
        hidden = [str(p) for p in self._hidden]
        return [
            self._unshare, *self._namespace_flags(limits.network), "--",
            "/bin/sh", "-c", SETUP, "assay-sandbox",
            cgroup_procs or "-", str(limits.cpu_s), str(limits.memory_mb * 1024),
            str(limits.file_mb * 2048), str(limits.open_files),
            "-" if self._root else str(limits.processes),  # the kernel exempts uid 0
            str(job.workdir),
            str(len(readonly)), *readonly, str(len(hidden)), *hidden,
            "1" if limits.network else "0", *job.argv,
        ]  # fmt: skip

    @staticmethod
    def _environment(job: Job) -> dict[str, str]:
        base = {
            "PATH": _BASE_PATH,
            "HOME": str(job.workdir),
            "TMPDIR": "/tmp",  # noqa: S108 - a private tmpfs inside the sandbox
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        }
        return {**base, **job.env}

    def run(self, job: Job) -> Outcome:
        if not self.isolated and not self._allow_unisolated:
            raise SandboxUnavailable(
                "this machine cannot isolate untrusted code (no user/network namespaces)",
                fix="enable unprivileged user namespaces, or pass --unsafe-no-sandbox to run "
                "without isolation at your own risk",
            )
        job.workdir.mkdir(parents=True, exist_ok=True)
        limits = job.limits
        cgroup = _PidsCgroup(limits.processes) if self._root else None
        join = cgroup.join_path() if cgroup else None
        if self._root and join is None and self.isolated:
            raise SandboxUnavailable(
                "running as root without a writable pids cgroup: fork bombs could not be stopped",
                fix="run assay as a regular user, or give it a writable cgroup",
            )
        started = time.monotonic()
        process = subprocess.Popen(  # noqa: S603
            self._command(job, join),
            cwd=job.workdir,
            env=self._environment(job),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # No preexec_fn: it forces a slow fork of this process. The setup script applies
            # the rlimits and joins the cgroup; unisolated runs get them from `prlimit`.
            start_new_session=True,
        )
        capture = _Capture(process, limits.output_bytes)
        # A watchdog rather than wait(timeout=...), which polls with growing sleeps and adds
        # tens of milliseconds to every run.
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            _kill_group(process, wait=False)

        watchdog = threading.Timer(limits.wall_s, expire)
        watchdog.daemon = True
        watchdog.start()
        process.wait()
        watchdog.cancel()
        ending: Ending | None = Ending.TIMEOUT if timed_out.is_set() else None
        if capture.overflow.is_set() and ending is None:
            ending = Ending.OUTPUT_LIMIT
        _kill_group(process)
        capture.join()
        leftover = cgroup.kill_all() if cgroup else 0
        if cgroup:
            cgroup.remove()
        if capture.overflow.is_set() and ending is None:
            ending = Ending.OUTPUT_LIMIT
        return _outcome(
            process,
            ending=ending,
            capture=capture,
            limits=limits,
            duration=time.monotonic() - started,
            leftover=leftover,
        )


class _Capture:
    """Drain stdout and stderr, keeping at most `cap` bytes in total; flag an overflow."""

    def __init__(self, process: subprocess.Popen[bytes], cap: int) -> None:
        self.cap = cap
        self.kept = {"stdout": bytearray(), "stderr": bytearray()}
        self.overflow = threading.Event()
        self._process = process
        self._threads = [
            threading.Thread(target=self._drain, args=(name, stream), daemon=True)
            for name, stream in (("stdout", process.stdout), ("stderr", process.stderr))
        ]
        for thread in self._threads:
            thread.start()

    def _drain(self, name: str, stream: object) -> None:
        while True:
            chunk = stream.read1(65536)  # type: ignore[attr-defined]
            if not chunk:
                return
            total = len(self.kept["stdout"]) + len(self.kept["stderr"])
            room = self.cap - total
            if room > 0:
                self.kept[name] += chunk[:room]
            if len(chunk) > room and not self.overflow.is_set():
                self.overflow.set()
                _kill_group(self._process, wait=False)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=5)

    def text(self, name: str) -> str:
        return self.kept[name].decode(errors="replace")


def _kill_group(process: subprocess.Popen[bytes], *, wait: bool = True) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if wait:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def _outcome(
    process: subprocess.Popen[bytes],
    *,
    ending: Ending | None,
    capture: _Capture,
    limits: Limits,
    duration: float,
    leftover: int,
) -> Outcome:
    code = process.returncode
    sig = -code if code is not None and code < 0 else None
    # unshare --fork reports a signalled child as 128 + signal.
    if sig is None and code is not None and code > 128:
        sig = code - 128
    if ending is None:
        if sig in (signal.SIGXCPU, signal.SIGKILL) and duration < limits.wall_s:
            ending = Ending.CPU_LIMIT if sig == signal.SIGXCPU else Ending.KILLED
        elif sig is not None:
            ending = Ending.KILLED
        else:
            ending = Ending.EXITED
    reasons = {
        Ending.TIMEOUT: f"exceeded the wall-clock limit of {limits.wall_s:g} s",
        Ending.CPU_LIMIT: f"exceeded the CPU limit of {limits.cpu_s} s",
        Ending.OUTPUT_LIMIT: f"printed more than {limits.output_bytes} bytes",
        Ending.KILLED: f"killed by signal {sig}",
        Ending.EXITED: f"exited with code {code}",
    }
    return Outcome(
        ending=ending,
        exit_code=None if ending is not Ending.EXITED else code,
        signal=sig,
        reason=reasons[ending],
        stdout=capture.text("stdout"),
        stderr=capture.text("stderr"),
        truncated=capture.overflow.is_set(),
        duration_s=round(duration, 4),
        leftover_processes=leftover,
    )
