"""Ways around the sandbox found in a review of "no way back to the host", each attacked from
inside (or from what a command could have written) and checked from the host, as root and as
an ordinary user (the `user` fixture of test_way_back)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.choose import landlock_status
from glasscoder.sandbox.landlock import LandlockSandbox
from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import xml_call
from tests.sandbox import test_way_back
from tests.sandbox.test_way_back import SYSTEM_PATH, User, fresh_workspace

user = test_way_back.user  # the fixture: each test as root and as uid 65534

PLANTED_BWRAP = '#!/bin/sh\necho ran > {marker}\nexec {bwrap} "$@"\n'


def test_a_bwrap_planted_in_the_workspace_is_not_run_when_it_is_not_the_working_folder(
    user: User,
) -> None:
    """An earlier command wrote .venv/bin/bwrap in the workspace, whose venv is activated;
    glasscoder is started from elsewhere with --cwd. The sandbox's start-up probe ran the
    planted bwrap on the host, since only the working folder was kept out of its search."""
    ws = fresh_workspace(user)
    venv_bin = ws / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    marker = user.arena.base / "host-ran-planted-bwrap"
    real = shutil.which("bwrap", path=SYSTEM_PATH)
    assert real is not None
    (venv_bin / "bwrap").write_text(PLANTED_BWRAP.format(marker=marker, bwrap=real))
    (venv_bin / "bwrap").chmod(0o755)
    user.give(ws, user.arena.base)
    path = f"{venv_bin}:{SYSTEM_PATH}"
    ran = user.glasscoder("sandbox", "run", "--cwd", str(ws), "--", "echo", "inside",
                          cwd=Path("/"), PATH=path)  # fmt: skip
    assert "inside" in ran.stdout, ran.stdout + ran.stderr
    with FakeOpenAIServer([xml_call("run_shell", command="echo inside"), "Done."]) as srv:
        run = user.glasscoder("--cwd", str(ws), "-p", "Go.", "--endpoint", srv.base_url,
                              "--approval", "auto", cwd=Path("/"), PATH=path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "inside" in srv.requests[1].json["messages"][-1]["content"]
    assert not marker.exists()


def test_dev_inside_is_read_only_and_its_shm_capped(user: User) -> None:
    """bwrap's own /dev is a tmpfs without a size: a command filled it (and /dev/shm, a folder
    in it) past the cap every other tmpfs has."""
    ws = fresh_workspace(user)
    script = ("dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 2>&1; "
              "touch /dev/planted 2>&1; echo data > /dev/null && echo null-ok")  # fmt: skip
    got = user.sandboxed(script, ws, limits={"tmpfs_size": 4 << 20})
    assert "No space left on device" in got["output"], got["output"]
    assert "Read-only file system" in got["output"], got["output"]
    assert "null-ok" in got["output"]


def test_multiprocessing_still_has_a_writable_shm(user: User) -> None:
    """POSIX semaphores (multiprocessing's locks, pytest-xdist) live in /dev/shm."""
    ws = fresh_workspace(user)
    code = "import multiprocessing as m; m.Lock(); print('lock-ok')"
    got = user.sandboxed(f'/usr/bin/python3 -c "{code}"', ws)
    assert "lock-ok" in got["output"], got["output"]


@pytest.mark.parametrize("entry", ["path", "virtual_env", "conda_prefix"])
def test_a_workspace_venv_made_a_link_into_the_home_shows_nothing_there(
    user: User, entry: str
) -> None:
    """The activated .venv of the workspace (on PATH, or named by VIRTUAL_ENV) is replaced by
    a command with a link to a folder in the hidden home; the toolchain resolver took the
    link's target for the person's own installation and showed it to the next command."""
    ws = fresh_workspace(user)
    secret = user.arena.home / ".config" / "some-app"
    secret.mkdir(parents=True)
    (secret / "token").write_text("APP-TOKEN-SECRET\n")
    (ws / ".venv" / "bin").mkdir(parents=True)
    user.give(ws, user.arena.home)
    if entry == "path":
        env, made = {"PATH": f"{ws / '.venv' / 'bin'}:{SYSTEM_PATH}"}, ".venv/bin"
    elif entry == "virtual_env":
        env, made = {"VIRTUAL_ENV": str(ws / ".venv")}, ".venv"
    else:  # a conda environment made in the project: conda create -p ./env
        env, made = {"CONDA_PREFIX": str(ws / "env")}, "env"
    user.sandboxed(f"rm -rf {made} && ln -s {secret} {made}", ws, **env)
    assert (ws / made).is_symlink()
    got = user.sandboxed(f"cat {secret}/token {made}/token", ws, **env)
    assert "APP-TOKEN-SECRET" not in got["output"], got["output"]


def test_a_link_left_in_the_build_caches_breaks_no_later_command(sandbox, arena) -> None:
    """A command replaced its pip cache folder with a dangling link; making the cache folders
    for the next command raised on the host, so every later command of the session failed."""
    env = arena.env()
    first = sandbox.run(["bash", "-c", 'rm -rf "$PIP_CACHE_DIR" && ln -s /nowhere/x '
                         '"$PIP_CACHE_DIR" && echo linked'], arena.ws, env, Limits())  # fmt: skip
    assert "linked" in first.output, first.output
    second = sandbox.run(["bash", "-c", "echo second"], arena.ws, env, Limits())
    assert second.exit_code == 0 and "second" in second.output
    assert not os.path.lexists("/nowhere")


def test_a_git_planted_in_the_build_cache_and_linked_from_the_workspace_is_never_run(
    user: User,
) -> None:
    """The session's build cache is written by commands and lies outside the workspace: a
    command planted `git` there and made the activated .venv/bin a link to it. PATH minus
    the folders whose real path is in the workspace kept that entry, and the run's own git
    status at its end ran the planted git on the host."""
    ws = user.arena.ws
    (ws / ".venv" / "bin").mkdir(parents=True)
    marker = user.arena.base / "host-ran-git-from-the-cache"
    script = PLANTED_BWRAP.format(marker=marker, bwrap="/usr/bin/git").replace("\n", "\\n")
    cache = '"$XDG_CACHE_HOME"'
    command = (f"printf '{script}' > {cache}/git && chmod +x {cache}/git && rm -r .venv/bin "
               f"&& ln -s {cache} .venv/bin && echo planted")  # fmt: skip
    user.give(ws, user.arena.base)
    with FakeOpenAIServer([xml_call("run_shell", command=command), "Done."]) as srv:
        run = user.glasscoder("-p", "Go.", "--endpoint", srv.base_url, "--approval", "auto",
                              cwd=ws, PATH=f"{ws / '.venv' / 'bin'}:{SYSTEM_PATH}",
                              VIRTUAL_ENV=str(ws / ".venv"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "planted" in srv.requests[1].json["messages"][-1]["content"]
    assert (ws / ".venv" / "bin").is_symlink()  # the command did make the link...
    assert not marker.exists()  # ...and the host never ran what it leads to


def test_filling_the_build_cache_on_another_filesystem_stops_the_command(user: User) -> None:
    """The build cache lives in the host's temp folder, often another filesystem than the
    workspace's (a RAM-backed /tmp); only the workspace's was watched, so a command filled the
    cache without bound. Here the cache is put on the host's /dev/shm."""
    if not os.access("/dev/shm", os.W_OK):
        pytest.skip("needs a writable /dev/shm on the host, another filesystem")
    mib = 1 << 20
    script = ('for i in 1 2 3 4 5; do head -c 20000000 /dev/zero > "$XDG_CACHE_HOME/big$i"; '
              "done; sleep 30; echo AFTER")  # fmt: skip
    got = user.sandboxed(script, user.arena.ws, limits={"disk_growth": 64 * mib, "timeout": 60},
                         setup="import tempfile; tempfile.tempdir = '/dev/shm'")  # fmt: skip
    assert "AFTER" not in got["output"], got["output"]
    assert "filled more than 0.0625 GiB of disk" in got["output"]


@pytest.mark.parametrize("present", [True, False])
def test_the_git_dir_a_dot_git_file_names_is_protected(user: User, present: bool) -> None:
    """The bare-repository layout: `.git` is a file saying `gitdir: ./.bare`. git reads its
    config and hooks in .bare, which was writable: a command set core.fsmonitor there, which
    the person's next `git status` ran. Missing, it could be made as a repository."""
    ws = fresh_workspace(user)
    if present:
        subprocess.run(["git", "init", "-q", "--bare", str(ws / ".bare")], check=True)
        subprocess.run(["git", "-C", str(ws / ".bare"), "config", "core.bare", "false"],
                       check=True)  # fmt: skip
    (ws / ".git").write_text("gitdir: ./.bare\n")
    user.give(ws)
    attack = ("git init -q --bare .bare; git config core.fsmonitor 'touch pwned'; "
              "mkdir -p .bare/hooks; echo 'touch pwned' > .bare/hooks/pre-commit; "
              "mv .bare moved; echo ok > made.txt")  # fmt: skip
    got = user.sandboxed(attack, ws)
    assert (ws / "made.txt").read_text() == "ok\n", got["output"]
    assert not (ws / "moved").exists()
    if present:
        config = subprocess.run(["git", "config", "--get", "core.fsmonitor"], cwd=ws,
                                capture_output=True, text=True)  # fmt: skip
        assert config.stdout == "" and not (ws / ".bare" / "hooks" / "pre-commit").exists()
    else:
        assert not (ws / ".bare").exists()


def test_landlock_protects_the_git_dir_a_dot_git_file_names(arena) -> None:
    if not landlock_status().ok:
        pytest.skip(f"landlock unavailable: {landlock_status().problem}")
    ws = arena.base / "bare-layout"
    subprocess.run(["git", "init", "-q", "--bare", str(ws / ".bare")], check=True)
    (ws / ".git").write_text("gitdir: ./.bare\n")
    (ws / "src").mkdir()  # landlock lets commands write in the existing top-level entries
    box = LandlockSandbox([arena.data], [])
    attack = ("git config core.fsmonitor 'touch pwned'; echo x > .bare/hooks/pre-commit; "
              "mv .bare moved; echo ok > src/made.txt")  # fmt: skip
    got = box.run(["bash", "-c", attack], ws, arena.env(), Limits())
    assert (ws / "src" / "made.txt").read_text() == "ok\n", got.output
    assert "fsmonitor" not in (ws / ".bare" / "config").read_text()
    assert not (ws / ".bare" / "hooks" / "pre-commit").exists() and not (ws / "moved").exists()


LINKED_INSTALL = """
import sys
sys.path.append({site!r})
"""


def test_own_files_reached_through_a_link_in_the_workspace_refuse_commands(user: User) -> None:
    """glasscoder's own files inside the workspace are read-only where they really are, but a
    sys.path entry reached through a link in the workspace (`.venv` a link to `envs/py`) kept
    the link itself writable: a command pointed it at a folder of its own, whose modules the
    host would import next."""
    ws = fresh_workspace(user)
    real = ws / "envs" / "py" / "site"
    real.mkdir(parents=True)
    (ws / "evil" / "site").mkdir(parents=True)
    (ws / ".venv").symlink_to("envs/py")
    user.give(ws)
    got = user.sandboxed("ln -sfn evil .venv && echo relinked", ws,
                         setup=LINKED_INSTALL.format(site=str(ws / ".venv" / "site")))  # fmt: skip
    assert os.readlink(ws / ".venv") == "envs/py", got["output"]
    assert "reached through a symlink in the workspace" in got["output"]


@pytest.fixture
def root_only_secret() -> Iterator[Path]:
    """A file in /etc that only root may read, as /etc/shadow or an SSH host key is."""
    if os.geteuid() != 0:
        pytest.skip("planting a file in /etc needs root")
    path = Path(f"/etc/glasscoder-test-secret-{os.getpid()}")
    path.write_text("ROOT-ONLY-SECRET\n")
    path.chmod(0o600)
    try:
        yield path
    finally:
        path.unlink()


def test_root_only_system_files_stay_unreadable_when_glasscoder_runs_as_root(
    user: User, root_only_secret: Path
) -> None:
    """bwrap's user namespace maps the command to the caller's uid: for root, uid 0 outside,
    which owns /etc/shadow and could read it although every capability is dropped."""
    ws = fresh_workspace(user)
    got = user.sandboxed(f"cat {root_only_secret} /etc/shadow 2>&1; cat /etc/hostname", ws)
    assert "ROOT-ONLY-SECRET" not in got["output"], got["output"]
    assert "root:" not in got["output"], got["output"]  # /etc/shadow's first line
    assert Path("/etc/hostname").read_text() in got["output"]  # world-readable: still there
