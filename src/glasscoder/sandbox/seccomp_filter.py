"""The seccomp program bwrap installs before it runs a command (``bwrap --seccomp FD``).

Namespaces and dropped capabilities already stop most of these calls; the filter is the second
wall, and the only one for a few: a Unix socket path bound read-only is still connectable
(a docker.sock there is root on the host), io_uring performs I/O the syscall-level rules never
see, and TIOCSTI pushes keystrokes into the terminal the person is typing in.

Everything not named here is allowed: the filter removes known-dangerous doors, it is not an
allow-list. A denied call fails with EPERM rather than killing the process, so tools that probe
for a feature fall back instead of crashing.
"""

from __future__ import annotations

import errno
import functools
import os
import termios

DENIED = (
    # kernel attack surface and I/O that bypasses per-syscall rules
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "userfaultfd",
    "perf_event_open",
    # other processes and the kernel keyring
    "ptrace", "process_vm_readv", "process_vm_writev", "keyctl", "add_key", "request_key",
    # the mount table and namespaces, old and new mount APIs
    "mount", "umount2", "pivot_root", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
)  # fmt: skip
AF_UNIX = 1  # from <sys/socket.h>: only guard/egress.py may import socket (single egress)
_LOW32 = 0xFFFFFFFF  # the kernel reads these arguments as 32-bit ints; high bits must not evade


class SeccompUnavailable(Exception):
    """libseccomp or its Python binding is missing; the message says which."""


@functools.cache
def compiled() -> bytes:
    """The BPF program for this machine's architecture (built once per process)."""
    seccomp = _binding()
    denied = seccomp.ERRNO(errno.EPERM)
    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        try:
            flt.add_rule(denied, name)
        except (OSError, ValueError):  # a call this libseccomp does not know: nothing to deny
            continue
    flt.add_rule(denied, "socket", seccomp.Arg(0, seccomp.MASKED_EQ, _LOW32, AF_UNIX))
    flt.add_rule(denied, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, _LOW32, termios.TIOCSTI))
    fd = os.memfd_create("glasscoder-seccomp-build")
    with os.fdopen(fd, "w+b") as out:
        flt.export_bpf(out)
        out.seek(0)
        return out.read()


def filter_fd() -> int:
    """A new file descriptor, positioned at 0, holding the program; the caller closes it."""
    fd = os.memfd_create("glasscoder-seccomp", os.MFD_CLOEXEC)
    os.write(fd, compiled())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _binding():  # type: ignore[no-untyped-def]
    try:
        import pyseccomp
    except ImportError:
        raise SeccompUnavailable(
            "the pyseccomp package is missing (pip install pyseccomp)"
        ) from None
    except RuntimeError:  # pyseccomp raises this when libseccomp.so is not found
        raise SeccompUnavailable("libseccomp is missing (apt-get install libseccomp2)") from None
    return pyseccomp
