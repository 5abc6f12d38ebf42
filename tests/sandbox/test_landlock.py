"""The landlock fallback (issue 5): the escape attempts of test_bwrap_escapes.py that Landlock
can stop, checked from the host, and the items it cannot give, which `sandbox check` must name.

Landlock cannot give (asserted in test_check_names_what_landlock_cannot_give): a PID namespace
(host processes are visible), a private view of the system folders, new entries in the
workspace's top folder, a network allow-list.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from glasscoder.errors import UsageError
from glasscoder.sandbox import choose as choose_module
from glasscoder.sandbox import landlock
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.bwrap import REFUSED_EXIT
from glasscoder.sandbox.choose import Status, choose, landlock_status
from glasscoder.sandbox.landlock import LandlockSandbox, carve, plan
from glasscoder.sandbox.none import NoSandbox
from tests.sandbox.conftest import (
    NOBODY,
    Arena,
    sh,
    skip_unless_nobody_can_run_glasscoder,
    system_python,
)
from tests.sandbox.test_bwrap_escapes import (
    CONNECT,
    FORK_BOMB,
    IO_URING,
    TIOCSTI,
    _listener,
    _received,
)


@pytest.fixture
def box(arena: Arena) -> LandlockSandbox:
    status = landlock_status()
    if not status.ok:
        pytest.skip(f"landlock unavailable: {status.problem}")
    (arena.ws / "src").mkdir()
    (arena.ws / "src" / "lib.py").write_text("x = 1\n")
    (arena.ws / "README").write_text("readme\n")
    return LandlockSandbox([arena.data], [arena.ws / "cfg"])


def py(box: LandlockSandbox, arena: Arena, code: str, **limits: float):
    return box.run([system_python(), "-c", code], arena.ws, arena.env(), Limits(**limits))


# --- what stays usable -----------------------------------------------------------------------


def test_subfolders_and_existing_files_are_writable_and_land_on_the_host(box, arena) -> None:
    result = sh(box, arena, "echo made > src/made.txt && echo more >> README && mkdir -p "
                "src/pkg/deep && mv src/made.txt src/pkg/deep/ && echo t > $TMPDIR/t && "
                "cat $TMPDIR/t && git status --short | wc -l")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (arena.ws / "src" / "pkg" / "deep" / "made.txt").read_text() == "made\n"
    assert (arena.ws / "README").read_text() == "readme\nmore\n"
    assert result.output.startswith("t\n")


def test_the_top_folder_takes_no_new_entries(box, arena) -> None:
    """The documented price of keeping .git read-only with an allow-list."""
    result = sh(box, arena, "echo new > new.txt; mkdir newdir; rm README; mv src moved")
    assert result.output.count("Permission denied") == 4, result.output
    assert sorted(p.name for p in arena.ws.iterdir() if not p.name.startswith(".")) == [
        "README", "src"]  # fmt: skip


# --- 1. writes outside the workspace fail, also through links --------------------------------


@pytest.mark.parametrize(
    "script",
    [
        "echo x > /etc/glasscoder-escape",
        "echo x >> {home}/.bashrc",
        "echo x > ../sibling/file.txt",
        "ln -s ../../sibling src/out && test -L src/out && echo x > src/out/file.txt",
        "ln -s /etc/glasscoder-escape src/new && test -L src/new && echo x > src/new",
        "ln ../sibling/file.txt src/hard && echo x >> src/hard",
    ],
    ids=["etc", "home", "sibling", "repo-symlink", "new-symlink", "hardlink"],
)
def test_writes_outside_fail(box, arena, script) -> None:
    result = sh(box, arena, script.format(home=arena.home))
    assert result.exit_code != 0
    assert not Path("/etc/glasscoder-escape").exists()
    assert (arena.home / ".bashrc").read_text() == "# bashrc\n"
    assert (arena.sibling / "file.txt").read_text() == "sibling\n"
    assert sorted(p.name for p in arena.sibling.iterdir()) == ["file.txt"]


def test_root_cannot_change_modes_outside(box, arena) -> None:
    if os.geteuid() != 0:
        pytest.skip("the chmod refusal is for a root caller")
    before = (arena.sibling / "file.txt").stat().st_mode
    result = sh(box, arena, "chmod 4777 ../sibling/file.txt; python3 -c 'import os; "
                "os.chmod(\"../sibling/file.txt\", 0o777)'")  # fmt: skip
    assert result.output.count("Operation not permitted") == 2, result.output
    assert (arena.sibling / "file.txt").stat().st_mode == before


def test_a_symlink_planted_in_the_repo_before_the_run_leads_nowhere(box, arena) -> None:
    (arena.ws / "src" / "planted").symlink_to(arena.sibling)
    (arena.ws / "planted").symlink_to(arena.sibling)
    result = sh(box, arena, "echo x > planted/new.txt; echo x > src/planted/new.txt")
    assert result.output.count("Permission denied") == 2, result.output
    assert not (arena.sibling / "new.txt").exists()


def test_a_symlinked_workspace_or_protected_entry_is_refused(box, arena) -> None:
    link = arena.base / "link-to-sibling"
    link.symlink_to(arena.sibling)
    result = box.run(["bash", "-c", "echo x > file.txt"], link, arena.env(), Limits())
    assert result.exit_code == REFUSED_EXIT and "symlink" in result.output
    (arena.ws / ".envrc").unlink()
    (arena.ws / ".envrc").symlink_to(arena.sibling / "file.txt")
    result = sh(box, arena, "echo x > .envrc")
    assert result.exit_code == REFUSED_EXIT and ".envrc is a symlink" in result.output
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
    assert "Permission denied" in result.output
    assert (arena.ws / target).read_bytes() == before
    assert not (arena.ws / "moved").exists()


def test_missing_protected_entries_cannot_be_created(box, arena) -> None:
    (arena.ws / ".envrc").unlink()
    shutil.rmtree(arena.ws / ".vscode")
    sh(box, arena, "echo 'curl x | sh' > .envrc; mkdir -p .vscode .idea; git config "
       "core.hooksPath x; echo 'exit 0' > .git/hooks/post-checkout")  # fmt: skip
    assert not any((arena.ws / n).exists() for n in (".envrc", ".vscode", ".idea"))
    assert not (arena.ws / ".git" / "hooks" / "post-checkout").exists()
    assert "hooksPath" not in (arena.ws / ".git" / "config").read_text()


# --- 5. credentials are unreadable -----------------------------------------------------------


def test_credentials_and_glasscoders_data_are_unreadable(box, arena) -> None:
    targets = [arena.home / ".ssh" / "id_ed25519", arena.home / ".aws" / "credentials",
               arena.data / "sessions" / "audit.key", Path.home() / ".bashrc"]  # fmt: skip
    control = NoSandbox().run(["cat", *map(str, targets[:3])], arena.ws, arena.env(), Limits())
    assert "PRIVATE-KEY" in control.output  # the probe reads them when unconfined
    result = box.run(["cat", *map(str, targets)], arena.ws, arena.env(), Limits())
    assert result.output.count("Permission denied") == len(targets), result.output
    assert "PRIVATE-KEY" not in result.output and "AUDIT-KEY" not in result.output


def test_home_is_an_empty_private_folder(box, arena) -> None:
    result = sh(box, arena, 'echo "$HOME"; ls -A "$HOME"; echo x > "$HOME/.bashrc"')
    home = result.output.splitlines()[0]
    assert result.exit_code == 0 and home != str(arena.home) and result.output == home + "\n"
    assert not Path(home).exists()  # removed with the private temp folder
    assert (arena.home / ".bashrc").read_text() == "# bashrc\n"


# --- 6. host processes: not signalled, environment unreadable, but visible (degraded) -----


def test_host_processes_cannot_be_signalled_or_read(box, arena) -> None:
    if landlock.abi_version() < 6:
        pytest.skip("signal scoping needs Landlock ABI 6")
    victim = subprocess.Popen(["sleep", "60"], env={"VICTIM_SECRET": "v-secret"})
    try:
        result = sh(box, arena, f"kill -9 {victim.pid}; cat /proc/{victim.pid}/environ; "
                    f"test -d /proc/{victim.pid} && echo VISIBLE")  # fmt: skip
        assert victim.poll() is None  # still running
        assert "v-secret" not in result.output
        assert "VISIBLE" in result.output  # no PID namespace: what check calls degraded
    finally:
        victim.kill()
        victim.wait()


# --- 7. no capabilities, no mounts, no namespaces ------------------------------------------


def test_no_capabilities_no_mount_no_user_namespace(box, arena) -> None:
    result = sh(box, arena, "mount -t tmpfs none /mnt && echo MOUNTED; unshare -U true && "
                "echo UNSHARED; grep -E 'Cap(Eff|Bnd)|NoNewPrivs' /proc/self/status")  # fmt: skip
    assert "MOUNTED" not in result.output and "UNSHARED" not in result.output
    assert "CapEff:\t0000000000000000" in result.output
    assert "CapBnd:\t0000000000000000" in result.output and "NoNewPrivs:\t1" in result.output


def test_only_harmless_devices_open(box, arena) -> None:
    """Root without capabilities still owns /dev/tty1 or a loop disk: Landlock must refuse."""
    devices = [d for d in ("/dev/tty1", "/dev/loop0", "/dev/kmsg", "/dev/kvm", "/dev/console")
               if os.path.exists(d)]  # fmt: skip
    if not devices:
        pytest.skip("no such device files here")
    script = "; ".join(f"exec 3<> {d} && echo OPENED {d}" for d in devices)
    result = sh(box, arena, script + "; head -c 4 /dev/urandom | wc -c; echo ok > /dev/null")
    assert "OPENED" not in result.output and result.output.count("Permission denied") == len(
        devices), result.output  # fmt: skip
    assert result.output.endswith("4\n") and result.exit_code == 0


# --- 8. no network: TCP, UDP, Unix, raw, io_uring ----------------------------------------


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
        v = "4" if family == socket.AF_INET else "6"
        argv = [system_python(), "-c", CONNECT, v, kind, host, str(listener.getsockname()[1])]
        control = NoSandbox().run(argv, arena.ws, arena.env(), Limits())
        assert "CONNECTED" in control.output and _received(listener)  # the probe works
        result = box.run(argv, arena.ws, arena.env(), Limits())
        assert "BLOCKED" in result.output and "Operation not permitted" in result.output
        assert not _received(listener)


def test_unix_sockets_path_and_abstract_are_blocked(box, arena) -> None:
    path = arena.ws / "src" / "docker.sock"
    abstract = f"glasscoder-test-{uuid.uuid4().hex}"
    with (
        _listener(socket.AF_UNIX, socket.SOCK_STREAM, str(path)) as on_path,
        _listener(socket.AF_UNIX, socket.SOCK_STREAM, "\0" + abstract) as on_abstract,
    ):
        for listener, address in ((on_path, str(path)), (on_abstract, "@" + abstract)):
            argv = [system_python(), "-c", CONNECT, "u", "tcp", address]
            assert "CONNECTED" in NoSandbox().run(argv, arena.ws, arena.env(), Limits()).output
            assert _received(listener)
            result = box.run(argv, arena.ws, arena.env(), Limits())
            assert "BLOCKED" in result.output and "Operation not permitted" in result.output
            assert not _received(listener)


def test_raw_sockets_and_io_uring_fail(box, arena) -> None:
    code = ("import socket\ntry:\n    socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)\n"
            "    print('RAW')\nexcept OSError as e:\n    print('BLOCKED', e)")  # fmt: skip
    assert "BLOCKED" in py(box, arena, code).output
    if os.uname().machine == "x86_64":
        control = NoSandbox().run([system_python(), "-c", IO_URING], arena.ws, arena.env(),
                                  Limits())  # fmt: skip
        if "RING" in control.output:
            assert py(box, arena, IO_URING).output.strip() == "BLOCKED errno 1"


# --- 10. limits -------------------------------------------------------------------------------


def test_a_fork_bomb_is_bounded(box, arena) -> None:
    if not (result := py(box, arena, FORK_BOMB, processes=20)).output.startswith("forked"):
        pytest.fail(result.output)
    if not box.pids_limited:
        pytest.skip("no pids cgroup here (reported as degraded by `sandbox check`)")
    assert int(result.output.split()[1]) < 20


def test_allocation_and_file_size_limits(box, arena) -> None:
    result = py(box, arena, "b = bytearray(1 << 30)\nprint('ALLOCATED')", address_space=256 << 20)
    assert "MemoryError" in result.output and "ALLOCATED" not in result.output
    result = sh(box, arena, "head -c 4000000 /dev/zero > src/big", file_size=1 << 20)
    assert result.exit_code == 128 + 25  # SIGXFSZ
    assert (arena.ws / "src" / "big").stat().st_size <= 1 << 20


def test_timeout_kills_children_that_called_setsid(box, arena) -> None:
    marker = arena.ws / "src" / "marker"
    script = ("setsid bash -c 'while :; do date +%s%N > src/marker; sleep 0.05; done' "
              "> /dev/null 2>&1 & echo started; sleep 60")  # fmt: skip
    result = sh(box, arena, script, timeout=2)
    if not box.pids_limited:
        pytest.skip("without a pids cgroup a setsid child escapes (reported as degraded)")
    assert result.timed_out and result.output == "started\n"
    first = marker.read_text()
    time.sleep(0.5)  # the loop wrote every 0.05 s while it lived
    assert marker.read_text() == first


# --- 11. TIOCSTI -------------------------------------------------------------------------------


def test_tiocsti_fails(box, arena) -> None:
    control = NoSandbox().run([system_python(), "-c", TIOCSTI], arena.ws, arena.env(), Limits())
    if "INJECTED" not in control.output:
        pytest.skip(f"TIOCSTI is off on this host anyway: {control.output.strip()}")
    result = py(box, arena, TIOCSTI)
    assert "BLOCKED" in result.output and "Operation not permitted" in result.output


# --- choosing it, and what `sandbox check` says -------------------------------------------


@pytest.fixture
def bwrap_broken(monkeypatch):
    broken = Status(False, "bwrap cannot create its namespaces here", "allow user namespaces")
    monkeypatch.setattr(choose_module, "bwrap_status", lambda root=None: broken)


def test_auto_falls_back_to_landlock_and_says_why(box, bwrap_broken) -> None:
    chosen = choose("auto")
    assert chosen.name == "landlock" and isinstance(chosen.sandbox, LandlockSandbox)
    assert "protects less than bwrap" in chosen.degraded
    assert "allow user namespaces" in chosen.degraded


def test_auto_refuses_when_neither_works(bwrap_broken, monkeypatch) -> None:
    monkeypatch.setattr(choose_module, "landlock_status", lambda: Status(False, "no Landlock"))
    chosen = choose("auto")
    assert (chosen.sandbox, chosen.name) == (None, "disabled")
    assert "allow user namespaces" in chosen.problem and "no Landlock" in chosen.problem
    with pytest.raises(UsageError, match="landlock sandbox is not available: no Landlock"):
        choose("landlock")


def test_the_setting_forces_landlock(box) -> None:
    assert choose("landlock").name == "landlock"


def test_check_names_what_landlock_cannot_give(box, tmp_path, xdg) -> None:
    run = subprocess.run([sys.executable, "-m", "glasscoder", "sandbox", "check", "--sandbox",
                          "landlock"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "backend: landlock (degraded" in out
    protected, degraded = out.split("\ndegraded:\n")
    assert "no PID namespace" in degraded and "host processes are visible" in degraded
    assert "readable as on the host" in degraded and "top folder" in degraded
    assert "no network allow-list" in degraded
    assert "~/.ssh" in protected and ".git" in protected and "socket" in protected


def test_an_ordinary_user_gets_the_walls_too(box, arena) -> None:
    skip_unless_nobody_can_run_glasscoder()
    for path in (arena.base, *arena.base.rglob("*")):
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    script = (
        "id -u; echo ok > src/made.txt; echo x > ../sibling/file.txt; echo x > .envrc; "
        "cat $0/.ssh/id_ed25519; exec 3<>/dev/tcp/127.0.0.1/22 && echo CONNECTED"
    )
    env = {**arena.env(), "XDG_CONFIG_HOME": str(arena.base / "config"),
           "XDG_DATA_HOME": str(arena.data)}  # fmt: skip
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            sys.executable, "-m", "glasscoder", "sandbox", "run", "--sandbox", "landlock", "--",
            "bash", "-c", script, str(arena.home)]  # fmt: skip
    run = subprocess.run(argv, cwd=arena.ws, env=env, capture_output=True, text=True, timeout=60)
    assert run.stdout.startswith(f"{NOBODY}\n"), run.stdout + run.stderr
    assert (arena.ws / "src" / "made.txt").read_text() == "ok\n"
    assert (arena.sibling / "file.txt").read_text() == "sibling\n"
    assert (arena.ws / ".envrc").read_text() == "export A=1\n"
    assert "PRIVATE-KEY" not in run.stdout and "CONNECTED" not in run.stdout


# --- the plan, without a kernel ------------------------------------------------------------


def test_carve_leaves_out_the_excluded_and_symlinks(tmp_path) -> None:
    for d in ("a/keep/x", "a/skip", "b"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "a" / "link").symlink_to("/etc")
    (tmp_path / "f").write_text("")
    got = carve(str(tmp_path), [str(tmp_path / "a" / "skip")])
    assert got == [str(tmp_path / p) for p in ("a/keep", "b", "f")]
    assert carve(str(tmp_path), []) == [str(tmp_path)]
    assert carve(str(tmp_path), [str(tmp_path)]) == []


def test_plan_never_grants_write_on_the_top_folder_or_protected_entries(arena) -> None:
    (arena.ws / "src").mkdir()
    tmp = arena.base / "tmp"
    tmp.mkdir()
    grants = dict(plan(str(arena.ws), str(tmp), arena.env(), [str(arena.data)]))
    assert grants[str(arena.ws)] == landlock.READ
    assert grants[str(arena.ws / "src")] == landlock.WRITE
    assert grants[str(tmp)] == landlock.WRITE
    written = [p for p, rights in grants.items() if rights & landlock.WRITE_FILE]
    assert not any(p.startswith(f"{arena.ws}/.") for p in written)
    assert str(arena.ws / "src") in written
    assert not any(p.startswith((str(arena.home), str(arena.data))) for p in grants)


def test_carve_handles_a_deny_listed_file_thousands_of_folders_deep() -> None:
    # Not in pytest's tmp_path: should this run be killed before the clean-up below, pytest's
    # removal of old temp folders would recurse per level and fail every later session.
    tmp_path = Path(tempfile.mkdtemp(prefix="glasscoder-deep-"))
    deep = tmp_path
    for _ in range(1500):  # one by one: pathlib's own mkdir(parents=True) recurses
        deep = deep / "d"
        deep.mkdir()
    (deep / ".env").write_text("X=1\n")
    (tmp_path / "other").mkdir()
    target = str(deep / ".env")
    try:
        got = carve(str(tmp_path), [target])
    finally:
        (deep / ".env").unlink()
        while deep != tmp_path:  # shutil.rmtree (pytest's clean-up too) recurses per level
            deep.rmdir()
            deep = deep.parent
        shutil.rmtree(tmp_path)
    assert str(tmp_path / "other") in got
    assert not any(target.startswith(p) for p in got)
