"""A pids cgroup for one command: bounds its process count and kills what is left of it.

RLIMIT_NPROC does nothing for root and counts every process of the user otherwise, so the
process count is bounded by the pids controller instead: cgroup v2 where the controller is
delegated to our cgroup, else the v1 pids hierarchy. When neither is writable (an ordinary
user without a delegated cgroup) there is no process bound: `available()` says so and
`sandbox check` reports it as degraded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

_counter = itertools.count()


class PidsCgroup:
    def __init__(self, path: Path, v2: bool) -> None:
        self.path = path
        self.v2 = v2

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """A new child cgroup limited to max_pids processes, or None when that is not possible."""
        for parent, v2 in _parents():
            path = parent / f"glasscoder-{os.getpid()}-{next(_counter)}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(f"{max_pids}\n")
            except OSError:  # the controller is not enabled for this subtree
                _try_rmdir(path)
                continue
            return cls(path, v2)
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


def available() -> tuple[bool, str]:
    """Whether a pids cgroup can be made here, and which kind (for `sandbox check`)."""
    group = PidsCgroup.create(1)
    if group is None:
        return False, "no writable pids cgroup (v2 delegation or v1 pids hierarchy)"
    group.remove()
    return True, "cgroup v2" if group.v2 else "cgroup v1 pids hierarchy"


def _parents() -> list[tuple[Path, bool]]:
    """Our own cgroup in each hierarchy that has the pids controller, v2 first."""
    mounts = _mounts()
    found = []
    for line in _read("/proc/self/cgroup").splitlines():
        hid, controllers, rel = line.split(":", 2)
        if hid == "0" and "cgroup2" in mounts:
            base = Path(mounts["cgroup2"]) / rel.lstrip("/")
            if "pids" in _read(base / "cgroup.controllers").split():
                found.insert(0, (base, True))
        elif "pids" in controllers.split(",") and "pids" in mounts:
            found.append((Path(mounts["pids"]) / rel.lstrip("/"), False))
    return found


def _mounts() -> dict[str, str]:
    """Mount points: 'cgroup2' for the unified hierarchy, 'pids' for v1's pids one."""
    mounts: dict[str, str] = {}
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = [*right.split(), "", "", ""][:3]
        point = left.split()[4]
        if fstype == "cgroup2":
            mounts.setdefault("cgroup2", point)
        elif fstype == "cgroup" and "pids" in options.split(","):
            mounts.setdefault("pids", point)
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
