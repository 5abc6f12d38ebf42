"""Watching how much disk one command fills where it can write (the workspace's filesystem).

RLIMIT_FSIZE bounds one file; a command writing many files is bounded here: the free space of
the workspace's filesystem is read before the command and while it runs, and the command is
stopped once it has shrunk by more than ``Limits.disk_growth``. The figure is the filesystem's,
so other programs writing to the same disk at the same time count too; the limit is set high
enough for that to matter only to a command that is filling the disk itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable

GIB = 1 << 30


def free_bytes(path: str) -> int | None:
    """Bytes an unprivileged writer may still use on path's filesystem (None when unknown)."""
    try:
        info = os.statvfs(path)
    except OSError:
        return None
    return info.f_bavail * info.f_frsize


def watcher(path: str, limit: int) -> Callable[[], str]:
    """For run_supervised's ``watch``: "" while the filesystem lost at most ``limit`` bytes
    since now, then the reason the command is stopped."""
    start = free_bytes(path)

    def watch() -> str:
        now = free_bytes(path)
        if start is not None and now is not None and start - now > limit:
            return (f"[glasscoder: the command was stopped: it filled more than "
                    f"{limit / GIB:g} GiB of disk in the workspace's filesystem]")  # fmt: skip
        return ""

    return watch
