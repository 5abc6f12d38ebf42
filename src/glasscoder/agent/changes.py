"""Which files a task changed, including through commands (git's view of the work tree)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


class ChangeTracker:
    """Snapshot dirty and untracked files now; `changed()` lists what differs later."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.before = self._snapshot()

    def changed(self) -> set[str]:
        if self.before is None:
            return set()
        after = self._snapshot() or {}
        return {path for path in self.before.keys() | after.keys()
                if self.before.get(path) != after.get(path)}  # fmt: skip

    def _snapshot(self) -> dict[str, str] | None:
        paths = _dirty_paths(self.root)
        if paths is None:
            return None
        return {p: _digest(self.root / p) for p in paths}


def _dirty_paths(root: Path) -> list[str] | None:
    try:
        proc = subprocess.run(
            ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            cwd=root, capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    entries = proc.stdout.decode("utf-8", "replace").split("\0")
    paths, skip_next = [], False
    for entry in entries:
        if skip_next:  # the old name of a rename
            skip_next = False
            continue
        if len(entry) > 3:
            paths.append(entry[3:])
            skip_next = entry[0] in "RC"
    return paths


def _digest(path: Path) -> str:
    # Never follow a link or open a device: the work tree is the model's to shape.
    try:
        if path.is_symlink():
            return "link:" + str(path.readlink())
        if not path.is_file():
            return "not-a-file"
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"
