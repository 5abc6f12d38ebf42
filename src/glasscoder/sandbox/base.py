"""The Sandbox interface: run(argv, cwd, env, limits) -> Result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass
class Limits:
    timeout: float = 120.0  # wall-clock seconds; the whole process group is killed after it
    output_chars: int = 16_000  # head and tail are kept, the middle is cut
    # Enforced by the confining backends (bwrap), not by `none`. Address space and CPU time
    # are per process; the process count and memory are for the whole command (cgroups).
    address_space: int = 8 << 30  # bytes; generous because JITs and runtimes reserve a lot
    memory: int = 8 << 30  # bytes, every process of the command together (a memory cgroup)
    tmpfs_size: int = 1 << 30  # bytes: the most the sandbox's RAM-backed /tmp and HOME hold
    disk_growth: int = 4 << 30  # bytes the workspace's filesystem may fill during one command
    cpu_seconds: int = 600
    file_size: int = 1 << 30  # bytes: the largest file one write may grow
    open_files: int = 1024
    processes: int = 512


@dataclass
class Result:
    exit_code: int | None  # None when killed on timeout
    output: str  # stdout and stderr, interleaved as the command wrote them
    timed_out: bool = False
    truncated: bool = False


class Sandbox(Protocol):
    name: str

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> Result: ...
