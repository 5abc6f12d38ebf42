"""Where the deny-listed (credential) files of a workspace are: one fast walk of the real tree.

Two users. The bwrap sandbox masks each one found before a command runs (a command could
otherwise `cat`, `od` or copy what the file tools hide), and the workspace refuses a file that
is a second name (a hard link) of one of them.

The walk judges paths by the deny layer alone (ignore.DenyList), since commands see gitignored
files too. It never follows a symlink, stops at a deny-listed directory (the whole of it is
masked), and skips the big generated folders in PRUNED: walking node_modules or a virtualenv
would cost more than most commands, and what lies there was written by tools, not kept by
the person. A secret file inside one of them is therefore not masked for commands (the file
tools still hide it by name).

A `Scanner` kept for a session lists a folder again only when its ctime changed (any entry
added, removed or renamed changes it, and unlike mtime no one can set it back). Timestamps
are coarse, so a folder changed in the last RACY_NS is never trusted from the cache.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from dataclasses import dataclass, field

from glasscoder.ignore import DenyList

PRUNED = frozenset({
    ".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", "target", "dist",
    "build", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".gradle", ".next",
})  # fmt: skip
RACY_NS = 2_000_000_000  # coarser than any local filesystem's timestamps


@dataclass
class Denied:
    """Absolute paths found by a scan, and the identities of the deny-listed files."""

    files: list[str] = field(default_factory=list)  # not directories, not symlinks
    dirs: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # deny-listed names that are symlinks
    twins: list[str] = field(default_factory=list)  # other names of `files` (hard links)
    inodes: set[tuple[int, int]] = field(default_factory=set)  # (st_dev, st_ino) of `files`


@dataclass(frozen=True)
class _Child:
    name: str
    is_link: bool
    is_dir: bool
    denied: bool
    inode: int  # from the directory entry, no stat needed

    @property
    def entered(self) -> bool:
        return self.is_dir and not self.denied and self.name not in PRUNED


@dataclass(frozen=True)
class _Listing:
    """What a scan needs of one folder, valid while its key is unchanged."""

    key: tuple[int, int, int]  # st_dev, st_ino, st_ctime_ns
    denied: list[_Child]
    entered: list[str]  # names of the subfolders walked into


def scan(root: str, deny: DenyList) -> Denied:
    """Every deny-listed entry beneath root (a canonical directory), and their hard links."""
    return Scanner(deny).scan(root)


class Scanner:
    """`scan` for one deny-list, remembering each folder's listing between calls."""

    def __init__(self, deny: DenyList) -> None:
        self.deny = deny
        self._listings: dict[str, _Listing] = {}
        self._lock = threading.Lock()  # commands may run in parallel (the analyzers do)

    def scan(self, root: str) -> Denied:
        with self._lock:
            seen: dict[str, _Listing] = {}
            found = Denied()
            stack = [("", root)]
            while stack:
                rel_dir, directory = stack.pop()
                listing = self._listing(rel_dir, directory, seen)
                for child in listing.denied:
                    _add(found, f"{directory}/{child.name}", child)
                for name in listing.entered:
                    stack.append((f"{rel_dir}/{name}" if rel_dir else name, f"{directory}/{name}"))
            self._listings = seen  # folders gone since the last scan are forgotten
            linked = _identities(found)
            if linked:  # rare: only then is a look for the other names worth it
                found.twins = self._other_names(root, linked, set(found.files))
            return found

    def _listing(self, rel_dir: str, directory: str, seen: dict[str, _Listing]) -> _Listing:
        try:
            st = os.lstat(directory)
        except OSError:
            return _Listing((0, 0, 0), [], [])
        key = (st.st_dev, st.st_ino, st.st_ctime_ns)
        cached = self._listings.get(directory)
        if cached is not None and cached.key == key:
            seen[directory] = cached
            return cached
        children = self._list(rel_dir, directory)
        listing = _Listing(
            key, [c for c in children if c.denied], [c.name for c in children if c.entered]
        )
        if time.time_ns() - st.st_ctime_ns > RACY_NS:
            seen[directory] = listing
        return listing

    def _list(self, rel_dir: str, directory: str) -> list[_Child]:
        children = []
        for entry in _entries(directory):
            try:
                is_link = entry.is_symlink()
                is_dir = not is_link and entry.is_dir(follow_symlinks=False)
                inode = entry.inode()
            except OSError:
                continue  # vanished mid-walk
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            denied = self.deny.denies(rel, is_dir)
            children.append(_Child(entry.name, is_link, is_dir, denied, inode))
        return children

    def _other_names(self, root: str, linked: set[tuple[int, int]], known: set[str]) -> list[str]:
        """Paths of the linked files not already known, by a full walk (no listings kept)."""
        inodes = {ino for _, ino in linked}
        names: list[str] = []
        stack = [("", root)]
        while stack:
            rel_dir, directory = stack.pop()
            for child in self._list(rel_dir, directory):
                path = f"{directory}/{child.name}"
                if child.entered:
                    stack.append((f"{rel_dir}/{child.name}" if rel_dir else child.name, path))
                elif child.inode in inodes and not child.is_dir and path not in known:
                    names += _same_file(path, linked)
        return names


def _add(found: Denied, path: str, child: _Child) -> None:
    if child.is_link:
        found.links.append(path)
    elif child.is_dir:
        found.dirs.append(path)
    else:
        found.files.append(path)


def _same_file(path: str, linked: set[tuple[int, int]]) -> list[str]:
    """[path] when it is one of the linked files (symlinks are not), else []."""
    try:
        st = os.lstat(path)
    except OSError:
        return []
    return [path] if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) in linked else []


def _identities(found: Denied) -> set[tuple[int, int]]:
    """Fills found.inodes; returns those of regular files with more than one name."""
    linked = set()
    for path in found.files:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        found.inodes.add((st.st_dev, st.st_ino))
        if st.st_nlink > 1 and stat.S_ISREG(st.st_mode):
            linked.add((st.st_dev, st.st_ino))
    return linked


def _entries(directory: str) -> list[os.DirEntry[str]]:
    # A folder we cannot read, or that vanished mid-walk, is skipped: commands run as the
    # same user, so they cannot list it either (a name already known could still be opened).
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError:
        return []
