"""The seccomp program bwrap installs before it runs a command (``bwrap --seccomp FD``).

Namespaces and dropped capabilities already stop most of these calls; the filter is the second
wall, and the only one for a few: a Unix socket path bound read-only is still connectable
(a docker.sock there is root on the host), io_uring performs I/O the syscall-level rules never
see, and TIOCSTI pushes keystrokes into the terminal the person is typing in.

System calls not named here are allowed: the filter removes known-dangerous doors. Socket
families are the exception, an allow-list: socket() only for AF_INET and AF_INET6 (loopback
test servers, the allow-list's bridge) and AF_NETLINK with NETLINK_ROUTE alone (glibc's
getaddrinfo asks it which address families the host has); every other family (AF_UNIX,
AF_VSOCK to the hypervisor, AF_PACKET, AF_ALG's kernel crypto, AF_BLUETOOTH, the other
netlink protocols...) is refused, and socketpair() only makes AF_UNIX pairs. A denied call
fails with EPERM rather than killing the process, so tools that probe for a feature fall back
instead of crashing.
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
# From <sys/socket.h> (only guard/egress.py may import socket: single egress).
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
NETLINK_ROUTE = 0
SOCKET_FAMILIES = {AF_INET: "AF_INET", AF_INET6: "AF_INET6", AF_NETLINK: "AF_NETLINK"}
# Families are small numbers (AF_MAX is 46 on 6.x kernels); the kernel refuses any number at
# or above its AF_MAX with EAFNOSUPPORT, so listing those below FAMILY_BOUND covers every one.
FAMILY_BOUND = 64
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
    _socket_rules(seccomp, flt, denied)
    flt.add_rule(denied, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, _LOW32, termios.TIOCSTI))
    fd = os.memfd_create("glasscoder-seccomp-build")
    with os.fdopen(fd, "w+b") as out:
        flt.export_bpf(out)
        out.seek(0)
        return out.read()


def _socket_rules(seccomp, flt, denied) -> None:  # type: ignore[no-untyped-def]
    """socket() refused for every family outside SOCKET_FAMILIES, netlink for every protocol
    but NETLINK_ROUTE, socketpair() for every family but AF_UNIX."""
    for family in range(FAMILY_BOUND):
        domain = seccomp.Arg(0, seccomp.MASKED_EQ, _LOW32, family)
        if family not in SOCKET_FAMILIES:
            flt.add_rule(denied, "socket", domain)
        if family != AF_UNIX:
            flt.add_rule(denied, "socketpair", domain)
    other_protocol = seccomp.Arg(2, seccomp.NE, NETLINK_ROUTE)  # high bits set: refused too
    flt.add_rule(denied, "socket", seccomp.Arg(0, seccomp.MASKED_EQ, _LOW32, AF_NETLINK),
                 other_protocol)  # fmt: skip


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
