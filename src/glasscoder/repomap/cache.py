"""The tags of every mapped file, on disk: SQLite under data_home()/repomap/<repo key>/.

Tags are stored by content hash, so a file whose bytes did not change is never parsed again,
even after a rename or a checkout that rewrote it. A second table remembers each path's size,
mtime and hash, so an unchanged file is not even read. The data folder is one the workspace
hides from the model (config.own_paths), so the model cannot plant tags.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from dataclasses import asdict, astuple
from pathlib import Path

from glasscoder.config import data_home
from glasscoder.repomap.queries import QUERIES
from glasscoder.repomap.tags import Definition, FileTags

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INT, mtime_ns INT, hash TEXT);
CREATE TABLE IF NOT EXISTS tags (hash TEXT PRIMARY KEY, data TEXT);
"""
FileStat = tuple[int, int, str]  # size, mtime_ns, content hash
TAGS_FORMAT = 2  # raise when tags.py extracts differently: every cached file is parsed again


def cache_dir_for(root: Path) -> Path:
    """data_home()/repomap/<name>-<hash of the root's path>: one folder per repository."""
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", root.name)[:40] or "root"
    return data_home() / "repomap" / f"{name}-{digest}"


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def tags_version() -> str:
    """Changes whenever the queries or the grammar package change: old tags are then dropped."""
    try:
        from importlib.metadata import version

        pack = version("tree-sitter-language-pack")
    except Exception:  # not installed: nothing will be parsed anyway
        pack = "none"
    queries = {k: astuple(v) for k, v in QUERIES.items()}
    text = f"{TAGS_FORMAT} {pack} {json.dumps(queries, sort_keys=True)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class TagCache:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = folder / "tags.sqlite"
        # The index may be built in a background thread and then used by the tools in the main
        # one (repomap/shared.py). sqlite3's module is threadsafe level 3 (serialized) in the
        # builds Python ships; the lock keeps each of our transactions whole all the same.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        version = tags_version()
        row = self._db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        if row is None or row[0] != version:
            with self._db:
                self._db.execute("DELETE FROM files")
                self._db.execute("DELETE FROM tags")
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (version,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def stats(self) -> dict[str, FileStat]:
        with self._lock:
            rows = self._db.execute("SELECT path, size, mtime_ns, hash FROM files").fetchall()
        return {path: (size, mtime, digest) for path, size, mtime, digest in rows}

    def all_tags(self) -> dict[str, str]:
        """Every stored row, undecoded: one query instead of one per file on a warm start."""
        with self._lock:
            return dict(self._db.execute("SELECT hash, data FROM tags"))

    @staticmethod
    def decode(data: str) -> FileTags | None:
        return _decode(data)

    def save(
        self, stats: dict[str, FileStat], new_tags: dict[str, FileTags], gone: set[str]
    ) -> None:
        """Record the paths seen (with their stat and hash), new tags, and forget `gone`."""
        with self._lock, self._db:
            self._db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
            self._db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                [(path, *stat) for path, stat in stats.items()],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO tags VALUES (?, ?)",
                [(digest, _encode(tags)) for digest, tags in new_tags.items()],
            )
            if gone:
                self._db.execute("DELETE FROM tags WHERE hash NOT IN (SELECT hash FROM files)")


def _encode(tags: FileTags) -> str:
    return json.dumps(
        {"lang": tags.lang, "defs": [list(asdict(d).values()) for d in tags.defs],
         "refs": tags.refs},
        separators=(",", ":"),
    )  # fmt: skip


def _decode(text: str) -> FileTags | None:
    try:
        data = json.loads(text)
        defs = [Definition(str(n), str(k), int(line), str(s)) for n, k, line, s in data["defs"]]
        return FileTags(str(data["lang"]), defs, {str(k): int(v) for k, v in data["refs"].items()})
    except (ValueError, KeyError, TypeError):  # a damaged row: parse the file again
        return None
