"""Watching how much disk one command fills where it can write (the workspace's filesystem, and
the session's build caches', which may be another one: a RAM-backed /tmp).

RLIMIT_FSIZE bounds one file; a command writing many files is bounded here: the free space of
each of those filesystems is read before the command and while it runs, and the command is
stopped once they have shrunk by more than ``Limits.disk_growth`` together. The figures are the
filesystems', so other programs writing to the same disks at the same time count too; the limit
is set high enough for that to matter only to a command that is filling a disk itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

GIB = 1 << 30


def free_bytes(path: str) -> int | None:
    """Bytes an unprivileged writer may still use on path's filesystem (None when unknown)."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    return info.f_bavail * info.f_frsize


def watcher(paths: Sequence[str], limit: int) -> Callable[[], str]:
    """For run_supervised's ``watch``: "" while the filesystems of ``paths`` (each counted
    once) lost at most ``limit`` bytes together since now, then why the command is stopped."""
    start = {path: free_bytes(path) for path in _one_per_filesystem(paths)}

    def watch() -> str:
        lost = 0
        for path, before in start.items():
            now = free_bytes(path)
            if before is not None and now is not None:
                lost += max(0, before - now)  # space freed on one disk makes none on another
        if lost > limit:
            return (f"[glasscoder: the command was stopped: it filled more than "
                    f"{limit / GIB:g} GiB of disk in the workspace and its caches]")  # fmt: skip
        return ""

    return watch


def _one_per_filesystem(paths: Sequence[str]) -> list[str]:
    seen: dict[int, str] = {}
    for path in paths:
        try:
            seen.setdefault(os.stat(path).st_dev, path)
        except OSError:
            continue
    return list(seen.values())
