"""Cgroups for one command: its process count, its memory as a whole, and what is left of it.

RLIMIT_NPROC does nothing for root and counts every process of the user otherwise, so the
process count is bounded by the pids controller instead: cgroup v2 where the controller is
delegated to our cgroup, else the v1 pids hierarchy. RLIMIT_AS is per process (three processes
may each take the whole limit), so the command's memory as a whole, page cache and tmpfs
included, is bounded by the memory controller, found the same way (with swap refused, so the
bound is not moved onto the disk); past it the kernel kills a process of the command, and
the result says so. When a controller is not writable (an ordinary user without a delegated
cgroup) its bound is missing: `available()` / `memory_available()` say so and `sandbox check`
reports it as degraded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

from glasscoder.sandbox.base import Limits

_counter = itertools.count()


class PidsCgroup:
    def __init__(self, path: Path, v2: bool) -> None:
        self.path = path
        self.v2 = v2

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A new child cgroup limited to max_pids processes, or None when that is not possible."""
        return cls.make("pids", {"pids.max": str(max_pids)})

    @classmethod
    def make(cls, controller: str, settings: dict[str, str]) -> PidsCgroup | None:
        """A new child cgroup in our cgroup of the hierarchy holding ``controller``, with its
        files written in order (a file that does not exist, such as memory.swap.max without
        swap accounting, is skipped); None when none can be made."""
        for parent, v2 in _parents(controller):
            path = parent / f"glasscoder-{os.getpid()}-{next(_counter)}"
            try:
                path.mkdir()
            except OSError:
                continue
            if _write_settings(path, settings):
                return cls(path, v2)
            _try_rmdir(path)  # the controller is not enabled for this subtree
        return None

    def join(self) -> None:
        """Move the calling process in; for the child between fork and exec (syscalls only)."""
        fd = os.open(self.path / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0")  # 0: the writing process itself
        finally:
            os.close(fd)

    def remove(self, within: float = 2.0) -> None:
        """Kill whatever is still in the cgroup, then delete it.

        Right after the command ends its last processes may still be leaving the cgroup, so
        removal is retried in short steps rather than given up or slept on.
        """
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            pids = self._pids()
            if not pids and _try_rmdir(self.path):
                return
            if pids and self.v2 and (self.path / "cgroup.kill").exists():
                with contextlib.suppress(OSError):
                    (self.path / "cgroup.kill").write_text("1")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    def _pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []


class CommandCgroups:
    """The cgroups one command joins: the pids one and, where one can be made, a memory one
    (on cgroup v2 both are the same folder). ``memory_limited`` tells whether the command's
    memory as a whole is bounded."""

    def __init__(self, pids: PidsCgroup | None, memory: PidsCgroup | None) -> None:
        self.pids = pids
        self.memory = memory
        self.groups = [g for g in dict.fromkeys([pids, memory]) if g is not None]

    @classmethod
    def create(cls, limits: Limits) -> CommandCgroups:
        memory = _memory_settings(limits.memory)
        pids = PidsCgroup.make("pids", {"pids.max": str(limits.processes)})
        if pids is not None and pids.v2 and _write_settings(pids.path, memory):
            return cls(pids, pids)  # one v2 cgroup holds both controllers
        if pids is not None and pids.v2:
            return cls(pids, None)  # a process is in one v2 cgroup: no memory one beside it
        return cls(pids, PidsCgroup.make("memory", memory))

    @property
    def pids_limited(self) -> bool:
        return self.pids is not None

    @property
    def memory_limited(self) -> bool:
        return self.memory is not None

    def join(self) -> None:
        """Move the calling process into each; for the child between fork and exec."""
        for group in self.groups:
            group.join()

    def memory_kills(self) -> int:
        """How many processes the kernel killed for the memory bound (read before remove)."""
        if self.memory is None:
            return 0
        name = "memory.events" if self.memory.v2 else "memory.oom_control"
        for line in _read(self.memory.path / name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self) -> None:
        for group in self.groups:
            group.remove()


def memory_note(kills: int, limit: int) -> str:
    """The line a command's output ends with when the memory bound stopped part of it."""
    gib = limit / (1 << 30)
    return (f"[glasscoder: the command reached its memory limit of {gib:g} GiB (all its "
            f"processes together); the kernel killed {kills} of its processes]")  # fmt: skip


def _memory_settings(limit: int) -> dict[str, str]:
    """The bound, and no swap beyond it (else the bound just moves onto the disk): v2 files,
    then v1 files (memsw after the plain limit, which it must not be below)."""
    value = str(limit)
    return {"memory.max": value, "memory.swap.max": "0",
            "memory.limit_in_bytes": value, "memory.memsw.limit_in_bytes": value}  # fmt: skip


def _write_settings(path: Path, settings: dict[str, str]) -> bool:
    """Write the files that exist (v2 and v1 name them differently); False when a write
    fails, or when no file but the swap ones exists (the controller is not there)."""
    written = False
    for name, value in settings.items():
        if not (path / name).exists():
            continue
        try:
            (path / name).write_text(f"{value}\n")
        except OSError:
            return False
        written = written or ("swap" not in name and "memsw" not in name)
    return written


def memory_available() -> tuple[bool, str]:
    """Whether a memory cgroup can be made here, and which kind (for `sandbox check`)."""
    group = CommandCgroups.create(Limits())
    try:
        if group.memory is None:
            return False, "no writable memory cgroup (v2 delegation or v1 memory hierarchy)"
        return True, "cgroup v2" if group.memory.v2 else "cgroup v1 memory hierarchy"
    finally:
        group.remove()


def available() -> tuple[bool, str]:
    """Whether a pids cgroup can be made here, and which kind (for `sandbox check`)."""
    group = PidsCgroup.create(1)
    if group is None:
        return False, "no writable pids cgroup (v2 delegation or v1 pids hierarchy)"
    group.remove()
    return True, "cgroup v2" if group.v2 else "cgroup v1 pids hierarchy"


def _parents(controller: str = "pids") -> list[tuple[Path, bool]]:
    """Our own cgroup in each hierarchy that has the controller, v2 first."""
    mounts = _mounts(controller)
    found = []
    for line in _read("/proc/self/cgroup").splitlines():
        hid, controllers, rel = line.split(":", 2)
        if hid == "0" and "cgroup2" in mounts:
            base = Path(mounts["cgroup2"]) / rel.lstrip("/")
            if controller in _read(base / "cgroup.controllers").split():
                found.insert(0, (base, True))
        elif controller in controllers.split(",") and controller in mounts:
            found.append((Path(mounts[controller]) / rel.lstrip("/"), False))
    return found


def _mounts(controller: str) -> dict[str, str]:
    """Mount points: 'cgroup2' for the unified hierarchy, the controller for its v1 one."""
    mounts: dict[str, str] = {}
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = [*right.split(), "", "", ""][:3]
        point = left.split()[4]
        if fstype == "cgroup2":
            mounts.setdefault("cgroup2", point)
        elif fstype == "cgroup" and controller in options.split(","):
            mounts.setdefault(controller, point)
    return mounts


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _try_rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError:  # EBUSY until the last exiting process has left
        return False
    return True
