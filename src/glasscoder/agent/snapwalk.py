"""The files a checkpoint keeps, found fast enough to look before every turn.

The walk sees what the model's file tools see (workspace.py's ignore rules: .gitignore'd
output, .git, glasscoder's own folders and the secret-file deny-list are left out), plus
symlinks, which are kept as their target text and never followed. Deny-listed files stay out
of the store although commands can change them: a store of copies must not become a second
home for credentials.

Two caches, both like git's index, make a walk of an unchanged tree cost one lstat a file:
a folder's visible entries are reused while its ctime is unchanged (adding, removing or
renaming an entry changes it, and no one can set it back), and a file is hashed again only
when its lstat changed. Timestamps are coarse, so anything changed within RACY_NS of being
looked at is looked at again next time. Any change to an ignore file drops the folder cache.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field

from glasscoder import ignore
from glasscoder.agent.blobstore import BlobStore
from glasscoder.agent.snapread import NOT_REGULAR, TOO_LARGE, Entry, Skip, Stamp, read_entry
from glasscoder.beneath import BeneathOpener
from glasscoder.workspace import Workspace

RACY_NS = 2_000_000_000
RULE_FILES = (ignore.GITIGNORE, ignore.GLASSCODERIGNORE)


@dataclass
class Scan:
    folders: dict[str, dict[str, Entry]] = field(default_factory=dict)  # folder -> name -> entry
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it was not kept
    hashed: int = 0  # files read and hashed (not taken from the cache)

    @property
    def manifest(self) -> dict[str, Entry]:
        """path -> entry, every folder's entries in one dict."""
        return flatten(self.folders)


def flatten(folders: dict[str, dict[str, Entry]]) -> dict[str, Entry]:
    return {
        name if folder == "." else f"{folder}/{name}": entry
        for folder, entries in folders.items()
        for name, entry in entries.items()
    }


@dataclass(frozen=True)
class Listing:
    key: tuple[int, int, int]  # st_dev, st_ino, st_ctime_ns of the folder
    files: tuple[str, ...]  # names of the visible regular files and symlinks
    dirs: tuple[str, ...]  # paths of the visible subfolders
    others: tuple[str, ...]  # paths of the visible FIFOs, sockets, devices
    rules: tuple[str, ...]  # paths of the ignore files present


@dataclass
class Folder:
    names: tuple[str, ...]  # as listed: a name kept or skipped stays listed
    stamps: dict[str, tuple[Stamp | None, Entry]]  # kept name -> stamp (None: racy), entry
    entries: dict[str, Entry]


def _unchanged(absolute: str, stamps: dict[str, tuple[Stamp | None, Entry]]) -> bool:
    """Whether every kept file of a folder has the stamp it had (the fast path of a walk)."""
    for name, (stamp, _) in stamps.items():
        try:
            st = os.lstat(absolute + name)
        except OSError:
            return False
        if stamp != (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode):
            return False
    return True


@dataclass
class WalkState:
    """What one walk leaves for the next (walkcache.py keeps it between processes)."""

    listings: dict[str, Listing] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)  # what the walk found in each
    rule_paths: tuple[str, ...] = ()  # the ignore files it met
    rule_stamps: dict[str, Stamp | None] = field(default_factory=dict)


class Walker:
    def __init__(
        self, workspace: Workspace, store: BlobStore, max_file_bytes: int, racy_ns: int = RACY_NS
    ) -> None:
        self.workspace = workspace
        self.root = str(workspace.root)
        self._prefix = self.root.rstrip("/") + "/"
        self.opener = BeneathOpener(self.root)
        self.store = store
        self.max_file_bytes = max_file_bytes
        self.racy_ns = racy_ns
        self.state = WalkState()

    def close(self) -> None:
        self.opener.close()

    def scan(self) -> Scan:
        """Every kept path now, with its content put into the store."""
        if self._current_rule_stamps() != self.state.rule_stamps:
            self.state.listings = {}
        with self.workspace.frozen_rules():
            used_cache = bool(self.state.listings)
            result, rule_paths = self._scan_once()
            if used_cache and set(rule_paths) != set(self.state.rule_paths):
                # An ignore file appeared or went: cached subfolders may be judged wrongly.
                self.state.listings = {}
                result, rule_paths = self._scan_once()
        self.state.rule_paths = rule_paths
        self.state.rule_stamps = self._current_rule_stamps()
        return result

    def _scan_once(self) -> tuple[Scan, tuple[str, ...]]:
        now = time.time_ns()
        result = Scan()
        old_listings, self.state.listings = self.state.listings, {}
        folders: dict[str, Folder] = {}
        rule_paths: list[str] = []
        stack = ["."]
        while stack:
            rel_dir = stack.pop()
            listing = self._listing(rel_dir, old_listings.get(rel_dir), now)
            if listing is None:
                continue
            rule_paths += listing.rules
            stack += listing.dirs
            for path in listing.others:
                result.skipped[path] = NOT_REGULAR
            folder = self._take_files(rel_dir, listing.files, result, now)
            folders[rel_dir] = folder
            if folder.entries:
                result.folders[rel_dir] = folder.entries
        self.state.folders = folders
        return result, tuple(rule_paths)

    def _listing(self, rel_dir: str, cached: Listing | None, now: int) -> Listing | None:
        try:
            st = os.lstat(self._prefix + rel_dir)
        except OSError:
            return None
        key = (st.st_dev, st.st_ino, st.st_ctime_ns)
        if cached is not None and cached.key == key:
            self.state.listings[rel_dir] = cached
            return cached
        listing = self._list(rel_dir, key)
        if listing is not None and now - st.st_ctime_ns > self.racy_ns:
            self.state.listings[rel_dir] = listing
        return listing

    def _list(self, rel_dir: str, key: tuple[int, int, int]) -> Listing | None:
        try:
            fd = self.opener.open_dir(rel_dir, listable=True)
        except OSError:
            return None  # gone, unreadable, or swapped for a symlink since the lstat
        try:
            with os.scandir(fd) as found:
                entries = sorted((entry.name, _kind(entry)) for entry in found)
        except OSError:
            return None
        finally:
            os.close(fd)
        groups: dict[str, list[str]] = {"file": [], "dir": [], "other": []}
        for name, kind in entries:
            if not self.workspace.is_ignored(_join(rel_dir, name)):
                groups[kind].append(name)
        rules = [name for name, kind in entries if name in RULE_FILES and kind == "file"]
        paths = {k: tuple(_join(rel_dir, name) for name in v) for k, v in groups.items()}
        rule_paths = tuple(_join(rel_dir, name) for name in rules)
        return Listing(key, tuple(groups["file"]), paths["dir"], paths["other"], rule_paths)

    def _take_files(self, rel_dir: str, names: tuple[str, ...], result: Scan, now: int) -> Folder:
        """The folder's kept files; only those whose lstat changed are read again. When none
        changed, the last walk's Folder itself is returned (so `is` means unchanged)."""
        prefix = "" if rel_dir == "." else rel_dir + "/"
        absolute = self._prefix + prefix
        last = self.state.folders.get(rel_dir)
        # Skipped files are looked at again each time, so only a folder without them is reused.
        if (
            last is not None
            and last.names == names
            and len(last.stamps) == len(names)
            and _unchanged(absolute, last.stamps)
        ):
            return last
        known = last.stamps if last is not None else {}
        folder = Folder(names, {}, {})
        for name in names:
            try:
                st = os.lstat(absolute + name)
            except OSError:
                continue  # vanished since the listing
            stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode)
            taken = known.get(name)
            if taken is None or taken[0] != stamp:
                taken = self._take(prefix + name, stamp, result, now)
                if taken is None:
                    continue
            folder.stamps[name] = taken
            folder.entries[name] = taken[1]
        return folder

    def _take(
        self, rel: str, stamp: Stamp, result: Scan, now: int
    ) -> tuple[Stamp | None, Entry] | None:
        if stat.S_ISREG(stamp[4]) and stamp[2] > self.max_file_bytes:
            result.skipped[rel] = TOO_LARGE
            return None
        try:
            entry, stamp = read_entry(self, rel, stamp)
        except Skip as skip:
            result.skipped[rel] = str(skip)
            return None
        result.hashed += 1
        trusted = now - max(stamp[0], stamp[1]) > self.racy_ns
        return (stamp if trusted else None), entry  # None: look again next time

    def _current_rule_stamps(self) -> dict[str, Stamp | None]:
        paths = [ignore.GIT_EXCLUDE, *self.state.rule_paths]
        return {path: _stamp(os.path.join(self.root, path)) for path in paths}


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode)


def _join(directory: str, name: str) -> str:
    return name if directory == "." else f"{directory}/{name}"


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "file"  # kept as its target text
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    return "file" if entry.is_file(follow_symlinks=False) else "other"
