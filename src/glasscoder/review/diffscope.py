"""--diff REV: which lines of which files changed since REV (git's view of the work tree).

git runs with the same switches as agent/changes.py (no hooks, fsmonitor or the repository's
filter drivers), plus no external diff program or textconv: reviewing must not run what the
repository chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from glasscoder.agent.changes import _git, _no_filters
from glasscoder.errors import UsageError

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_DIFF_FLAGS = ("--no-ext-diff", "--no-textconv", "--no-color", "--relative",
               "--src-prefix=a/", "--dst-prefix=b/")  # fmt: skip


@dataclass(frozen=True)
class DiffScope:
    rev: str
    changed: dict[str, frozenset[int]]  # file -> lines on the new side that were added/changed

    @property
    def files(self) -> list[str]:
        return sorted(self.changed)

    def touches(self, file: str, line: int) -> bool:
        """A whole-file finding (line 0) counts when its file changed at all."""
        lines = self.changed.get(file)
        return lines is not None and (line == 0 or line in lines)


def diff_scope(root: Path, rev: str) -> DiffScope:
    text = _diff(root, rev, context=0)
    changed: dict[str, set[int]] = {}
    current: set[int] | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            path = line[4:]
            current = changed.setdefault(path[2:], set()) if path.startswith("b/") else None
        elif current is not None and (match := _HUNK.match(line)):
            start, count = int(match[1]), int(match[2] or 1)
            # A pure deletion (count 0) sits between `start` and the next line: both are in play.
            current.update(range(start, start + count) if count else (start, start + 1))
    return DiffScope(rev, {path: frozenset(lines) for path, lines in changed.items()})


def hunks(root: Path, rev: str, file: str, context: int = 6) -> str:
    """The diff of one file with some context, as the model reads it."""
    return _diff(root, rev, context, file)


def _diff(root: Path, rev: str, context: int, file: str | None = None) -> str:
    _check_rev(root, rev)
    paths = ["--", file] if file else ["--"]
    out = _git(root, *_no_filters(root), "-c", "core.quotePath=false", "diff", *_DIFF_FLAGS,
               f"--unified={context}", rev, *paths)  # fmt: skip
    if out is None:
        raise UsageError(f"`git diff {rev}` failed in {root}.")
    return out.decode("utf-8", "replace")


def _check_rev(root: Path, rev: str) -> None:
    if not rev or rev.startswith("-"):
        raise UsageError(f"--diff needs a git revision, not '{rev}'.")
    if _git(root, "rev-parse", "--show-toplevel") is None:
        raise UsageError(f"--diff needs a git repository; {root} is not in one.")
    if _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}") is None:
        raise UsageError(f"--diff {rev}: no such revision in this repository.")
