"""The ``bwrap`` sandbox: each command in fresh namespaces, seeing a read-only system.

What the command sees: the host's / read-only; the workspace writable, except .git and the
editor and tool files that run code on the host later (read-only); empty tmpfs over $HOME,
/tmp and /run (so ~/.ssh, ~/.aws, glasscoder's sessions and audit key, docker.sock and other
sockets are not there); glasscoder's own config read-only; no network (its own empty network
namespace; with an allow-list, only the proxy's socket, through ``netbridge``); its own PID
namespace, so nothing it starts outlives it, setsid() or not; no capabilities, no nested user
namespaces, and the seccomp filter of ``seccomp_filter``. Limits:
rlimits (``rlimits``) and a pids cgroup (``cgroup``) when one can be made.

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

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from glasscoder.denied import Scanner
from glasscoder.ignore import SECRET_FILES, DenyList
from glasscoder.sandbox import rlimits, seccomp_filter
from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.cgroup import PidsCgroup
from glasscoder.sandbox.paths import canonical, home_dirs, inside, under_any
from glasscoder.sandbox.supervise import TERM_GRACE, run_supervised

# Workspace entries that make the host run code or change what git does: read-only inside.
PROTECTED = (".git", ".glasscoder", ".envrc", ".vscode", ".idea")
# Version managers under $HOME whose whole folder PATH's shims need; none stores credentials.
# Empty inside: temp files and sockets of the host's other programs stay out of reach.
HIDDEN_AREAS = ("/tmp", "/run")
TOOLCHAIN_ROOTS = (".pyenv", ".rbenv", ".nodenv", ".asdf", ".nvm", ".volta", ".rustup")
SANDBOX_UID = 1000  # never uid 0 inside, even when glasscoder runs as root
HARDENING = (
    "--unshare-user", "--uid", str(SANDBOX_UID), "--disable-userns", "--cap-drop", "ALL",
    "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
)  # fmt: skip
REFUSED_EXIT = 126  # the command was not started
_MASK_FILE, _MASK_DIR = "mask-file", "mask-dir"  # not bwrap options: see _mount_args


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
        # The network proxy's Unix socket (netproxy.py); None: no network at all.
        self.net_socket = net_socket
        # The workspace's deny-list, masked in every command; listings kept between commands.
        self.deny = Scanner(DenyList(deny))

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> Result:
        seccomp_fd = seccomp_filter.filter_fd()
        try:
            args = bwrap_args(
                cwd, env, seccomp_fd, self.hidden, self.read_only, self.net_socket, self.deny
            )
        except BindRefused as exc:
            os.close(seccomp_fd)
            return Result(exit_code=REFUSED_EXIT, output=f"glasscoder sandbox refused: {exc}\n")
        group = PidsCgroup.create(limits.processes)
        self.pids_limited = group is not None
        if self.net_socket:
            from glasscoder.sandbox import netbridge

            argv = netbridge.command(seccomp_fd, argv)  # it loads the filter, then runs argv
        try:
            return run_supervised(
                [self.bwrap, *args, "--", *argv],
                cwd,
                {},  # bwrap sets the command's environment itself (--clearenv, --setenv)
                limits,
                self.term_grace,
                pass_fds=(seccomp_fd,),
                preexec=_preexec(rlimits.setter(limits), group),
                find_leftovers=False,  # bwrap's PID namespace ends with the command
            )
        finally:
            os.close(seccomp_fd)
            if group is not None:
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
) -> list[str]:
    """bwrap's options (without the trailing ``--`` and command) for one command.

    With ``net_socket`` the command is started by ``netbridge``, which loads the seccomp
    program from ``seccomp_fd`` itself once its bridge to the socket is running. ``deny``:
    the deny-list whose files are masked (None: SECRET_FILES)."""
    homes = home_dirs(env)
    root = checked_workspace(workspace, homes)
    mounts = _mounts(root, homes, hidden, read_only, env.get("PATH", ""))
    mounts += _masks(root, deny or Scanner(DenyList(SECRET_FILES)))
    args = [*HARDENING, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    for _, option, path in sorted(mounts, key=lambda m: (len(Path(m[2]).parts), m[0])):
        args += _mount_args(option, path)
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


def _mounts(
    root: str,
    homes: list[str],
    hidden: Iterable[Path],
    read_only: Iterable[Path],
    path_var: str = "",
) -> list[tuple[int, str, str]]:
    """(order at equal depth, option, path). Sorted by depth, a parent is mounted before what
    is inside it, so a tmpfs over /tmp never covers a workspace under /tmp."""
    tmpfs = [*HIDDEN_AREAS, *homes]
    for path in map(canonical, hidden):
        if os.path.isdir(path) and not under_any(path, tmpfs):
            tmpfs.append(path)
    mounts = [(0, "--tmpfs", path) for path in dict.fromkeys(tmpfs)]
    mounts.append((1, "--bind", root))
    for path in protected_entries(root):
        mounts.append((2, "--ro-bind", path))
    for path in map(canonical, read_only):
        if os.path.exists(path) and inside(path, root) and not under_any(path, tmpfs):
            mounts.append((2, "--ro-bind", path))
    for path in _tool_dirs(path_var, homes):
        if not inside(path, root):  # the workspace's own .venv/bin stays writable
            mounts.append((3, "--ro-bind", path))
    return mounts


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


def _mount_args(option: str, path: str) -> list[str]:
    if option == _MASK_FILE:
        return ["--ro-bind", "/dev/null", path]
    if option == _MASK_DIR:
        return ["--tmpfs", path, "--remount-ro", path]
    return [option, path] if option == "--tmpfs" else [option, path, path]


def _tool_dirs(path_var: str, homes: Iterable[str]) -> list[str]:
    """PATH folders inside a hidden area (a home, /tmp, /run), shown read-only so the
    person's toolchains still run (a virtualenv under /tmp, ~/.cargo/bin).

    A version manager's shims need the whole manager folder (~/.pyenv/shims runs
    ~/.pyenv/libexec/pyenv), so for the managers in TOOLCHAIN_ROOTS, which keep no
    credentials, that folder is shown; otherwise only the PATH folder itself (~/.cargo/bin, not
    ~/.cargo, which may hold a registry token). A hidden area itself is never shown.
    """
    homes = list(homes)
    areas = [*HIDDEN_AREAS, *homes]
    found = []
    for entry in path_var.split(":"):
        path = canonical(Path(entry)) if os.path.isabs(entry) else ""
        if not path or path in areas or not under_any(path, areas) or not os.path.isdir(path):
            continue
        home = next((h for h in homes if inside(path, h)), None)
        first = Path(path).relative_to(home).parts[0] if home else ""
        found.append(os.path.join(home, first) if home and first in TOOLCHAIN_ROOTS else path)
    return list(dict.fromkeys(found))


def _command_env(env: Mapping[str, str]) -> dict[str, str]:
    out = dict(env)
    out["TMPDIR"] = "/tmp"  # the private tmpfs; the host's TMPDIR is not mounted
    return out


def _preexec(set_limits: Callable[[], None], group: PidsCgroup | None) -> Callable[[], None]:
    def preexec() -> None:
        if group is not None:
            group.join()  # before exec: every process bwrap starts is counted
        set_limits()

    return preexec
