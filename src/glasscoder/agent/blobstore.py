"""A content-addressed store of file contents: one file per distinct content, named by sha256.

Checkpoints of a workspace share it, so a file that did not change between two checkpoints is
kept once. The store is private to the user (folders 0700, files 0600) because it holds
copies of the workspace's files.

Blobs are written to a temporary name and renamed, so no reader sees half a blob, but they
are not flushed one by one: a first checkpoint of a large tree writes thousands, and an fsync
each made it take several times longer. Every read checks the content against its name, so
a blob lost to a power cut makes a restore stop with a clear error instead of writing wrong
bytes, and `put` writes again a blob whose size is wrong. The records that name the blobs
(see checkpoints.py) are flushed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from pathlib import Path

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class BlobError(Exception):
    """A blob is missing or does not hold what its name says."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        make_private_dirs(root)
        make_private_dirs(self.blobs)
        self._made: set[str] = set()  # fan-out folders known to exist

    def path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise BlobError(f"not a sha256 name: {sha!r}")
        return self.blobs / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def put(self, data: bytes, sha: str | None = None) -> str:
        """Store data (its sha256 may be given when already computed); returns the sha256."""
        sha = sha or sha256_hex(data)
        target = self.path(sha)
        try:
            if os.stat(target).st_size == len(data):
                return sha
        except FileNotFoundError:
            pass
        if sha[:2] not in self._made:
            make_private_dirs(target.parent)
            self._made.add(sha[:2])
        write_atomic(target, data, flush=False)
        return sha

    def get(self, sha: str) -> bytes:
        try:
            data = self.path(sha).read_bytes()
        except OSError as exc:
            raise BlobError(f"the checkpoint store lacks blob {sha[:12]}: {exc.strerror}") from None
        if sha256_hex(data) != sha:
            raise BlobError(f"blob {sha[:12]} in the checkpoint store is damaged")
        return data


def make_private_dirs(path: Path) -> None:
    """Create path 0700 if missing (missing parents get the default mode)."""
    path.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)


def write_atomic(target: Path, data: bytes, flush: bool = True) -> None:
    """Write target as a whole (temporary file, fsync when flush, rename), mode 0600."""
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, _CREATE, _FILE_MODE)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if flush:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
