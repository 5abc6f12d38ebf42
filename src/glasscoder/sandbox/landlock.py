"""The ``landlock`` sandbox: the fallback where bwrap cannot make its namespaces.

Ubuntu (and some hardened kernels) forbid unprivileged user namespaces, which bwrap needs.
Landlock needs none: an ordinary process restricts itself, and everything it starts, before it
execs the command. The child, between fork and exec, joins the pids cgroup, sets the rlimits,
drops every capability (when glasscoder runs as root), sets no_new_privs, enforces the Landlock
ruleset built here in the parent, and loads two seccomp programs: the shared one
(``seccomp_filter``) and ``extra_program``, refusing ``socket()`` altogether, since the command
shares the host's network and Landlock's network rules cover TCP only (not UDP, raw, netlink).

The ruleset, an allow-list (Landlock cannot deny beneath an allowed folder):

* read and execute: the system folders (SYSTEM_READ), the toolchain folders the command's
  environment reaches (``toolchains``: PATH folders, the virtualenv and its base interpreter,
  a version manager's folder...), and the workspace, so $HOME (~/.ssh, ~/.aws), /tmp, /run,
  /var and glasscoder's data stay unreadable; the command gets an empty HOME of its own
  instead (``command_env``); a private folder for build caches is writable (``caches``);
* write: the workspace's existing top-level entries except the protected ones (``.git``, ...)
  and glasscoder's config, each as a whole; a private TMPDIR made per command; the harmless
  device files (DEVICE_FILES: no disk, console or /dev/kvm, read or written);
* nothing may be created, removed or renamed in the workspace's top folder itself. A grant
  there would reach into ``.git`` too, so this is the price of keeping ``.git`` read-only: a
  command can change ``src/`` freely but not add ``new.txt`` beside it (the file tools can).
  It also means a missing ``.envrc`` or ``.vscode/`` cannot be created (bwrap gets the same
  with placeholders); glasscoder's own files inside the workspace (``hostpaths``) are carved
  out of the write grants like the protected entries;
* no TCP connect or bind (ABI 4), no abstract Unix sockets outside the sandbox and no signals
  to processes outside it (ABI 6).

Landlock does not govern file modes, so for a root caller (uid 0 still owns the system's
files) ``extra_program`` refuses every chmod too.

What it cannot give, shown by ``sandbox check`` (``degraded_lines``): no PID namespace (host
processes are visible, /proc/PID/cmdline readable; setsid children outlive the command unless
a pids cgroup is there to kill them), system folders readable as they are on the host, modes
and times of an ordinary user's own files outside the workspace, no network allow-list.
The syscall numbers are those of the unified table (x86_64, aarch64, ...).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from glasscoder.sandbox import growth, hostpaths, rlimits, seccomp_filter, toolchains
from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.bwrap import (
    HIDDEN_AREAS,
    PROTECTED,
    REFUSED_EXIT,
    BindRefused,
    checked_workspace,
    git_dirs,
    protected_entries,
)
from glasscoder.sandbox.caches import BuildCaches
from glasscoder.sandbox.cgroup import CommandCgroups, memory_note
from glasscoder.sandbox.paths import canonical, home_dirs, inside
from glasscoder.sandbox.supervise import TERM_GRACE, run_supervised

SYSTEM_READ = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
               "/proc", "/sys", "/nix/store")  # fmt: skip
# The only device files a command may open (as bwrap's --dev gives): not disks, consoles,
# /dev/kvm or /dev/kmsg, which root without capabilities could still open as their owner.
DEVICE_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                "/dev/tty", "/dev/ptmx", "/dev/pts")  # fmt: skip

# Landlock's ABI (include/uapi/linux/landlock.h).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
(EXECUTE, WRITE_FILE, READ_FILE, READ_DIR, REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR,
 MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM) = (1 << i for i in range(13))  # fmt: skip
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3 and 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
WRITE = (READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_FIFO
         | MAKE_SYM | REFER | TRUNCATE)  # fmt: skip  # never device nodes or socket files
DEVICES = READ | WRITE_FILE | TRUNCATE | IOCTL_DEV
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # all a file rule may hold

_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
CHMOD_CALLS = ("chmod", "fchmod", "fchmodat", "fchmodat2")
_FCHMODAT2 = 452
_PR_CAPBSET_DROP, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
_CAP_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]  # fmt: skip


@functools.cache
def abi_version() -> int:
    """The kernel's Landlock ABI, 0 when Landlock is absent or disabled at boot."""
    version = _libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(_CREATE_RULESET_VERSION))  # fmt: skip
    return max(int(version), 0)


def handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    for needed, right in ((2, REFER), (3, TRUNCATE), (5, IOCTL_DEV)):
        rights |= right if abi >= needed else 0
    return rights


class LandlockSandbox:
    name = "landlock"

    def __init__(
        self,
        hidden: Sequence[Path] = (),
        read_only: Sequence[Path] = (),
        term_grace: float = TERM_GRACE,
    ) -> None:
        self.hidden = [canonical(p) for p in hidden]  # glasscoder's data: never readable
        self.read_only = [canonical(p) for p in read_only]  # its config: read-only if inside
        self.term_grace = term_grace
        self.pids_limited = True  # set False by run() when no pids cgroup could be made
        self.memory_limited = True  # the same for the memory cgroup
        self.caches = BuildCaches()  # GOCACHE, cargo's, npm's, pip's: private to the session

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> Result:
        abi = abi_version()
        if abi < 1:
            return Result(REFUSED_EXIT, "glasscoder sandbox refused: Landlock is not enabled\n")
        tmpdir = tempfile.mkdtemp(prefix="glasscoder-tmp-")
        try:
            return self._run_in(argv, cwd, env, limits, abi, tmpdir)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def _run_in(
        self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits, abi: int, tmp: str
    ) -> Result:
        try:
            root = checked_workspace(cwd, home_dirs(env))
            tools = read_toolchains(env, root)
            grants = plan(root, tmp, env, self.hidden, self.read_only, tools)
            ruleset = build_ruleset([*grants, (self.caches.folder(), WRITE)], abi)
        except (BindRefused, OSError) as exc:  # OSError: the kernel refused a rule
            return Result(REFUSED_EXIT, f"glasscoder sandbox refused: {exc}\n")
        group = CommandCgroups.create(limits)
        self.pids_limited, self.memory_limited = group.pids_limited, group.memory_limited
        try:
            preexec = confine(ruleset, limits, group)
            env = {**command_env(env, tmp, tools), **self.caches.variables(env, root)}
            watch = growth.watcher([root, tmp, self.caches.folder()], limits.disk_growth)
            result = run_supervised(argv, Path(root), env, limits, self.term_grace,
                                    preexec=preexec, watch=watch)  # fmt: skip
            if kills := group.memory_kills():
                result.output = f"{result.output.rstrip()}\n{memory_note(kills, limits.memory)}"
            return result
        finally:
            os.close(ruleset)
            group.remove()  # kills what escaped the process group with setsid()


def command_env(
    env: Mapping[str, str], tmpdir: str, tools: toolchains.Toolchains | None = None
) -> dict[str, str]:
    """The command's environment: TMPDIR and an empty HOME in the private temp folder.

    The real home stays unreadable, and tools that read ~/.gitconfig fail on "permission
    denied" where they shrug at "no such file", so the command gets an empty home of its own
    (as under bwrap). A version manager the command reaches is told where its real folder
    is (``tools``: what ``read_toolchains`` found).
    """
    out = {**env, "TMPDIR": tmpdir, "HOME": os.path.join(tmpdir, "home")}
    os.makedirs(out["HOME"], exist_ok=True)
    for variable, root in (tools.variables if tools else {}).items():
        out.setdefault(variable, root)
    return out


def read_toolchains(env: Mapping[str, str], root: str) -> toolchains.Toolchains:
    """The toolchain folders the command reaches. Everything but the system folders is
    unreadable here, so every folder outside them counts as hidden, not only the homes."""
    homes = home_dirs(env)
    return toolchains.resolve(env, homes, ["/", *HIDDEN_AREAS, *homes], root)


def plan(
    root: str,
    tmpdir: str,
    env: Mapping[str, str],
    hidden: Iterable[str] = (),
    read_only: Iterable[str] = (),
    tools: toolchains.Toolchains | None = None,
) -> list[tuple[str, int]]:
    """(canonical path, rights) for one command; ``root`` is the checked workspace."""
    hidden = list(hidden)
    tools = tools or read_toolchains(env, root)
    grants = [(path, READ) for top in _read_roots(tools) for path in carve(top, hidden)]
    grants += [("/dev", READ_DIR), *((d, DEVICES) for d in DEVICE_FILES)]
    grants += [(root, READ), (canonical(tmpdir), WRITE)]
    kept = [os.path.join(root, name) for name in PROTECTED]
    protected_entries(root)  # BindRefused when one is a symlink: writes would follow it
    kept += git_dirs(root)  # where a `.git` file sends git, inside the workspace
    kept += [p for p in (*read_only, *hidden) if inside(p, root)]
    kept += hostpaths.read_only_inside(root)  # glasscoder's own files: the host runs them
    if linked := hostpaths.linked_inside(root):  # a command could point that link elsewhere
        raise BindRefused(f"glasscoder's own files ({linked}) are reached through a symlink in "
                          "the workspace; run glasscoder from the real path")  # fmt: skip
    grants += [(path, WRITE) for path in carve(root, kept) if path != root]
    return grants


def carve(top: str, excluded: Iterable[str]) -> list[str]:
    """Paths that together cover ``top`` except the excluded ones and the folders leading to
    them, which get no grant of their own (Landlock cannot take back beneath a grant).
    Symlinks get none either: access through them is checked where they point."""
    found = []
    stack = [(top, [e for e in excluded if inside(e, top)])]
    while stack:  # a loop, not recursion: a deny-listed file may lie thousands of folders deep
        path, within = stack.pop()
        if not within:
            found.append(path)
            continue
        if path in within or not os.path.isdir(path) or os.path.islink(path):
            continue
        try:
            names = sorted(os.listdir(path), reverse=True)  # popped back in sorted order
        except OSError:
            continue
        for name in names:
            child = os.path.join(path, name)
            if not os.path.islink(child):
                stack.append((child, [e for e in within if inside(e, child)]))
    return found


def build_ruleset(grants: Iterable[tuple[str, int]], abi: int) -> int:
    """A Landlock ruleset fd (close-on-exec) holding the grants, for the child to enforce."""
    fs = handled_fs(abi)
    attr = _RulesetAttr(fs, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0)  # fmt: skip
    size = ctypes.c_size_t(ctypes.sizeof(attr))
    ruleset = _check(_libc.syscall(_CREATE_RULESET, ctypes.byref(attr), size, ctypes.c_uint32(0)))
    try:
        for path, rights in grants:
            _add_rule(ruleset, path, rights & fs)
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def _add_rule(ruleset: int, path: str, rights: int) -> None:
    fd = _open_no_symlinks(path)
    if fd is None:
        return  # missing, or a symlink appeared: no grant (fail closed)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        _check(_libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                             ctypes.byref(rule), ctypes.c_uint32(0)))  # fmt: skip
    finally:
        os.close(fd)


def _open_no_symlinks(path: str) -> int | None:
    """An O_PATH fd for an absolute path, walked one component at a time without following
    a symlink anywhere, so a link swapped in after planning cannot redirect a grant."""
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in [part for part in path.split("/") if part]:
            try:
                nxt = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = nxt
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                return None
        result, fd = fd, -1
        return result
    finally:
        if fd >= 0:
            os.close(fd)


def confine(ruleset: int, limits: Limits, group: CommandCgroups) -> Callable[[], None]:
    """The child's steps before exec; everything they need is prepared here, in the parent."""
    set_limits = rlimits.setter(limits)
    as_root = os.geteuid() == 0
    programs = [_fprog(seccomp_filter.compiled()), _fprog(extra_program(as_root))]
    drop_caps = _cap_dropper() if as_root else None

    def preexec() -> None:
        group.join()  # before Landlock, which would refuse the write to cgroup.procs
        set_limits()
        if drop_caps is not None:
            drop_caps()
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        _check(_libc.syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)))
        for prog, _buffer in programs:
            _check(_libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0))

    return preexec


@functools.cache
def extra_program(as_root: bool) -> bytes:
    """A seccomp program refusing with EPERM every socket() (socketpair stays allowed) and,
    for a root caller, every chmod: Landlock does not govern file modes, and uid 0 without
    capabilities still owns /etc/shadow and /usr/bin/sudo."""
    try:
        import pyseccomp
    except (ImportError, RuntimeError):
        raise seccomp_filter.SeccompUnavailable("pyseccomp or libseccomp is missing") from None
    flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    denied = pyseccomp.ERRNO(errno.EPERM)
    flt.add_rule(denied, "socket")
    for name in CHMOD_CALLS if as_root else ():
        try:
            flt.add_rule(denied, name)
        except (OSError, ValueError):
            if name == "fchmodat2":  # an older libseccomp: the unified table's number
                flt.add_rule(denied, _FCHMODAT2)
    fd = os.memfd_create("glasscoder-no-sockets")
    with os.fdopen(fd, "w+b") as out:
        flt.export_bpf(out)
        out.seek(0)
        return out.read()


def _fprog(program: bytes) -> tuple[_SockFprog, ctypes.Array[ctypes.c_char]]:
    buffer = ctypes.create_string_buffer(program, len(program))
    return _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p)), buffer


def _cap_dropper() -> Callable[[], None]:
    """For a root caller: empty the bounding, ambient and own sets, so the command, still
    uid 0, execs without capabilities (no DAC override, no raw sockets, no module loading)."""
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    header, data = _CapHeader(_CAP_VERSION_3, 0), (_CapData * 2)()

    def drop() -> None:
        for cap in range(last + 1):
            _check(_libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0))
        _check(_libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
        _check(_libc.capset(ctypes.byref(header), data))

    return drop


def _read_roots(tools: toolchains.Toolchains) -> list[str]:
    """System folders and the toolchain folders, canonical, existing, without repeats (never
    a home or what holds one: ``toolchains`` refuses those)."""
    found = [canonical(p) for p in SYSTEM_READ] + tools.folders()
    found = [p for p in dict.fromkeys(found) if os.path.exists(p)]
    return [p for p in found if not any(inside(p, q) and p != q for q in found)]


def _check(value: int) -> int:
    if value < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"landlock sandbox setup: {os.strerror(code)}")
    return int(value)


def protected_lines(abi: int, limits: Limits) -> list[str]:
    """What the landlock backend protects on this kernel, for `sandbox check`."""
    gib = 1 << 30
    lines = [
        f"Landlock ABI {abi}: reads only in {', '.join(SYSTEM_READ)}, the toolchain folders "
        "listed below and the workspace; so $HOME (~/.ssh, ~/.aws), /tmp, /run, /var and "
        "glasscoder's sessions and audit key are unreadable",
        "writes: only in the workspace's existing top-level entries and a private TMPDIR; "
        "read-only: " + ", ".join(PROTECTED) + ", glasscoder's config and its own files; "
        "missing ones cannot be created",
        "network: no socket() at all (seccomp), no TCP connect or bind (Landlock, ABI 4)",
        "capabilities: none, even when glasscoder runs as root; no_new_privs (no setuid); "
        "as root, chmod is refused everywhere (uid 0 still owns the system's files)",
        "devices: only " + ", ".join(DEVICE_FILES) + " (no disks, consoles, /dev/kvm)",
        "seccomp denies: socket (every family), ioctl(TIOCSTI), "
        + ", ".join(seccomp_filter.DENIED),
        f"limits per process: address space {limits.address_space / gib:g} GiB, CPU "
        f"{limits.cpu_seconds} s, file size {limits.file_size / gib:g} GiB, "
        f"{limits.open_files} open files",
        "host processes cannot be traced; their /proc/PID/environ is unreadable",
    ]
    if abi >= 6:
        lines.append("host processes cannot be signalled; abstract Unix sockets outside are "
                     "out of reach (Landlock scopes, ABI 6)")  # fmt: skip
    return lines


def degraded_lines(abi: int) -> list[str]:
    """What the landlock backend cannot give that bwrap does (the fix: make bwrap work)."""
    lines = [
        "processes: no PID namespace: host processes are visible (ps, /proc/PID/cmdline), "
        "and children that call setsid() outlive the command unless a pids cgroup kills them",
        "system folders: readable as on the host (/etc, /opt, /proc, /sys), not a private view",
        "workspace top folder: nothing can be created, removed or renamed in it by commands "
        "(Landlock cannot exclude .git beneath a grant on it); subfolders are writable",
        "HOME: an empty private folder, not the real one; /dev/shm is not writable",
        "file modes and times: not governed by Landlock; an ordinary user's command can chmod "
        "or touch that user's files outside the workspace (not read or write them); as root "
        "every chmod fails, chmod +x in the workspace too",
        "network: no sockets at all, so no network allow-list and no local test servers",
        "secret files: deny-listed workspace files (.env, keys...) are readable by commands; "
        "the file tools still hide them (Landlock cannot deny beneath an allowed folder)",
    ]
    if abi < 4:
        lines.append(f"ABI {abi} < 4: no Landlock network rules (seccomp still refuses socket)")
    if abi < 6:
        lines.append(f"ABI {abi} < 6: host processes of your user can be signalled")
    if abi < 3:
        lines.append(f"ABI {abi} < 3: truncate(2) is not controlled outside the workspace")
    return lines
