"""Escape attempts from inside the bwrap sandbox (issue 5, items 1-8, 10-12), checked from the
host wherever the effect would land there. Every probe that could pass for a silly reason (a
typo, a missing tool) is also run unconfined once to show it does work outside."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from glasscoder.config import load_settings
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.bwrap import REFUSED_EXIT, BwrapSandbox
from glasscoder.sandbox.choose import choose
from glasscoder.sandbox.none import NoSandbox
from glasscoder.tools.base import ToolContext, ToolError
from glasscoder.tools.edit import WriteFile
from glasscoder.tools.files import ReadFile
from glasscoder.tools.shell import RunShell
from glasscoder.workspace import Workspace, WorkspaceError
from tests.sandbox.conftest import Arena, sh, system_python


@pytest.fixture
def box(sandbox: BwrapSandbox, arena: Arena) -> BwrapSandbox:
    """The sandbox as glasscoder builds it, with the arena's data dir and a config dir."""
    return BwrapSandbox(sandbox.bwrap, [arena.data], [arena.ws / "cfg"])


def py(box, arena: Arena, code: str, **limits: float):
    return box.run([system_python(), "-c", code], arena.ws, arena.env(), Limits(**limits))


# --- 1. writes outside the workspace fail, also through links --------------------------------


def test_workspace_is_writable_and_lands_on_the_host(box, arena) -> None:
    result = sh(box, arena, "echo made > made.txt")
    assert result.exit_code == 0, result.output
    assert (arena.ws / "made.txt").read_text() == "made\n"


@pytest.mark.parametrize(
    "script",
    [
        "echo x > /etc/glasscoder-escape",
        "echo x >> $HOME/.bashrc",
        "echo x > ../sibling/file.txt",
        "ln -s ../sibling out && echo x > out/file.txt",
        "ln -s /etc/glasscoder-escape new && echo x > new",
        "ln ../sibling/file.txt hard && echo x >> hard",
    ],
    ids=["etc", "home", "sibling", "repo-symlink", "new-symlink", "hardlink"],
)
def test_writes_outside_fail(box, arena, script) -> None:
    sh(box, arena, script)
    assert not Path("/etc/glasscoder-escape").exists()
    assert (arena.home / ".bashrc").read_text() == "# bashrc\n"
    assert (arena.sibling / "file.txt").read_text() == "sibling\n"
    assert sorted(p.name for p in arena.sibling.iterdir()) == ["file.txt"]
    assert not (arena.ws / "hard").exists()


def test_a_symlink_planted_in_the_repo_before_the_run_leads_nowhere(box, arena) -> None:
    (arena.ws / "planted").symlink_to(arena.sibling)
    result = sh(box, arena, "echo x > planted/new.txt")
    assert result.exit_code != 0 and "Read-only file system" in result.output
    assert not (arena.sibling / "new.txt").exists()


# --- 2. a workspace or bind source that is a symlink is refused --------------------------------


def test_a_symlinked_workspace_is_refused(box, arena) -> None:
    link = arena.base / "link-to-sibling"
    link.symlink_to(arena.sibling)
    result = box.run(["bash", "-c", "echo x > file.txt"], link, arena.env(), Limits())
    assert result.exit_code == REFUSED_EXIT and "symlink" in result.output
    assert (arena.sibling / "file.txt").read_text() == "sibling\n"


def test_a_protected_entry_that_is_a_symlink_is_refused(box, arena) -> None:
    (arena.ws / ".envrc").unlink()
    (arena.ws / ".envrc").symlink_to(arena.sibling / "file.txt")
    result = sh(box, arena, "echo x > .envrc")
    assert result.exit_code == REFUSED_EXIT and ".envrc is a symlink" in result.output
    assert (arena.sibling / "file.txt").read_text() == "sibling\n"


# --- 3. the file tools refuse symlinks a command made -------------------------------------


def test_file_tools_refuse_symlinks_made_inside(box, arena) -> None:
    made = sh(box, arena, "ln -s ../sibling sub && ln -s ../sibling/file.txt leaf")
    assert made.exit_code == 0, made.output
    ctx = ToolContext(Workspace(arena.ws), box)
    for tool, args in [
        (WriteFile(), {"path": "sub/file.txt", "content": "x"}),  # intermediate
        (WriteFile(), {"path": "leaf", "content": "x"}),  # final
        (ReadFile(), {"path": "leaf"}),
    ]:
        with pytest.raises((ToolError, WorkspaceError)):
            tool.run(args, ctx)
    assert (arena.sibling / "file.txt").read_text() == "sibling\n"


# --- 4. files that run code on the host later are read-only ---------------------------------


@pytest.mark.parametrize(
    "target",
    [".git/hooks/pre-commit", ".git/config", ".envrc", ".vscode/tasks.json",
     ".glasscoder/config.toml", "cfg/config.toml"],
)  # fmt: skip
def test_protected_files_are_read_only(box, arena, target) -> None:
    (arena.ws / "cfg").mkdir()
    (arena.ws / "cfg" / "config.toml").write_text('sandbox = "auto"\n')
    before = (arena.ws / target).read_bytes()
    result = sh(box, arena, f"echo 'touch /tmp/pwned' >> {target}; rm -rf {target}; "
                f"mv {target} moved; echo new > {target}")  # fmt: skip
    assert "Read-only file system" in result.output or "busy" in result.output
    assert (arena.ws / target).read_bytes() == before  # `moved` may be a copy: harmless


def test_new_hooks_cannot_be_added(box, arena) -> None:
    sh(box, arena, "echo 'exit 0' > .git/hooks/post-checkout; git config core.hooksPath x")
    assert not (arena.ws / ".git" / "hooks" / "post-checkout").exists()
    assert "hooksPath" not in (arena.ws / ".git" / "config").read_text()


# --- 5. credentials are not there ------------------------------------------------------------


def test_credentials_and_glasscoders_data_are_invisible(box, arena) -> None:
    result = sh(box, arena, f"cat ~/.ssh/id_ed25519 ~/.aws/credentials "
                f"{arena.data}/sessions/audit.key; ls -A ~ {arena.data}")  # fmt: skip
    assert "PRIVATE-KEY" not in result.output and "AWS-SECRET" not in result.output
    assert "AUDIT-KEY" not in result.output and "No such file" in result.output


def test_the_real_home_is_empty_too(box, arena) -> None:
    result = sh(box, arena, f"ls -A {Path.home()}/.ssh {Path.home()}/.aws 2>&1; true")
    assert all(line.endswith("No such file or directory") for line in
               result.output.splitlines()), result.output  # fmt: skip


def test_parent_secrets_in_the_environment_are_absent(box, arena, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-aws")
    from glasscoder.sandbox.env import minimal_env

    result = box.run(["env"], arena.ws, minimal_env(), Limits())
    assert result.exit_code == 0 and "PATH=" in result.output
    assert "sk-parent-secret" not in result.output and "parent-aws" not in result.output
    assert "TMPDIR=/tmp\n" in result.output


# --- 6. host processes cannot be reached -------------------------------------------------------


def test_host_processes_cannot_be_signalled_or_read(box, arena) -> None:
    victim = subprocess.Popen(["sleep", "60"], env={"VICTIM_SECRET": "v-secret"})
    try:
        result = sh(box, arena, f"kill -9 {victim.pid}; cat /proc/{victim.pid}/environ; "
                    "ps -e -o pid= | wc -l")  # fmt: skip
        assert victim.poll() is None  # still running
        assert "v-secret" not in result.output
        assert int(result.output.split()[-1]) <= 4  # bwrap's init, bash, ps (and wc)
    finally:
        victim.kill()
        victim.wait()


# --- 7. no mounts, no namespaces, no capabilities ------------------------------------------


def test_no_remount_no_mount_no_user_namespace_no_capabilities(box, arena) -> None:
    result = sh(box, arena, "mount -o remount,rw / && echo REMOUNTED; "
                "mount -t tmpfs none /mnt && echo MOUNTED; unshare -U true && echo UNSHARED; "
                "echo x > /etc/glasscoder-escape; grep CapEff /proc/self/status")  # fmt: skip
    assert "REMOUNTED" not in result.output and "MOUNTED" not in result.output
    assert "UNSHARED" not in result.output
    assert "CapEff:\t0000000000000000" in result.output
    assert not Path("/etc/glasscoder-escape").exists()


# --- 8. no network, no Unix sockets, no raw sockets, no io_uring ---------------------------

CONNECT = """
import socket, sys
family = {"4": socket.AF_INET, "6": socket.AF_INET6, "u": socket.AF_UNIX}[sys.argv[1]]
kind = socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM
unix = sys.argv[3].replace("@", "\\0", 1)  # @name: the abstract namespace
address = unix if family == socket.AF_UNIX else (sys.argv[3], int(sys.argv[4]))
try:
    s = socket.socket(family, kind)
    s.settimeout(3)
    s.connect(address)
    s.send(b"escaped")
    print("CONNECTED")
except OSError as e:
    print("BLOCKED", e)
"""


def _listener(family: int, kind: int, address) -> socket.socket:
    s = socket.socket(family, kind)
    s.bind(address)
    if kind == socket.SOCK_STREAM:
        s.listen()
    s.settimeout(0.5)
    return s


def _received(listener: socket.socket) -> bool:
    try:
        if listener.type == socket.SOCK_STREAM:
            conn, _ = listener.accept()
            conn.close()
            return True
        return bool(listener.recv(100))
    except (TimeoutError, BlockingIOError):
        return False


@pytest.mark.parametrize(
    ("family", "kind", "host"),
    [(socket.AF_INET, "tcp", "127.0.0.1"), (socket.AF_INET6, "tcp", "::1"),
     (socket.AF_INET, "udp", "127.0.0.1"), (socket.AF_INET6, "udp", "::1")],
    ids=["tcp4", "tcp6", "udp4", "udp6"],
)  # fmt: skip
def test_host_loopback_listeners_are_unreachable(box, arena, family, kind, host) -> None:
    sock_kind = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    try:
        listener = _listener(family, sock_kind, (host, 0))
    except OSError as e:
        pytest.skip(f"no {host} on this host: {e}")
    with listener:
        port = str(listener.getsockname()[1])
        v = "4" if family == socket.AF_INET else "6"
        control = NoSandbox().run([system_python(), "-c", CONNECT, v, kind, host, port],
                                  arena.ws, arena.env(), Limits())  # fmt: skip
        assert "CONNECTED" in control.output and _received(listener)  # the probe works
        argv = [system_python(), "-c", CONNECT, v, kind, host, port]
        result = box.run(argv, arena.ws, arena.env(), Limits())
        assert not _received(listener), result.output
        if kind == "tcp":
            assert "BLOCKED" in result.output


def test_unix_sockets_path_and_abstract_are_blocked(box, arena) -> None:
    path = arena.ws / "docker.sock"  # a fake docker.sock the command can see
    abstract = f"glasscoder-test-{uuid.uuid4().hex}"
    with (
        _listener(socket.AF_UNIX, socket.SOCK_STREAM, str(path)) as on_path,
        _listener(socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract) as on_abstract,
    ):
        for listener, address in ((on_path, str(path)), (on_abstract, "@" + abstract)):
            argv = [system_python(), "-c", CONNECT, "u", "tcp", address]
            control = NoSandbox().run(argv, arena.ws, arena.env(), Limits())
            assert "CONNECTED" in control.output and _received(listener)
            result = box.run(argv, arena.ws, arena.env(), Limits())
            assert "BLOCKED" in result.output and "Operation not permitted" in result.output
            assert not _received(listener)


def test_raw_sockets_fail(box, arena) -> None:
    code = ("import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\n"
            "    print('RAW')\nexcept OSError as e:\n    print('BLOCKED', e)")  # fmt: skip
    assert "BLOCKED" in py(box, arena, code).output


IO_URING = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
fd = libc.syscall(425, 4, params)  # io_uring_setup(entries, params)
print("RING" if fd >= 0 else "BLOCKED errno %d" % ctypes.get_errno())
"""


def test_io_uring_fails(box, arena) -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("the probe uses x86_64's syscall number")
    control = NoSandbox().run([system_python(), "-c", IO_URING], arena.ws, arena.env(), Limits())
    if "RING" not in control.output:
        pytest.skip(f"io_uring is off on this host anyway: {control.output.strip()}")
    assert py(box, arena, IO_URING).output.strip() == "BLOCKED errno 1"


# --- 10. limits -------------------------------------------------------------------------------

FORK_BOMB = """
import os, time
made = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(5)
            os._exit(0)
        made += 1
    except BlockingIOError:
        break
print("forked", made)
"""


def test_a_fork_bomb_is_bounded(box, arena) -> None:
    if not (result := py(box, arena, FORK_BOMB, processes=20)).output.startswith("forked"):
        pytest.fail(result.output)
    if not box.pids_limited:
        pytest.skip("no pids cgroup here (reported as degraded by `sandbox check`)")
    assert int(result.output.split()[1]) < 20


def test_a_large_allocation_fails(box, arena) -> None:
    code = "b = bytearray(1 << 30)\nprint('ALLOCATED')"
    result = py(box, arena, code, address_space=256 << 20)
    assert "MemoryError" in result.output and "ALLOCATED" not in result.output


def test_a_cpu_loop_is_killed_by_its_cpu_limit(box, arena) -> None:
    result = py(box, arena, "while True: pass", cpu_seconds=1, timeout=60)
    assert not result.timed_out
    assert result.exit_code in (128 + 24, 128 + 9)  # SIGXCPU, then SIGKILL at the hard limit


def test_an_oversized_file_is_cut_at_its_limit(box, arena) -> None:
    result = sh(box, arena, "head -c 4000000 /dev/zero > big", file_size=1 << 20)
    assert result.exit_code == 128 + 25  # SIGXFSZ
    assert (arena.ws / "big").stat().st_size <= 1 << 20


def test_too_many_open_files_fail(box, arena) -> None:
    code = "import os\nfds = [os.open('/dev/null', os.O_RDONLY) for _ in range(100)]"
    assert "Too many open files" in py(box, arena, code, open_files=32).output


def test_timeout_kills_children_that_called_setsid(box, arena) -> None:
    marker = arena.ws / "marker"
    script = ("setsid bash -c 'while :; do date +%s%N > marker; sleep 0.05; done' "
              "> /dev/null 2>&1 & echo started; sleep 60")  # fmt: skip
    result = sh(box, arena, script, timeout=2)
    assert result.timed_out and result.output == "started\n"
    first = marker.read_text()
    time.sleep(0.5)  # the loop wrote every 0.05 s while it lived
    assert marker.read_text() == first


def test_background_children_do_not_outlive_the_command(box, arena) -> None:
    result = sh(box, arena, "setsid bash -c 'sleep 1; touch late' > /dev/null 2>&1 & echo ok")
    assert result.output == "ok\n"
    time.sleep(1.5)
    assert not (arena.ws / "late").exists()


# --- 11. TIOCSTI -------------------------------------------------------------------------------

TIOCSTI = """
import fcntl, os, termios
master, slave = os.openpty()
tty = os.open(os.ttyname(slave), os.O_RDWR)  # a session leader: it becomes our terminal
try:
    fcntl.ioctl(tty, termios.TIOCSTI, b"x")
    print("INJECTED", os.read(master, 10))
except OSError as e:
    print("BLOCKED", e)
"""


def test_tiocsti_fails(box, arena) -> None:
    control = NoSandbox().run([system_python(), "-c", TIOCSTI], arena.ws, arena.env(), Limits())
    if "INJECTED" not in control.output:
        pytest.skip(f"TIOCSTI is off on this host anyway: {control.output.strip()}")
    result = py(box, arena, TIOCSTI)
    assert "BLOCKED" in result.output and "Operation not permitted" in result.output


# --- 12. nothing inside the session turns the sandbox off ---------------------------------


def test_tool_arguments_and_repo_config_cannot_turn_it_off(sandbox, arena, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(arena.base / "xdg-config"))
    monkeypatch.delenv("GLASSCODER_SANDBOX", raising=False)
    monkeypatch.delenv("GLASSCODER_CONFIG", raising=False)
    (arena.ws / ".glasscoder" / "config.toml").write_text('sandbox = "none"\n')
    settings = load_settings(arena.ws, {})
    assert settings.sandbox == "auto"
    chosen = choose(settings.sandbox)
    assert chosen.name == "bwrap"
    ctx = ToolContext(Workspace(arena.ws), chosen.sandbox)
    args = {"command": "grep Seccomp: /proc/self/status; echo x > /etc/glasscoder-escape",
            "sandbox": "none", "dangerouslyDisableSandbox": True}  # fmt: skip
    obs = RunShell().run(args, ctx)
    assert obs.text.startswith("Seccomp:\t2\n") and "Read-only file system" in obs.text
    assert not Path("/etc/glasscoder-escape").exists()


def test_commands_cannot_rewrite_the_users_config(sandbox, arena, monkeypatch) -> None:
    config = arena.ws / "xdg" / "glasscoder" / "config.toml"  # a workspace holding the config
    config.parent.mkdir(parents=True)
    config.write_text("max_turns = 5\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(arena.ws / "xdg"))
    made = choose("auto").sandbox
    result = made.run(["bash", "-c", f"echo 'sandbox = \"none\"' >> {config}"], arena.ws,
                      arena.env(), Limits())  # fmt: skip
    assert "Read-only file system" in result.output
    assert config.read_text() == "max_turns = 5\n"
