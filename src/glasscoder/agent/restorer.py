"""Writing a checkpoint's files back into the workspace, beneath its root only.

Every folder is opened through beneath.py, which refuses to follow a symlink, so a symlink
the model planted (say `src -> /home/me`) makes that one path fail instead of redirecting the
write outside the workspace. Files are written whole to a temporary name in their own folder
and renamed over the old name: a rename replaces a symlink at the name instead of following
it, and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterable

from glasscoder.agent.snapread import Entry
from glasscoder.beneath import O_CLOEXEC, O_NOFOLLOW, BeneathOpener

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC


class Restorer:
    def __init__(self, opener: BeneathOpener) -> None:
        self.opener = opener
        self.failed: dict[str, str] = {}  # path -> why it was left as it is

    def remove(self, paths: Iterable[str], keep_dirs: set[str]) -> None:
        """Delete the files (deepest first), then the folders they leave empty that are not
        in keep_dirs (folders the checkpoint has files in)."""
        emptied: set[str] = set()
        for rel in sorted(paths, key=lambda p: (-p.count("/"), p)):
            parent, _, name = rel.rpartition("/")
            try:
                self._at(parent, lambda fd, name=name: os.unlink(name, dir_fd=fd))
            except OSError as exc:
                self.failed[rel] = f"could not delete it: {exc.strerror}"
                continue
            while parent and parent not in keep_dirs:
                emptied.add(parent)
                parent = parent.rpartition("/")[0]
        for rel in sorted(emptied, key=lambda p: (-p.count("/"), p)):
            parent, _, name = rel.rpartition("/")
            with contextlib.suppress(OSError):  # not empty: it holds ignored files
                self._at(parent, lambda fd, name=name: os.rmdir(name, dir_fd=fd))

    def write(self, rel: str, entry: Entry, data: bytes) -> None:
        """Make rel hold data with entry's mode (a symlink when entry is one)."""
        parent, _, name = rel.rpartition("/")
        try:
            dir_fd = self.opener.make_dirs(parent or ".")
        except OSError as exc:
            self.failed[rel] = f"could not open its folder: {_reason(exc)}"
            return
        try:
            self._clear_empty_dir(dir_fd, name)
            temp = f".glasscoder-{secrets.token_hex(6)}.tmp"
            if entry.is_link:
                os.symlink(data, temp, dir_fd=dir_fd)
            else:
                _write_temp(dir_fd, temp, data, stat.S_IMODE(entry.mode) & 0o777)
            try:
                os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=dir_fd)
                raise
            with contextlib.suppress(OSError):
                os.fsync(dir_fd)
        except OSError as exc:
            self.failed[rel] = f"could not write it: {_reason(exc)}"
        finally:
            os.close(dir_fd)

    def _at(self, parent: str, action: Callable[[int], None]) -> None:
        fd = self.opener.open_dir(parent or ".")
        try:
            action(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _clear_empty_dir(dir_fd: int, name: str) -> None:
        """A file goes where a folder is now: remove the folder if it is empty."""
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            os.rmdir(name, dir_fd=dir_fd)


def _write_temp(dir_fd: int, temp: str, data: bytes, mode: int) -> None:
    fd = os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.close(fd)


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV):
        return "a symlink or file is where a folder should be; not following it"
    if exc.errno == errno.ENOTEMPTY:
        return "a folder that is not empty is in the way"
    return exc.strerror or str(exc)
