"""Reading one file or symlink into the checkpoint store, beneath the workspace root only."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Protocol

from glasscoder.agent.blobstore import BlobStore, sha256_hex
from glasscoder.beneath import BeneathOpener
from glasscoder.workspace import Workspace

TOO_LARGE = "too large"
NOT_REGULAR = "not a regular file or symlink"
DENIED_TWIN = "another name (hard link) of a deny-listed file"
UNREADABLE = "unreadable"
# O_NONBLOCK: a FIFO swapped in after the listing must not hang the checkpoint.
_READ = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)

Stamp = tuple[int, int, int, int, int]  # mtime_ns, ctime_ns, size, inode, mode


@dataclass(frozen=True)
class Entry:
    """One kept path: the sha256 of its content (a symlink's: of its target), st_mode, size."""

    sha: str
    mode: int
    size: int

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)


class Skip(Exception):
    """Why a file is not kept (one of the reasons above)."""


class Reader(Protocol):
    workspace: Workspace
    opener: BeneathOpener
    store: BlobStore
    max_file_bytes: int


def read_entry(reader: Reader, rel: str, stamp: Stamp) -> tuple[Entry, Stamp]:
    """(entry, the stamp of what was read) for rel, its content put into the store."""
    if stat.S_ISLNK(stamp[4]):
        target = _read_link(reader.opener, rel)
        return Entry(reader.store.put(target), stamp[4], len(target)), stamp
    data, st = _read_file(reader.opener, rel, reader.max_file_bytes)
    if st.st_nlink > 1 and reader.workspace.is_ignored(rel):
        raise Skip(DENIED_TWIN)
    sha = reader.store.put(data, sha256_hex(data))
    read_stamp = (st.st_mtime_ns, st.st_ctime_ns, len(data), st.st_ino, st.st_mode)
    return Entry(sha, st.st_mode, len(data)), read_stamp


def _read_link(opener: BeneathOpener, rel: str) -> bytes:
    parent, _, name = rel.rpartition("/")
    try:
        fd = opener.open_dir(parent or ".")
        try:
            return os.readlink(os.fsencode(name), dir_fd=fd)
        finally:
            os.close(fd)
    except OSError:
        raise Skip(UNREADABLE) from None


def _read_file(opener: BeneathOpener, rel: str, limit: int) -> tuple[bytes, os.stat_result]:
    try:
        fd = opener.open(rel, _READ)
    except OSError:
        raise Skip(UNREADABLE) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Skip(NOT_REGULAR)
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError:
        raise Skip(UNREADABLE) from None
    finally:
        os.close(fd)
    if left <= 0:
        raise Skip(TOO_LARGE)
    return b"".join(chunks), st
