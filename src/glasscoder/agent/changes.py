"""Which files a task changed, including through commands (git's view of the work tree).

git runs here whether or not the person allowed commands, so it must not run anything the
repository chose: a repository's own .git/config (it arrives with an archive or a shared
folder) can name programs that `git status` starts - an fsmonitor, a filter driver for files
marked in .gitattributes, the post-index-change hook. Every git call here switches those off
from the command line, which outranks the repository's config. The git binary itself is
found outside the workspace (sandbox/hostpaths.py): a command may have written a ``git`` into
an activated ``.venv/bin`` there.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from glasscoder.sandbox import hostpaths

# What test runs and builds leave behind: never a change of the task's, whatever the ignore
# rules say (a repository without a .gitignore still gets no __pycache__ in files_changed).
GENERATED_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".tox",
     ".nox", ".gradle", ".eslintcache", ".cache", ".parcel-cache", ".next", ".turbo"}
)  # fmt: skip
GENERATED_SUFFIXES = (".pyc", ".pyo", ".class", ".o", ".obj")


def is_generated(path: str) -> bool:
    """A cache or compiled file a command wrote, not a change to report."""
    parts = path.split("/")
    return bool(GENERATED_DIRS.intersection(parts[:-1])) or path.endswith(GENERATED_SUFFIXES) \
        or parts[-1] in (".coverage", ".eslintcache")  # fmt: skip


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


# Settings that keep `git status` from running programs; -c outranks the repository's config.
_SAFE_GIT = (
    "--no-optional-locks",  # status does not rewrite the index, so no post-index-change hook
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "safe.bareRepository=explicit",  # no bare repository planted in the work tree
)  # fmt: skip
_FILTER_KEYS = ("clean", "smudge", "process")
_TRUSTED_SCOPES = ("system", "global", "command")  # the person's config, not the repository's


def _git(root: Path, *args: str) -> bytes | None:
    """stdout of a git command run with _SAFE_GIT, or None if it fails (or no git is found
    outside the workspace)."""
    git = hostpaths.find("git", root)
    if git is None:
        return None
    try:
        proc = subprocess.run(
            [git, *_SAFE_GIT, *args], cwd=root, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _no_filters(root: Path) -> list[str]:
    """-c options that empty every filter driver the repository's config (or a file it
    includes) touches; the person's own global and system drivers, e.g. git-lfs, stay."""
    listing = _git(root, "config", "-z", "--show-scope", "--name-only", "--get-regexp",
                   r"^filter\.") or b""  # fmt: skip
    fields = listing.decode("utf-8", "surrogateescape").split("\0")
    drivers = set()
    for scope, key in zip(fields[::2], fields[1::2], strict=False):
        driver, _, setting = key[len("filter.") :].rpartition(".")
        if scope not in _TRUSTED_SCOPES and driver and setting in (*_FILTER_KEYS, "required"):
            drivers.add(driver)
    options = []
    for driver in sorted(drivers):
        for setting in _FILTER_KEYS:
            options += ["-c", f"filter.{driver}.{setting}="]
        options += ["-c", f"filter.{driver}.required=false"]
    return options


def _dirty_paths(root: Path) -> list[str] | None:
    out = _git(
        root, *_no_filters(root), "status", "--porcelain=v1", "-z", "--untracked-files=all",
        "--ignore-submodules=all",  # a submodule's own config is not covered by _no_filters
    )  # fmt: skip
    if out is None:
        return None
    entries = out.decode("utf-8", "replace").split("\0")
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


def session_diff(root: Path, paths: list[str]) -> str | None:
    """The diff of `paths` against git's HEAD, a file git does not track shown as new; None
    when this is no git work tree (or git cannot be found outside it)."""
    if _git(root, "rev-parse", "--show-toplevel") is None:
        return None
    flags = ("--no-ext-diff", "--no-textconv", "--no-color", "--relative")
    has_head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD") is not None
    tracked = _git(root, *_no_filters(root), "-c", "core.quotePath=false", "diff", *flags,
                   *(["HEAD"] if has_head else []), "--", *paths) or b""  # fmt: skip
    known = _git(root, "ls-files", "-z", "--", *paths) or b""
    listed = set(known.decode("utf-8", "surrogateescape").split("\0"))
    new = [p for p in paths if p not in listed and (root / p).is_file()]
    text = tracked.decode("utf-8", "replace")
    for path in new:
        text += _new_file_diff(root / path, path)
    return text


def _new_file_diff(path: Path, rel: str) -> str:
    try:
        if path.is_symlink() or path.stat().st_size > 2_000_000:
            return f"new file {rel} (not shown)\n"
        data = path.read_bytes()
    except OSError:
        return ""
    if b"\0" in data[:8192]:
        return f"binary file {rel} added or changed (not shown)\n"
    lines = data.decode("utf-8", "replace").splitlines()
    return f"--- /dev/null\n+++ b/{rel}\n@@ -0,0 +1,{len(lines)} @@\n" + "".join(
        f"+{line}\n" for line in lines
    )
