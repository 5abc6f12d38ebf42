"""Checkpoints of a workspace's files, taken before each turn that may change them, and undo.

The copies live in glasscoder's own store (a folder the caller gives, under the data home),
never in the user's repository: no git command runs, so HEAD, the index, the stash,
branches and hooks stay as they are, and folders without git work the same way.

A checkpoint is a manifest, `{path: [sha256, st_mode, size]}`, kept as blobs of the shared
content-addressed store (blobstore.py) and named by a small record in `checkpoints/`. The
manifest is stored a folder at a time (see _put_manifest), so a turn that changed a few files
writes a few small blobs, not a list of every file.
Which files are kept is snapwalk.py's affair: the model-visible files and symlinks, not
ignored, generated or deny-listed ones, and none over `max_file_bytes` (these are listed,
with why, in `Checkpoint.skipped`). A restore first takes a checkpoint of the present state,
so an undo can itself be undone, and never touches a path outside the kept set: ignored
files, .git and deny-listed files stay as they are, and so does a file too large to keep,
since no copy of its present content could be taken.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from glasscoder import ignore
from glasscoder.agent import walkcache
from glasscoder.agent.blobstore import BlobError, BlobStore, make_private_dirs, write_atomic
from glasscoder.agent.changeset import Changes, describe, diff_manifests
from glasscoder.agent.restorer import Restorer
from glasscoder.agent.snapread import Entry
from glasscoder.agent.snapwalk import RACY_NS, Walker, WalkState, flatten
from glasscoder.config import own_paths
from glasscoder.workspace import Workspace

DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024  # the checkpoint_max_file_bytes setting


class CheckpointError(Exception):
    """One line for the user: no such checkpoint, or a damaged store."""


@dataclass(frozen=True)
class Checkpoint:
    id: str  # "0001", "0002", ... in the order taken
    time: float  # seconds since the epoch
    label: str
    manifest: str  # sha256 of the manifest blob; equal manifests mean equal files
    files: int
    bytes: int
    hashed: int  # files read and hashed for it (the rest were unchanged since the last one)
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it was not kept


@dataclass
class Restore:
    checkpoint: Checkpoint  # the state restored
    before: Checkpoint  # the state just before, so this restore can be undone
    changes: Changes  # from before to checkpoint
    kept: dict[str, str] = field(default_factory=dict)  # paths left as they are, and why


class Checkpoints:
    def __init__(
        self,
        root: Path | str,
        store: Path,
        *,
        extra_ignores: Sequence[str] = (),
        deny: Sequence[str] = ignore.SECRET_FILES,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        racy_ns: int = RACY_NS,
        cache: Path | None = None,  # where the walk's caches outlive the process (close())
    ) -> None:
        self.workspace = Workspace(root, extra_ignores, deny=deny)
        self._deny = ignore.DenyList(deny)
        self.blobs = BlobStore(store)
        self.records = store / "checkpoints"
        make_private_dirs(self.records)
        self._walker = Walker(self.workspace, self.blobs, max_file_bytes, racy_ns)
        self._cache = cache
        self._identity = {
            "root": str(self.workspace.root),
            "extra_ignores": list(extra_ignores),
            "deny": list(deny),
            "private": [str(path) for path in own_paths()],
            "max_file_bytes": max_file_bytes,
        }
        state = walkcache.load(cache, self._identity) if cache is not None else None
        if state is not None:
            _forget_missing_blobs(state, self.blobs)
            self._walker.state = state
        # Each folder's entries as last written, and their blob: an unchanged folder is not
        # serialised again. Parsed folder blobs are kept for loading manifests.
        self._written: dict[str, tuple[dict[str, Entry], str]] = {}
        self._parsed: dict[str, dict[str, Entry]] = {}
        self._last_number: int | None = None  # of the newest record, once looked up

    def close(self) -> None:
        """Release the folder handles and save the walk's caches (when a cache was given)."""
        if self._cache is not None:
            with contextlib.suppress(OSError):  # a cache: losing it only costs time
                walkcache.save(self._cache, self._walker.state, self._identity)
        self._walker.close()
        self.workspace.close()

    def snapshot(self, label: str) -> Checkpoint:
        scan = self._walker.scan()
        sha = self._put_manifest(scan.folders)
        entries = [entry for folder in scan.folders.values() for entry in folder.values()]
        size = sum(entry.size for entry in entries)
        return self._record(label, sha, len(entries), size, scan.hashed, scan.skipped)

    def list(self) -> list[Checkpoint]:
        """Every checkpoint in the store, oldest first."""
        return [self.get(str(number)) for number in self._numbers()]

    def get(self, checkpoint_id: str) -> Checkpoint:
        if not checkpoint_id.isdigit():
            raise CheckpointError(f"no checkpoint '{checkpoint_id}': ids are numbers like 0003")
        path = self.records / f"{int(checkpoint_id):04d}.json"
        try:
            return Checkpoint(**json.loads(path.read_bytes()))
        except FileNotFoundError:
            raise CheckpointError(f"no checkpoint '{checkpoint_id}' in this store") from None
        except (OSError, ValueError, TypeError) as exc:
            raise CheckpointError(f"checkpoint record {path.name} is unreadable: {exc}") from None

    def manifest(self, checkpoint_id: str) -> dict[str, Entry]:
        return self._load_manifest(self.get(checkpoint_id).manifest)

    def diff(self, a: str, b: str) -> Changes:
        """What changed from checkpoint a to checkpoint b."""
        return diff_manifests(self.manifest(a), self.manifest(b))

    def patch(self, a: str, b: str) -> str:
        """A unified diff from checkpoint a to checkpoint b."""
        old, new = self.manifest(a), self.manifest(b)
        return self.describe(diff_manifests(old, new), old, new)

    def current(self) -> dict[str, Entry]:
        """The kept files as they are now, as a manifest (nothing is recorded)."""
        return self._walker.scan().manifest

    def preview(self, checkpoint_id: str) -> tuple[Changes, str]:
        """What restore(checkpoint_id) would change now, and as a unified diff."""
        target = self.manifest(checkpoint_id)
        current = self._walker.scan().manifest
        changes = diff_manifests(current, target)
        return changes, self.describe(changes, current, target)

    def restore(self, checkpoint_id: str) -> Restore:
        """Make the kept files match the checkpoint byte for byte, with their modes."""
        checkpoint = self.get(checkpoint_id)
        target = self._load_manifest(checkpoint.manifest)
        before = self.snapshot(f"before undo of {checkpoint.id}")
        changes = diff_manifests(self._load_manifest(before.manifest), target)
        kept = {
            path: f"left as it is: {why}, so no copy of it could be kept"
            for path, why in before.skipped.items()
            if path in target
        }
        for path in changes.created + changes.modified + changes.mode_changed:
            if path not in kept and self._protected(path):
                kept[path] = "left as it is: deny-listed or inside .git now"
        for path in changes.created:
            if path not in kept and self._hidden_file_at(path):
                kept[path] = "left as it is: a file the walk does not keep (ignored) is there"
        writes = changes.created + changes.modified + changes.mode_changed
        writes = sorted(p for p in writes if p not in kept)
        contents = {path: self._blob(target[path].sha) for path in writes}  # all, before writing
        restorer = Restorer(self._walker.opener)
        restorer.remove(changes.deleted, _folders(target))
        for path in writes:
            restorer.write(path, target[path], contents[path])
        kept.update(restorer.failed)
        return Restore(checkpoint, before, changes, kept)

    def _hidden_file_at(self, path: str) -> bool:
        """Whether a file the checkpoint did not see (ignored now) sits at path: replacing it
        would lose it for good, since no copy of it was taken."""
        try:
            st = os.lstat(self.workspace.root / path)
        except OSError:
            return False
        return not stat.S_ISDIR(st.st_mode)

    def _protected(self, path: str) -> bool:
        """Whether path is now one no restore may write (the deny-list may have grown)."""
        parts = path.split("/")
        if ".git" in parts:
            return True
        prefixes = ("/".join(parts[: i + 1]) for i in range(len(parts)))
        return any(self._deny.denies(p, p != path) for p in prefixes)

    def describe(self, changes: Changes, old: dict[str, Entry], new: dict[str, Entry]) -> str:
        """A unified diff of changes between two manifests; binary files are only named."""
        return describe(changes, old, new, self._blob)

    def _put_manifest(self, folders: dict[str, dict[str, Entry]]) -> str:
        """The manifest is {"folders": {folder: sha of {name: [sha, mode, size]}}}: a turn
        that changed a few files writes a few small folder blobs and the list of folders."""
        written: dict[str, tuple[dict[str, Entry], str]] = {}
        for folder, entries in folders.items():
            last = self._written.get(folder)
            if last is None or (last[0] is not entries and last[0] != entries):
                rows = {name: [e.sha, e.mode, e.size] for name, e in sorted(entries.items())}
                last = (entries, self.blobs.put(_json(rows)))
                self._parsed[last[1]] = entries
            written[folder] = last
        self._written = written
        top = {"folders": {folder: written[folder][1] for folder in sorted(written)}}
        return self.blobs.put(_json(top))

    def _load_manifest(self, sha: str) -> dict[str, Entry]:
        try:
            top = json.loads(self._blob(sha))["folders"]
            return flatten({folder: self._load_folder(blob) for folder, blob in top.items()})
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint manifest {sha[:12]} is unreadable: {exc}") from None

    def _load_folder(self, sha: str) -> dict[str, Entry]:
        if sha not in self._parsed:
            rows = json.loads(self._blob(sha))
            self._parsed[sha] = {name: Entry(*row) for name, row in rows.items()}
        return self._parsed[sha]

    def _numbers(self) -> list[int]:
        return sorted(int(p.stem) for p in self.records.glob("*.json") if p.stem.isdigit())

    def _blob(self, sha: str) -> bytes:
        try:
            return self.blobs.get(sha)
        except BlobError as exc:
            raise CheckpointError(str(exc)) from None

    def _record(
        self, label: str, sha: str, files: int, size: int, hashed: int, skipped: dict[str, str]
    ) -> Checkpoint:
        """Write the record under the next free id; a link cannot replace one already taken."""
        if self._last_number is None:
            self._last_number = max(self._numbers(), default=0)
        number = self._last_number
        temp = self.records / f".new-{os.getpid()}.tmp"
        skipped = dict(sorted(skipped.items()))
        while True:
            number += 1
            checkpoint = Checkpoint(
                f"{number:04d}", time.time(), label, sha, files, size, hashed, skipped
            )
            write_atomic(temp, json.dumps(asdict(checkpoint)).encode())
            try:
                os.link(temp, self.records / f"{checkpoint.id}.json")
                self._last_number = number
                return checkpoint
            except FileExistsError:
                continue  # another process took this id
            finally:
                os.unlink(temp)


def _forget_missing_blobs(state: WalkState, blobs: BlobStore) -> None:
    """Drop cached files whose content this store lacks (the cache may come from another
    session's store), so they are read again."""
    for folder in state.folders.values():
        for name, (_, entry) in list(folder.stamps.items()):
            if not blobs.has(entry.sha):
                del folder.stamps[name], folder.entries[name]


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _folders(manifest: dict[str, Entry]) -> set[str]:
    """Every folder that holds a file of the manifest."""
    folders = set()
    for path in manifest:
        parent = path.rpartition("/")[0]
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    return folders
