"""What differs between two checkpoint manifests, and the same as a unified diff for /undo."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from glasscoder.agent.snapread import Entry

MAX_DIFF_BYTES = 256 * 1024  # larger files are named in a diff, not shown


@dataclass
class Changes:
    """From one state (a) to another (b); each list sorted."""

    created: list[str] = field(default_factory=list)  # in b only
    deleted: list[str] = field(default_factory=list)  # in a only
    modified: list[str] = field(default_factory=list)  # content or kind differs
    mode_changed: list[str] = field(default_factory=list)  # same content, other mode

    def __bool__(self) -> bool:
        return bool(self.created or self.deleted or self.modified or self.mode_changed)


def diff_manifests(a: dict[str, Entry], b: dict[str, Entry]) -> Changes:
    changes = Changes()
    for path in sorted(a.keys() | b.keys()):
        old, new = a.get(path), b.get(path)
        if old is None:
            changes.created.append(path)
        elif new is None:
            changes.deleted.append(path)
        elif old.sha != new.sha or old.is_link != new.is_link:
            changes.modified.append(path)
        elif old.mode != new.mode:
            changes.mode_changed.append(path)
    return changes


def describe(
    changes: Changes,
    old: dict[str, Entry],
    new: dict[str, Entry],
    read: Callable[[str], bytes],  # a blob's content by its sha256
) -> str:
    """A unified diff from old to new; binary and very large files are only named."""
    parts = []
    for path in sorted(changes.created + changes.deleted + changes.modified):
        parts.append(_file_diff(path, old.get(path), new.get(path), read))
    for path in changes.mode_changed:
        modes = f"old mode {old[path].mode:o}\nnew mode {new[path].mode:o}\n"
        parts.append(f"diff a/{path} b/{path}\n{modes}")
    return "".join(parts)


def _file_diff(
    path: str, old: Entry | None, new: Entry | None, read: Callable[[str], bytes]
) -> str:
    before, after = _text(old, read), _text(new, read)
    a_side, b_side = _side("a", path, old), _side("b", path, new)
    if before is None or after is None:
        return f"Binary files {a_side} and {b_side} differ\n"
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), a_side, b_side
    )
    return "".join(_ended(line) for line in lines)


def _text(entry: Entry | None, read: Callable[[str], bytes]) -> str | None:
    """The text to diff; None for binary or very large content."""
    if entry is None:
        return ""
    if entry.size > MAX_DIFF_BYTES:
        return None
    data = read(entry.sha)
    if entry.is_link:
        return f"symlink to {os.fsdecode(data)}\n"
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _ended(line: str) -> str:
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def _side(prefix: str, path: str, entry: Entry | None) -> str:
    return f"{prefix}/{path}" if entry is not None else "/dev/null"
