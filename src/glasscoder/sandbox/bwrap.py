"""The ``bwrap`` sandbox: each command in fresh namespaces, seeing a read-only system.

What the command sees: the host's / read-only; the workspace writable, except .git and the
editor and tool files that run code on the host later (read-only, and when missing held by a
placeholder while the command runs: ``placeholders``); empty size-capped tmpfs over $HOME, the
account's passwd home, /tmp and /run (so ~/.ssh, ~/.aws, glasscoder's sessions and audit key,
docker.sock and other sockets are not there), with the toolchain folders the command needs
shown read-only on top (``toolchains``) and the session's build caches writable (``caches``);
glasscoder's config read-only and its data hidden, below the workspace too; glasscoder's own
files read-only when they are inside the workspace (``hostpaths``); no network (its own empty
network namespace; with an allow-list, only the proxy's socket, through ``netbridge``); its own
PID namespace, so nothing it starts outlives it, setsid() or not; no capabilities, no nested
user namespaces, and the seccomp filter of ``seccomp_filter``. Limits: rlimits (``rlimits``),
pids and memory cgroups (``cgroup``) when they can be made, and the workspace's disk watched
(``growth``).

The workspace's deny-listed files (ignore.SECRET_FILES and the ``deny`` setting, matched as
the file tools match them) are found before every command (``denied.Scanner``: a folder is
listed again only when it changed) and masked: ``/dev/null`` bound read-only over each file
and its hard links (opening it fails: bwrap binds without device access), an empty read-only
tmpfs over each directory. A command cannot read, copy, transform, hard-link or rename them (a
mount point cannot be renamed; the folders of a path denied for their names, like
.docker/config.json, are bound onto themselves for that). A deny-listed name that is a symlink
is left alone: a mount over it would land on its target, and the target's own name is what
the file tools judge too.

A bind source that is a symlink would let bwrap mount whatever it points to, so every path
mounted is canonical: the workspace must be given by its real path and a protected entry that
is a symlink is refused rather than followed.
"""

from __future__ import annotations

import functools
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from glasscoder.denied import Scanner
from glasscoder.ignore import SECRET_FILES, DenyList
from glasscoder.sandbox import (
    growth,
    hostpaths,
    placeholders,
    rlimits,
    rootonly,
    seccomp_filter,
    toolchains,
)
from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.caches import BuildCaches
from glasscoder.sandbox.cgroup import CommandCgroups, memory_note
from glasscoder.sandbox.paths import canonical, home_dirs, inside, under_any
from glasscoder.sandbox.supervise import TERM_GRACE, run_supervised

# Workspace entries that make the host run code or change what git does: read-only inside,
# and held by a placeholder while a command runs when missing (placeholders.py).
PROTECTED = (".git", ".glasscoder", ".envrc", ".vscode", ".idea")
PROTECTED_FILES = (".envrc",)  # the others are folders (or a .git file: a folder stops it too)
# Empty inside: temp files and sockets of the host's other programs stay out of reach.
HIDDEN_AREAS = ("/tmp", "/run")
SANDBOX_UID = 1000  # never uid 0 inside, even when glasscoder runs as root
HARDENING = (
    "--unshare-user", "--uid", str(SANDBOX_UID), "--disable-userns", "--cap-drop", "ALL",
    "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
)  # fmt: skip
REFUSED_EXIT = 126  # the command was not started
_MASK_FILE, _MASK_DIR = "mask-file", "mask-dir"  # not bwrap options: see _mount_args
_LINK = "link-to:"  # followed by the target: a symlink made inside, see _mount_args


class BindRefused(Exception):
    """A path the sandbox would mount is unsafe to mount; the message says which and why."""


class BwrapSandbox:
    name = "bwrap"

    def __init__(
        self,
        bwrap: str,
        hidden: Sequence[Path] = (),
        read_only: Sequence[Path] = (),
        term_grace: float = TERM_GRACE,
        net_socket: str | None = None,
        deny: Sequence[str] = SECRET_FILES,
    ) -> None:
        self.bwrap = bwrap
        self.hidden = list(hidden)  # glasscoder's data: replaced by an empty tmpfs
        self.read_only = list(read_only)  # glasscoder's config: read-only if in the workspace
        self.term_grace = term_grace
        self.pids_limited = True  # set False by run() when no pids cgroup could be made
        self.memory_limited = True  # the same for the memory cgroup
        # The network proxy's Unix socket (netproxy.py); None: no network at all.
        self.net_socket = net_socket
        # The workspace's deny-list, masked in every command; listings kept between commands.
        self.deny = Scanner(DenyList(deny))
        self.caches = BuildCaches()  # GOCACHE, cargo's, npm's, pip's: private to the session

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> Result:
        """Run argv with the protected paths that are missing held by placeholders."""
        try:
            root = checked_workspace(cwd, home_dirs(env))
            if not hostpaths.runnable_outside(self.bwrap, root):
                raise BindRefused(f"bwrap ({self.bwrap}) is inside the workspace, which "
                                  "commands can write; install bubblewrap system-wide")  # fmt: skip
            missing = placeholders.plan(root, *self._protected(root))
        except BindRefused as exc:
            return Result(exit_code=REFUSED_EXIT, output=f"glasscoder sandbox refused: {exc}\n")
        with placeholders.held(root, missing):
            return self._run_held(argv, cwd, env, limits)

    def _protected(self, root: str) -> tuple[list[str], list[str]]:
        """Every protected path (absolute) and which of them are files, for placeholders."""
        files = [os.path.join(root, name) for name in PROTECTED_FILES]
        files += [canonical(p) for p in self.read_only if p.suffix == ".toml"]
        paths = [os.path.join(root, name) for name in PROTECTED] + git_dirs(root)
        paths += [canonical(p) for p in (*self.read_only, *self.hidden)]
        return paths, files

    def _run_held(self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> Result:
        seccomp_fd = seccomp_filter.filter_fd()
        try:
            args = bwrap_args(cwd, env, seccomp_fd, self.hidden, self.read_only,
                              self.net_socket, self.deny, self.caches,
                              tmpfs_size=tmpfs_size(self.bwrap, limits))  # fmt: skip
        except BindRefused as exc:
            os.close(seccomp_fd)
            return Result(exit_code=REFUSED_EXIT, output=f"glasscoder sandbox refused: {exc}\n")
        group = CommandCgroups.create(limits)
        self.pids_limited, self.memory_limited = group.pids_limited, group.memory_limited
        if self.net_socket:
            from glasscoder.sandbox import netbridge

            argv = netbridge.command(seccomp_fd, argv)  # it loads the filter, then runs argv
        try:
            result = run_supervised(
                [self.bwrap, *args, "--", *argv],
                cwd,
                {},  # bwrap sets the command's environment itself (--clearenv, --setenv)
                limits,
                self.term_grace,
                pass_fds=(seccomp_fd,),
                preexec=_preexec(rlimits.setter(limits), group),
                find_leftovers=False,  # bwrap's PID namespace ends with the command
                watch=growth.watcher([str(cwd), self.caches.folder()], limits.disk_growth),
            )
            if kills := group.memory_kills():
                result.output = f"{result.output.rstrip()}\n{memory_note(kills, limits.memory)}"
            return _with_missing_folder(result, cwd, env)
        finally:
            os.close(seccomp_fd)
            group.remove()

    def probe(self, workspace: Path) -> Result:
        """`true` under the full profile, without the resource limits: those are set in a
        preexec function, and forking with one while other threads run (start-up imports the
        model SDK in a thread meanwhile) can print lock warnings from the child."""
        seccomp_fd = seccomp_filter.filter_fd()
        try:
            args = bwrap_args(workspace, {"PATH": "/usr/bin:/bin"}, seccomp_fd, self.hidden)
            argv = [self.bwrap, *args, "--", "true"]
            return run_supervised(argv, workspace, {}, Limits(timeout=10), self.term_grace,
                                  pass_fds=(seccomp_fd,), find_leftovers=False)  # fmt: skip
        finally:
            os.close(seccomp_fd)


def bwrap_args(
    workspace: Path,
    env: Mapping[str, str],
    seccomp_fd: int,
    hidden: Iterable[Path] = (),
    read_only: Iterable[Path] = (),
    net_socket: str | None = None,
    deny: Scanner | None = None,
    caches: BuildCaches | None = None,
    tmpfs_size: int | None = None,
) -> list[str]:
    """bwrap's options (without the trailing ``--`` and command) for one command.

    With ``net_socket`` the command is started by ``netbridge``, which loads the seccomp
    program from ``seccomp_fd`` itself once its bridge to the socket is running. ``deny``:
    the deny-list whose files are masked (None: SECRET_FILES). ``caches``: the session's
    private build caches (None: none)."""
    homes = home_dirs(env)
    root = checked_workspace(workspace, homes)
    tools = toolchains.resolve(env, homes, [*HIDDEN_AREAS, *homes], root)
    mounts = _mounts(root, homes, hidden, read_only, tools)
    env = {**env, **tools.variables}
    if caches is not None:
        mounts.append((3, "--bind", caches.folder()))
        env.update(caches.variables(env, root))
    mounts += _masks(root, deny or Scanner(DenyList(SECRET_FILES)))
    mounts += _root_only_masks(mounts)
    args = [*HARDENING, "--ro-bind", "/", "/", "--proc", "/proc", *_dev_args(tmpfs_size)]
    for _, option, path in sorted(mounts, key=lambda m: (len(Path(m[2]).parts), m[0])):
        args += _mount_args(option, path, tmpfs_size)
    for key, value in _command_env(env).items():
        args += ["--setenv", key, value]
    if net_socket:
        from glasscoder.sandbox import netbridge

        return [*args, *netbridge.mounts(net_socket), "--chdir", str(root)]
    return [*args, "--seccomp", str(seccomp_fd), "--chdir", str(root)]


def checked_workspace(workspace: Path, homes: Iterable[str]) -> str:
    """The workspace as a canonical path string, or BindRefused."""
    given = os.path.abspath(workspace)
    real = os.path.realpath(given)
    if real != given:
        raise BindRefused(
            f"the workspace {given} is reached through a symlink (it is {real}); give its real path"
        )
    if not os.path.isdir(real):
        raise BindRefused(f"the workspace {real} is not a directory")
    if real == "/" or real in homes:
        raise BindRefused(
            f"the workspace {real} is / or your home directory; commands would see your "
            "credentials there. Use a project folder"
        )
    return real


def protected_entries(root: str) -> list[str]:
    """The PROTECTED entries present in the workspace; BindRefused when one is a symlink."""
    found = []
    for name in PROTECTED:
        path = os.path.join(root, name)
        if os.path.islink(path):
            raise BindRefused(
                f"{path} is a symlink, so it cannot be made read-only; replace it with the "
                "file or folder it points to"
            )
        if os.path.lexists(path):
            found.append(path)
    return found


def git_dirs(root: str) -> list[str]:
    """The folders inside the workspace that a `.git` file sends git to: its `gitdir:` (the
    bare-repository layout, `gitdir: ./.bare`) and that folder's `commondir` (a worktree's).
    git reads config, hooks and fsmonitor settings there as in a `.git` folder, so they are
    protected the same way, missing ones too; BindRefused when one is reached through a
    symlink, which a command could point elsewhere."""
    pointer = os.path.join(root, ".git")
    if os.path.islink(pointer) or not os.path.isfile(pointer):
        return []
    found = []
    gitdir = _git_pointer(pointer, root, "gitdir:")
    if gitdir:
        found.append(gitdir)
        common = _git_pointer(os.path.join(gitdir, "commondir"), gitdir)
        found += [common] if common else []
    kept = [p for p in dict.fromkeys(found) if inside(p, root) and p != root]
    for path in kept:
        if canonical(path) != path:
            raise BindRefused(f"{path}, where {pointer} sends git, is reached through a "
                              "symlink, so it cannot be made read-only")  # fmt: skip
    return kept


def _git_pointer(path: str, base: str, prefix: str = "") -> str:
    """The path a git pointer file names (relative to base), normalised; "" when none."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            line = f.readline(4096).strip()
    except OSError:
        return ""
    if not line.startswith(prefix) or not line[len(prefix) :].strip():
        return ""
    return os.path.normpath(os.path.join(base, line[len(prefix) :].strip()))


def _mounts(
    root: str,
    homes: list[str],
    hidden: Iterable[Path],
    read_only: Iterable[Path],
    tools: toolchains.Toolchains | None = None,
) -> list[tuple[int, str, str]]:
    """(order at equal depth, option, path). Sorted by depth, a parent is mounted before what
    is inside it, so a tmpfs over /tmp never covers a workspace under /tmp."""
    areas = [*HIDDEN_AREAS, *homes]
    # glasscoder's data is hidden wherever a command could reach it: outside the hidden areas,
    # or inside the workspace, whose bind shows it again even when it is under a home or /tmp.
    tmpfs = list(areas)
    for path in map(canonical, hidden):
        if os.path.isdir(path) and (inside(path, root) or not under_any(path, areas)):
            tmpfs.append(path)
    mounts = [(0, "--tmpfs", path) for path in dict.fromkeys(tmpfs)]
    mounts.append((1, "--bind", root))
    for path in protected_entries(root):
        mounts.append((2, "--ro-bind", path))
    kept = _read_only_inside(root, read_only, hidden) + _git_dirs_present(root)
    for path in kept:
        mounts.append((2, "--ro-bind", path))
    # A folder holding a kept path could be renamed away and the path made afresh under the
    # old name (mv .config x; mkdir -p .config/glasscoder), so those folders are pinned.
    kept += [path for path in tmpfs if inside(path, root) and path != root]
    mounts += [(1, "--bind", folder) for folder in _folders_between(root, kept)]
    for tool in tools.mounts if tools else ():  # never inside the workspace: see toolchains
        mounts.append((3, f"{_LINK}{tool.target}" if tool.target else "--ro-bind", tool.path))
    return mounts


def _read_only_inside(root: str, read_only: Iterable[Path], hidden: Iterable[Path]) -> list[str]:
    """Read-only inside the workspace: glasscoder's config where it exists, its own files
    (hostpaths), and the placeholder standing for a missing config or data folder."""
    found = [p for p in map(canonical, read_only) if os.path.exists(p) and inside(p, root)]
    found += hostpaths.read_only_inside(root)
    if linked := hostpaths.linked_inside(root):
        raise BindRefused(f"glasscoder's own files ({linked}) are reached through a symlink in "
                          "the workspace, which a command could point elsewhere; run glasscoder "
                          "from the real path")  # fmt: skip
    for path in map(canonical, (*read_only, *hidden)):
        if inside(path, root) and path != root and not os.path.lexists(path):
            top = _deepest_existing(path, root)
            if top != root and placeholders.is_placeholder(top):
                found.append(top)
    return list(dict.fromkeys(found))


def _git_dirs_present(root: str) -> list[str]:
    """git_dirs as they are now: each one, or the placeholder standing for it when missing."""
    found = []
    for path in git_dirs(root):
        top = path if os.path.lexists(path) else _deepest_existing(path, root)
        if top == path or (top != root and placeholders.is_placeholder(top)):
            found.append(top)
    return found


def _folders_between(root: str, paths: Iterable[str]) -> list[str]:
    """The folders strictly between root and each path."""
    folders: dict[str, None] = {}
    for path in paths:
        parent = os.path.dirname(path)
        while parent != root and inside(parent, root):
            folders[parent] = None
            parent = os.path.dirname(parent)
    return list(folders)


def _deepest_existing(path: str, root: str) -> str:
    while path != root and not os.path.lexists(path):
        path = os.path.dirname(path)
    return path


def _root_only_masks(mounts: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """For a root caller, the system files only root may read (``rootonly``), masked; none
    under a mount of ours, none over a folder holding one."""
    covered = [path for _, option, path in mounts if option in ("--tmpfs", "--bind")]
    files, dirs = rootonly.masks(covered, [path for _, _, path in mounts])
    return [(4, _MASK_FILE, path) for path in files] + [(4, _MASK_DIR, path) for path in dirs]


def _masks(root: str, deny: Scanner) -> list[tuple[int, str, str]]:
    """Masks over the deny-listed entries, ordered after every other mount at their depth
    (they lie inside the workspace, so its bind, being shallower, always comes first)."""
    found = deny.scan(root)
    files = dict.fromkeys([*found.files, *found.twins])
    masks = [(4, _MASK_FILE, path) for path in files] + [(4, _MASK_DIR, p) for p in found.dirs]
    denied = [(path, False) for path in found.files] + [(path, True) for path in found.dirs]
    return _pinned_folders(root, deny.deny, denied) + masks


def _pinned_folders(
    root: str, deny: DenyList, denied: list[tuple[str, bool]]
) -> list[tuple[int, str, str]]:
    """A mount point cannot be renamed, so a mask stays where it is; but when a path is denied
    for its folders' names (.docker/config.json), renaming a folder would give the file a name
    the file tools show. Those folders are bound onto themselves, before any read-only mount
    at their depth, so that they cannot be renamed either."""
    folders: dict[str, None] = {}
    for path, is_dir in denied:
        if not deny.denies_name(os.path.basename(path), is_dir):
            parent = os.path.dirname(path)
            while inside(parent, root) and parent != root:
                folders[parent] = None
                parent = os.path.dirname(parent)
    return [(1, "--bind", folder) for folder in folders]


def _dev_args(size: int | None) -> list[str]:
    """bwrap's /dev is a tmpfs of its own, with no size: read-only, with /dev/shm (POSIX
    shared memory and semaphores) a capped tmpfs like /tmp."""
    return ["--dev", "/dev", *_mount_args("--tmpfs", "/dev/shm", size), "--remount-ro", "/dev"]


def _mount_args(option: str, path: str, size: int | None = None) -> list[str]:
    if option == _MASK_FILE:
        return ["--ro-bind", "/dev/null", path]
    if option == _MASK_DIR:
        return ["--tmpfs", path, "--remount-ro", path]
    if option.startswith(_LINK):
        return ["--symlink", option.removeprefix(_LINK), path]
    if option == "--tmpfs":
        return [*(["--size", str(size)] if size else []), option, path]
    return [option, path, path]


def _with_missing_folder(result: Result, cwd: Path, env: Mapping[str, str]) -> Result:
    """A command that could not start because a folder it needs is hidden says which."""
    if result.exit_code in (0, None):
        return result
    homes = home_dirs(env)
    areas = [*HIDDEN_AREAS, *homes]
    try:
        root = checked_workspace(cwd, homes)
    except BindRefused:
        return result
    tools = toolchains.resolve(env, homes, areas, root)
    line = toolchains.explain_missing(result.output, env, tools, areas, root)
    if line:
        result.output = result.output.rstrip("\n") + "\n" + line + "\n"
    return result


def _command_env(env: Mapping[str, str]) -> dict[str, str]:
    out = dict(env)
    out["TMPDIR"] = "/tmp"  # the private tmpfs; the host's TMPDIR is not mounted
    return out


@functools.cache
def tmpfs_size_supported(bwrap: str) -> bool:
    """Whether this bwrap takes --size for a tmpfs (0.5 and later); older ones get none."""
    try:
        proc = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10,
                              check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return False
    return "--size" in proc.stdout + proc.stderr


def tmpfs_size(bwrap: str, limits: Limits) -> int | None:
    return limits.tmpfs_size if tmpfs_size_supported(bwrap) else None


def _preexec(set_limits: Callable[[], None], group: CommandCgroups) -> Callable[[], None]:
    def preexec() -> None:
        group.join()  # before exec: every process bwrap starts is counted
        set_limits()

    return preexec
