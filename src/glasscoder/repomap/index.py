"""The tags of every visible source file in a workspace, kept up to date incrementally.

Files come from Workspace.walk, so ignore rules, secret files and glasscoder's own folders
are never mapped; dot-folders and dotfiles are skipped too. A file is read only when its size
or mtime changed, and parsed only when its content hash has no tags yet.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from glasscoder.repomap.cache import FileStat, TagCache, content_hash
from glasscoder.repomap.languages import language_for
from glasscoder.repomap.tags import FileTags, extract
from glasscoder.workspace import Workspace, WorkspaceError

MAX_FILE_BYTES = 1_000_000  # larger sources are nearly always generated or vendored
MAX_FILES = 50_000  # a workspace that is a home folder must not stall the first turn
SAVE_EVERY = 200  # new tags stored as they come: a build cut short by the run's end still counts


@dataclass
class UpdateStats:
    files: int = 0
    read: int = 0
    parsed: int = 0


class RepoIndex:
    def __init__(self, workspace: Workspace, cache: TagCache | None = None) -> None:
        self.workspace = workspace
        self.cache = cache
        self.files: dict[str, FileTags] = {}
        self._stats: dict[str, FileStat] = cache.stats() if cache else {}
        self._by_hash: dict[str, FileTags] = {}
        self._stored: dict[str, str] = cache.all_tags() if cache else {}  # hash -> encoded tags
        self.parses = 0  # files parsed over this index's life (the incremental tests count it)

    def update(self, advance: Callable[..., None] | None = None) -> UpdateStats:
        """Bring `files` in line with the workspace; returns what this update had to do.
        `advance` (progress.py's): told the number of files, then each one done."""
        result = UpdateStats()
        stats: dict[str, FileStat] = {}
        files: dict[str, FileTags] = {}
        new_tags: dict[str, FileTags] = {}
        advance = advance or (lambda steps=1, total=None: None)
        with self.workspace.frozen_rules():
            candidates = self._candidates()
            advance(0, total=len(candidates))
            for rel in candidates:
                advance()
                entry = self._load(rel, result, new_tags)
                if entry is not None:
                    stats[rel], files[rel] = entry
                if self.cache is not None and len(new_tags) >= SAVE_EVERY:
                    self.cache.save({}, new_tags, set())
                    new_tags = {}
        result.files = len(files)
        changed = {p: s for p, s in stats.items() if self._stats.get(p) != s}
        gone = set(self._stats) - set(stats)
        if self.cache is not None and (changed or gone or new_tags):
            self.cache.save(changed, new_tags, gone)
        self._stats, self.files = stats, files
        return result

    def _candidates(self) -> list[str]:
        found = []
        for rel in self.workspace.walk("."):
            if any(part.startswith(".") for part in rel.split("/")) or not _storable(rel):
                continue
            if language_for(rel) is not None:
                found.append(rel)
                if len(found) >= MAX_FILES:
                    break
        return found

    def _load(
        self, rel: str, result: UpdateStats, new_tags: dict[str, FileTags]
    ) -> tuple[FileStat, FileTags] | None:
        try:
            st = os.lstat(self.workspace.root / rel)
        except OSError:
            return None
        if st.st_size > MAX_FILE_BYTES:
            return None
        known = self._stats.get(rel)
        if known and known[:2] == (st.st_size, st.st_mtime_ns):
            tags = self._tags_for(known[2])
            if tags is not None:
                return known, tags
        try:
            data = self.workspace.read_bytes(rel)
        except WorkspaceError:
            return None
        result.read += 1
        digest = content_hash(data)
        tags = self._tags_for(digest)
        if tags is None:
            lang = language_for(rel, data)
            if lang is None:
                return None
            tags = self._parse(lang, data)
            result.parsed += 1
            self._by_hash[digest] = new_tags[digest] = tags
        return (len(data), st.st_mtime_ns, digest), tags

    def _tags_for(self, digest: str) -> FileTags | None:
        tags = self._by_hash.get(digest)
        stored = self._stored.pop(digest, None)
        if tags is None and stored is not None:
            tags = TagCache.decode(stored)
            if tags is not None:
                self._by_hash[digest] = tags
        return tags

    def _parse(self, lang: str, data: bytes) -> FileTags:
        self.parses += 1
        try:
            return extract(lang, data)
        except Exception:  # one odd file (a grammar bug, a deep tree) must not sink the map
            return FileTags(lang)


def _storable(rel: str) -> bool:
    """False for a name with undecodable bytes (lone surrogates): it cannot be stored or shown."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
