"""The sandbox port: run one command over a work directory, within limits, and say how it ended."""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from assay.errors import AssayError


class SandboxUnavailable(AssayError):
    status = 503
    code = "sandbox_unavailable"


class Limits(BaseModel):
    wall_s: float = Field(default=120.0, gt=0)
    cpu_s: int = Field(default=120, ge=1)
    memory_mb: int = Field(default=2048, ge=16)
    processes: int = Field(default=128, ge=4)
    file_mb: int = Field(default=256, ge=1)
    open_files: int = Field(default=256, ge=16)
    output_bytes: int = Field(default=2_000_000, ge=1024)
    network: bool = False  # dependency installs need it; tests never get it


class Job(BaseModel):
    argv: list[str] = Field(min_length=1)
    workdir: Path  # the only place the job may write (visible at the same path inside)
    readonly: list[Path] = Field(default_factory=list)  # e.g. the interpreter and its venv
    env: dict[str, str] = Field(default_factory=dict)  # added to a minimal, secret-free env
    limits: Limits = Field(default_factory=Limits)


class Ending(StrEnum):
    EXITED = "exited"  # ran to completion; see exit_code
    TIMEOUT = "timeout"
    CPU_LIMIT = "cpu_limit"
    OUTPUT_LIMIT = "output_limit"
    KILLED = "killed"  # by a signal (memory exhaustion shows up here or as a failing exit)


class Outcome(BaseModel):
    ending: Ending
    exit_code: int | None
    signal: int | None = None
    reason: str
    stdout: str
    stderr: str
    truncated: bool = False
    duration_s: float
    leftover_processes: int = 0  # processes still alive after the job ended (should be 0)

    @property
    def ok(self) -> bool:
        return self.ending is Ending.EXITED and self.exit_code == 0


class Sandbox(ABC):
    """Contract: the job cannot reach the network (unless limits.network), cannot write outside
    its work directory, sees no host secrets (environment, home directories), stays within its
    limits, and leaves no process behind when `run` returns."""

    isolation: str  # a short description for `assay doctor` and reports

    @abstractmethod
    def run(self, job: Job) -> Outcome: ...
