"""System files only root may read, masked inside bwrap when glasscoder itself runs as root.

bwrap's user namespace maps the command's uid to the caller's. For an ordinary caller that is
the caller's own uid, so ``/etc/shadow`` or an SSH host key stays unreadable. For root it is
uid 0 outside: the command owns every root-owned file, and owner-readable secrets
(``/etc/shadow``, ``/etc/ssh/ssh_host_*_key``, ``/etc/ssl/private``, a 0700 ``/var/lib/...``)
become readable although capabilities are dropped. The rule kept here: as root, a command
reads no system path that an ordinary user could not read. The system folders where such
files live are walked once per process (no following of links), and every file without the
other-read bit, every folder without other-read or other-search, is masked like a deny-listed
workspace file.
"""

from __future__ import annotations

import functools
import os
import stat

from glasscoder.sandbox.paths import inside, under_any

# Where root-only files sit on usual systems, and how deep to look (/etc whole; data folders
# only near the top, where services keep their 0700 state).
ROOTS = {"/etc": 12, "/var": 3, "/srv": 3, "/opt": 3, "/boot": 2, "/usr/local/etc": 6}


@functools.cache
def private_system_paths() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(files, folders) under ROOTS that an ordinary user could not read."""
    files: list[str] = []
    dirs: list[str] = []
    for top, depth in ROOTS.items():
        stack = [(top, 0)]
        while stack:
            folder, level = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                mode = info.st_mode
                if stat.S_ISDIR(mode):
                    if not mode & stat.S_IROTH or not mode & stat.S_IXOTH:
                        dirs.append(entry.path)
                    elif level + 1 < depth:
                        stack.append((entry.path, level + 1))
                elif stat.S_ISREG(mode) and not mode & stat.S_IROTH:
                    files.append(entry.path)
    return tuple(sorted(files)), tuple(sorted(dirs))


def masks(covered: list[str], needed: list[str]) -> tuple[list[str], list[str]]:
    """(files, folders) to mask for a root caller: those not already under a mount of their
    own (``covered``: tmpfs areas, the workspace) and no folder holding another mount
    (``needed``: the workspace under a 0700 folder, a toolchain folder), whose mount point
    could not be made inside the read-only mask."""
    if os.geteuid() != 0:
        return [], []
    files, dirs = private_system_paths()
    keep_dirs = [d for d in dirs if not under_any(d, covered)
                 and not any(inside(n, d) for n in needed)]  # fmt: skip
    keep_files = [f for f in files if not under_any(f, covered)]
    return keep_files, keep_dirs
