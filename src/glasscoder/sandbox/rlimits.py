"""Per-process resource limits for a sandboxed command, set between fork and exec.

Limits set in the child before it execs bwrap are inherited by everything bwrap starts, and a
process without CAP_SYS_RESOURCE (inside the sandbox: none) can only lower them further.
"""

from __future__ import annotations

import resource
from collections.abc import Callable

from glasscoder.sandbox.base import Limits

Rlimit = tuple[int, int, int]  # (resource, soft, hard)


def planned(limits: Limits) -> list[Rlimit]:
    """The limits to set, clamped to the caller's own hard limits (raising them would fail)."""
    wanted = [
        (resource.RLIMIT_AS, limits.address_space, limits.address_space),
        # The soft limit sends SIGXCPU, which a process may catch; the hard one is SIGKILL.
        (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1),
        (resource.RLIMIT_FSIZE, limits.file_size, limits.file_size),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),  # a core dump of a killed command could be gigabytes
    ]
    return [(res, _clamp(soft, res), _clamp(hard, res)) for res, soft, hard in wanted]


def setter(limits: Limits) -> Callable[[], None]:
    """A function for the child (preexec) that sets the limits; computed in the parent."""
    plan = planned(limits)

    def apply() -> None:
        for res, soft, hard in plan:
            resource.setrlimit(res, (soft, hard))

    return apply


def _clamp(value: int, res: int) -> int:
    hard = resource.getrlimit(res)[1]
    return value if hard == resource.RLIM_INFINITY else min(value, hard)
