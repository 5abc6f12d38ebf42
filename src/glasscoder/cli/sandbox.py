"""`sandbox check` and `sandbox run`: what confines commands here, and trying it by hand."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from glasscoder.config import load_settings
from glasscoder.errors import UsageError
from glasscoder.ignore import SECRET_FILES
from glasscoder.safetext import printable
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.choose import choose
from glasscoder.sandbox.env import minimal_env

TIMEOUT_EXIT = 124  # as timeout(1) reports it


def check_command(sandbox: str | None) -> int:
    """Print the active backend, what it protects and what is degraded; 1 when disabled."""
    settings = load_settings(Path.cwd().resolve(), {"sandbox": sandbox} if sandbox else {})
    setting, allow_net = settings.sandbox or "auto", settings.allow_net
    choice = choose(setting)
    click.echo(f"sandbox setting: {setting}")
    if choice.sandbox is None:
        click.echo(f"backend: none available; commands are refused.\n  {choice.problem}")
        return 1
    if choice.name == "none":
        click.echo("backend: none (your explicit choice): commands run with your user's full "
                   "access; nothing below is protected.")  # fmt: skip
        if allow_net:
            from glasscoder.sandbox.netproxy import NO_NETWORK_CONTROL

            click.echo(NO_NETWORK_CONTROL)
        return 0
    if choice.name in ("landlock", "seatbelt"):
        return _check_fallback(choice.name, choice.degraded, bool(allow_net))
    from glasscoder.sandbox import cgroup

    pids_ok, pids_how = cgroup.available()
    protected = protected_lines(Limits(), allow_net)
    degraded = degraded_lines(pids_ok, pids_how, bool(allow_net))
    if pids_ok:
        protected.append(f"process count: at most {Limits().processes} ({pids_how})")
    more, less = bound_lines(Limits(), _tmpfs_capped(choice.sandbox))
    protected += [*host_lines(), *more]
    degraded = less + degraded
    click.echo("backend: bwrap")
    _section("protected", protected)
    _section("degraded", degraded)
    _toolchain_sections("bwrap")
    return 0


def run_command(
    argv: list[str], cwd: Path | None, sandbox: str | None, allow_net: list[str] | None = None
) -> int:
    """Run argv as the agent's run_shell would (environment, limits, backend)."""
    if not argv:
        raise UsageError("No command given: glasscoder sandbox run [--cwd DIR] -- CMD ARGS...")
    root = (cwd or Path.cwd()).resolve()
    if not root.is_dir():
        raise UsageError(f"Workspace '{root}' is not a directory; pass --cwd DIR.")
    settings = load_settings(root, {"sandbox": sandbox, "allow_net": allow_net or None})
    choice = choose(settings.sandbox, deny=(*SECRET_FILES, *settings.deny), root=root)
    if choice.sandbox is None:
        raise UsageError(f"Commands are refused: no sandbox is available ({choice.problem}).")
    limits = Limits(timeout=settings.shell_timeout, output_chars=settings.output_limit)
    from glasscoder.sandbox import netproxy

    # No session here, so the proxy's decisions go to stderr instead of an audit log.
    proxy = netproxy.start_for(choice.sandbox, settings.allow_net, _print_decision)
    if settings.allow_net and proxy is None:
        click.echo(f"glasscoder: {netproxy.unapplied(choice.sandbox.name)}", err=True)
    try:
        result = choice.sandbox.run(argv, root, minimal_env(), limits)
    finally:
        if proxy is not None:
            proxy.close()
    sys.stdout.write(printable(result.output))
    sys.stdout.flush()
    if result.timed_out:
        click.echo(f"glasscoder: timed out after {limits.timeout:g} s; killed.", err=True)
        return TIMEOUT_EXIT
    return result.exit_code if result.exit_code is not None else 1


def protected_lines(limits: Limits, allow_net: list[str] | None = None) -> list[str]:
    from glasscoder.sandbox.bwrap import PROTECTED
    from glasscoder.sandbox.seccomp_filter import DENIED, SOCKET_FAMILIES

    gib = 1 << 30
    return [
        "system files: / is mounted read-only",
        "writes: only inside the workspace; read-only there: " + ", ".join(PROTECTED)
        + ", the git folder a .git file names, glasscoder's config and its own files; missing "
        "ones cannot be created (an empty "
        "read-only placeholder stands in while a command runs and is removed after it)",
        "glasscoder's config read-only and its data (sessions, audit logs, ledger, key) "
        "hidden, wherever they are, below the workspace too",
        "secrets: $HOME, the account's passwd home" + _passwd_home_note() + ", /tmp and /run "
        "are empty (~/.ssh, ~/.aws, sockets, glasscoder's sessions and audit key are not there)",
        _env_line(),
        "system files only root may read (/etc/shadow, SSH host keys, /etc/ssl/private...): "
        "unreadable, also when glasscoder runs as root (then masked, since the command's uid "
        "maps to root's)",
        "secret files in the workspace: those on the deny-list (.env*, keys, credentials...) "
        "and hard links to them cannot be opened; deny-listed folders look empty, read-only",
        _network_line(allow_net or []),
        "processes: own PID namespace (host processes invisible, nothing outlives the "
        "command, setsid or not); no capabilities; no nested user namespaces",
        "socket families: only " + ", ".join(SOCKET_FAMILIES.values()) + " (netlink: route "
        "only); AF_UNIX, AF_VSOCK, AF_PACKET, AF_ALG and every other family refused",
        f"seccomp denies: ioctl(TIOCSTI), {', '.join(DENIED)}",
        f"limits per process: address space {limits.address_space / gib:g} GiB, CPU "
        f"{limits.cpu_seconds} s, file size {limits.file_size / gib:g} GiB, "
        f"{limits.open_files} open files",
    ]  # fmt: skip


def degraded_lines(pids_ok: bool, pids_how: str, net_allowed: bool = False) -> list[str]:
    lines = [
        "shown read-only on purpose: the toolchain folders listed below (in $HOME, /tmp or "
        "/run), so your tools run there; never a whole home or a folder holding credentials",
    ]
    if net_allowed:
        lines.append("network: the proxy decides where commands connect, not what they send "
                     "there; an allowed host receives whatever the command gives it")  # fmt: skip
    if not pids_ok:
        lines.insert(
            0,
            f"process count: NOT bounded ({pids_how}); fix: run glasscoder in a "
            "delegated cgroup v2, e.g. systemd-run --user --scope -p Delegate=yes ...",
        )
    return lines  # fmt: skip


def host_lines() -> list[str]:
    """The principle every backend shares (sandbox/hostpaths.py), for `sandbox check`."""
    from glasscoder.sandbox import hostpaths
    from glasscoder.sandbox.paths import canonical

    inside = hostpaths.read_only_inside(canonical(Path.cwd()))
    own = f" (here: {', '.join(inside)})" if inside else ""
    return [
        "the host: glasscoder never runs a program or loads a file the sandbox could have "
        "written: git, rg, bwrap and unsandboxed analyzers are found outside the workspace, "
        f"and its own files inside the workspace are read-only to commands{own}"
    ]


def bound_lines(limits: Limits, tmpfs_capped: bool | None) -> tuple[list[str], list[str]]:
    """(protected, degraded) lines for the bounds on the command as a whole: memory, the
    sandbox's /tmp and HOME (None: the backend has no tmpfs), the workspace's disk."""
    from glasscoder.sandbox import cgroup

    gib = 1 << 30
    memory_ok, memory_how = cgroup.memory_available()
    disk = (f"disk: a command that fills more than {limits.disk_growth / gib:g} GiB of the "
            "workspace's and the build caches' filesystems is stopped, and its output says "
            "so")  # fmt: skip
    protected, degraded = [disk], []
    if memory_ok:
        protected.append(f"memory: at most {limits.memory / gib:g} GiB for the whole command, "
                         f"all its processes together ({memory_how})")  # fmt: skip
    else:
        degraded.append(f"memory: per process only ({limits.address_space / gib:g} GiB of "
                        f"address space each): {memory_how}; fix: run glasscoder in a "
                        "delegated cgroup v2 with the memory controller")  # fmt: skip
    if tmpfs_capped:
        protected.append(f"/tmp and HOME inside, and /dev/shm: at most {limits.tmpfs_size / gib:g} "
                         "GiB each (RAM-backed tmpfs); the rest of /dev read-only")  # fmt: skip
    elif tmpfs_capped is False:
        degraded.append("/tmp and HOME inside: no size cap (this bwrap has no --size; 0.5 or "
                        "later has); the memory bound still counts what they hold")  # fmt: skip
    return protected, degraded


def _tmpfs_capped(sandbox: object) -> bool:
    from glasscoder.sandbox.bwrap import tmpfs_size_supported

    bwrap = getattr(sandbox, "bwrap", "")
    return bool(bwrap) and tmpfs_size_supported(bwrap)


def _passwd_home_note() -> str:
    from glasscoder.sandbox.paths import passwd_home

    home = passwd_home()
    return f" ({home})" if home else ""


def _env_line() -> str:
    from glasscoder.sandbox.env import ALLOWED

    return ("environment: only " + ", ".join(n for n in ALLOWED if not n.startswith("LC_"))
            + " and the locale variables by name (LC_ALL, LC_CTYPE, ...): no prefix, so a "
            "variable such as LC_MY_TOKEN does not pass")  # fmt: skip


def _network_line(allow_net: list[str]) -> str:
    if not allow_net:
        return ("network: none (a private, empty network namespace); the network allow-list is "
                "empty (--allow-net HOST[:PORT] lets commands reach a host)")  # fmt: skip
    from glasscoder.sandbox.netrules import AllowList

    return (f"network: only through glasscoder's proxy, to {AllowList.parse(allow_net)}; it "
            "resolves names itself and refuses loopback, private and metadata addresses "
            "unless listed by address; every decision is audited")  # fmt: skip


def _print_decision(record: dict[str, Any]) -> None:
    from glasscoder.sandbox.netproxy import describe

    click.echo(f"glasscoder net: {describe(record)}", err=True)


def _check_fallback(name: str, why: str, allow_net: bool) -> int:
    """`sandbox check` for the backends that protect less than bwrap: landlock, seatbelt."""
    if name == "seatbelt":
        from glasscoder.sandbox import seatbelt

        protected, degraded = seatbelt.protected_lines(), seatbelt.degraded_lines()
    else:
        from glasscoder.sandbox import cgroup, landlock

        abi, (pids_ok, pids_how) = landlock.abi_version(), cgroup.available()
        protected, degraded = landlock.protected_lines(abi, Limits()), landlock.degraded_lines(abi)
        if pids_ok:
            protected.append(f"process count: at most {Limits().processes} ({pids_how}); "
                             "what is left of the command is killed with it")  # fmt: skip
        else:
            degraded.insert(0, f"process count: NOT bounded ({pids_how})")
        more, less = bound_lines(Limits(), None)
        protected += [*host_lines(), *more]
        degraded = less + degraded
    if allow_net:
        degraded.insert(0, f"--allow-net is ignored under {name}: commands get no network")
    click.echo(f"backend: {name} (degraded: protects less than bwrap)")
    if why:
        click.echo(f"  why: {why}")
    _section("protected", protected)
    _section("degraded", degraded)
    if name == "landlock":
        _toolchain_sections(name)
    return 0


def _toolchain_sections(backend: str) -> None:
    """What this shell's environment would get shown, and why; what is not, and why not."""
    from glasscoder.sandbox.caches import BuildCaches
    from glasscoder.sandbox.paths import canonical, home_dirs

    env, root = minimal_env(), canonical(Path.cwd())
    if root == "/" or root in home_dirs(env):  # never a workspace: list as for a project
        root = os.devnull  # nothing lies inside it
    if backend == "landlock":  # readable: SYSTEM_READ and these folders; no links made
        from glasscoder.sandbox.landlock import SYSTEM_READ, read_toolchains
        from glasscoder.sandbox.paths import under_any

        found = read_toolchains(env, root)
        found.mounts = [m for m in found.mounts
                        if not m.target and not under_any(m.path, SYSTEM_READ)]  # fmt: skip
    else:
        from glasscoder.sandbox.bwrap import HIDDEN_AREAS
        from glasscoder.sandbox.toolchains import resolve

        homes = home_dirs(env)
        found = resolve(env, homes, [*HIDDEN_AREAS, *homes], root)
    shown = [f"{m.path}: {m.reason}" for m in found.mounts]
    _section("toolchains shown read-only (from PATH and the environment)", shown or ["none"])
    if found.refused:
        _section("toolchain folders not shown", [f"{m.path}: {m.reason}" for m in found.refused])
    _section("writable", BuildCaches.lines())


def _section(title: str, lines: list[str]) -> None:
    click.echo(f"{title}:")
    for line in lines:
        click.echo(f"  - {line}")
