"""Open paths beneath a directory so that nothing outside it can ever be reached.

Callers first resolve a path (following symlinks) and check that it stays inside the root;
this module does the *use*. A sandboxed command running at the same time could swap a path
component for a symlink between that check and the open, so every open here refuses to
follow any symlink at all: the checked path is symlink-free, so meeting a symlink means the
tree changed underneath us and the open fails (ELOOP/ENOTDIR) instead of escaping.

On Linux >= 5.6 this is one openat2(2) call with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
RESOLVE_NO_MAGICLINKS relative to a directory fd of the root. Elsewhere the path is walked one
component at a time with O_NOFOLLOW, each step relative to the previous directory's fd.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import platform
from collections.abc import Callable

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

# openat2 has the same number on every architecture that uses the unified syscall table.
_SYS_OPENAT2 = {"x86_64": 437, "amd64": 437, "aarch64": 437, "arm64": 437}

O_PATH = getattr(os, "O_PATH", 0)
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# A directory fd used only as a base for *at() calls; O_PATH needs no read permission.
_BASE_DIR_FLAGS = (O_PATH or os.O_RDONLY) | O_DIRECTORY | O_CLOEXEC
_LISTABLE_DIR_FLAGS = os.O_RDONLY | O_DIRECTORY | O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


@functools.cache
def _syscall() -> Callable[..., int] | None:
    if platform.system() != "Linux" or platform.machine().lower() not in _SYS_OPENAT2:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    func = libc.syscall
    func.restype = ctypes.c_long
    return func


def _openat2(dir_fd: int, path: str, flags: int, mode: int = 0) -> int:
    func = _syscall()
    if func is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    # The kernel rejects a mode unless a file may be created.
    how = _OpenHow(flags | O_CLOEXEC, mode if flags & os.O_CREAT else 0, _RESOLVE)
    number = _SYS_OPENAT2[platform.machine().lower()]
    encoded = os.fsencode(path)
    for _ in range(16):
        fd = func(
            ctypes.c_long(number),
            ctypes.c_int(dir_fd),
            ctypes.c_char_p(encoded),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        # EAGAIN: a concurrent rename made the kernel unsure the lookup stayed beneath; retry.
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


@functools.cache
def openat2_supported() -> bool:
    """Whether this process can use openat2 (kernel >= 5.6, not blocked by seccomp)."""
    try:
        root_fd = os.open("/", _BASE_DIR_FLAGS)
    except OSError:
        return False
    try:
        os.close(_openat2(root_fd, ".", _BASE_DIR_FLAGS))
    except OSError:
        return False  # ENOSYS on old kernels, EPERM from some container seccomp profiles
    finally:
        os.close(root_fd)
    return True


def split_rel(rel: str) -> list[str]:
    """Components of a normalised relative path ("." -> [])."""
    if rel == ".":
        return []
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\0" in rel or rel.startswith("/"):
        raise ValueError(f"not a normalised relative path: {rel!r}")
    return parts


class BeneathOpener:
    """Opens normalised, symlink-free relative paths beneath one root directory."""

    def __init__(self, root: str, use_openat2: bool | None = None) -> None:
        if use_openat2 is None:
            use_openat2 = openat2_supported()
        elif use_openat2 and not openat2_supported():
            raise OSError(errno.ENOSYS, "openat2 is not available on this system")
        self.uses_openat2 = use_openat2
        # Opened once: later renames of the root's own path cannot redirect us.
        self.root_fd = os.open(root, _BASE_DIR_FLAGS)

    def close(self) -> None:
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    def open(self, rel: str, flags: int, mode: int = 0o644) -> int:
        """Open rel with flags; fails with OSError if any component is (now) a symlink."""
        parts = split_rel(rel)
        if self.uses_openat2:
            return _openat2(self.root_fd, rel, flags | O_NOFOLLOW, mode)
        if not parts:
            return os.open(".", flags | O_CLOEXEC, mode, dir_fd=self.root_fd)
        parent_fd = self._walk_dirs(parts[:-1], create=False)
        try:
            return os.open(parts[-1], flags | O_NOFOLLOW | O_CLOEXEC, mode, dir_fd=parent_fd)
        finally:
            self._close_walked(parent_fd)

    def open_dir(self, rel: str, listable: bool = False) -> int:
        """A directory fd: listable ones can be read/fsynced, others only serve *at() calls."""
        return self.open(rel, _LISTABLE_DIR_FLAGS if listable else _BASE_DIR_FLAGS)

    def make_dirs(self, rel: str) -> int:
        """Open directory rel (listable), creating missing components beneath the root."""
        try:
            return self.open_dir(rel, listable=True)
        except FileNotFoundError:
            pass
        fd = self._walk_dirs(split_rel(rel), create=True)
        try:
            return os.open(".", _LISTABLE_DIR_FLAGS, dir_fd=fd)
        finally:
            self._close_walked(fd)

    def _walk_dirs(self, parts: list[str], create: bool) -> int:
        """Descend through directories with O_NOFOLLOW; returns the last fd (maybe the root's)."""
        fd = self.root_fd
        try:
            for name in parts:
                next_fd = self._open_child_dir(fd, name, create)
                self._close_walked(fd)
                fd = next_fd
        except BaseException:
            self._close_walked(fd)
            raise
        return fd

    @staticmethod
    def _open_child_dir(parent_fd: int, name: str, create: bool) -> int:
        flags = _BASE_DIR_FLAGS | O_NOFOLLOW
        try:
            return os.open(name, flags, dir_fd=parent_fd)
        except FileNotFoundError:
            if not create:
                raise
        # mkdir never follows a symlink at `name`; it fails with EEXIST and the open refuses it.
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o777, dir_fd=parent_fd)
        return os.open(name, flags, dir_fd=parent_fd)

    def _close_walked(self, fd: int) -> None:
        if fd != self.root_fd:
            os.close(fd)
