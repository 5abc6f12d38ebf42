"""The same sandbox started by an ordinary user (uid 65534 through setpriv), as most people run
glasscoder: bwrap then builds its namespaces without any privilege of the caller's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sandbox.conftest import NOBODY, Arena, skip_unless_nobody_can_run_glasscoder


@pytest.fixture
def as_nobody(sandbox, arena: Arena):
    skip_unless_nobody_can_run_glasscoder()
    for path in (arena.base, *arena.base.rglob("*")):
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)

    def glasscoder(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**arena.env(), "XDG_CONFIG_HOME": str(arena.base / "config"),
               "XDG_DATA_HOME": str(arena.data)}  # fmt: skip
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                sys.executable, "-m", "glasscoder", *args]  # fmt: skip
        return subprocess.run(argv, cwd=arena.ws, env=env, capture_output=True, text=True,
                              timeout=60)  # fmt: skip

    probe = glasscoder("sandbox", "check")
    if "backend: bwrap" not in probe.stdout:
        pytest.skip(f"bwrap does not work for an ordinary user here: {probe.stdout.strip()}")
    return glasscoder


def test_an_ordinary_user_gets_the_same_walls(as_nobody, arena: Arena) -> None:
    script = ("id -u; echo ok > made.txt; echo x > ../sibling/file.txt; echo x > .envrc; "
              "cat ~/.ssh/id_ed25519; grep CapEff /proc/self/status; "
              "exec 3<>/dev/tcp/127.0.0.1/22 && echo CONNECTED")  # fmt: skip
    run = as_nobody("sandbox", "run", "--", "bash", "-c", script)
    assert run.stdout.startswith("1000\n"), run.stdout + run.stderr
    assert (arena.ws / "made.txt").read_text() == "ok\n"
    assert (arena.sibling / "file.txt").read_text() == "sibling\n"
    assert (arena.ws / ".envrc").read_text() == "export A=1\n"
    assert "PRIVATE-KEY" not in run.stdout and "CONNECTED" not in run.stdout
    assert "CapEff:\t0000000000000000" in run.stdout


def test_an_ordinary_user_sees_the_process_bound_reported(as_nobody) -> None:
    check = as_nobody("sandbox", "check")
    assert check.returncode == 0
    # Without a delegated cgroup the bound is missing, and `check` must say so with the fix.
    lines = [line for line in check.stdout.splitlines() if "process count" in line]
    assert len(lines) == 1
    assert "at most" in lines[0] or ("NOT bounded" in lines[0] and "fix:" in lines[0])


def test_the_workspace_files_stay_the_users(as_nobody, arena: Arena) -> None:
    as_nobody("sandbox", "run", "--", "touch", "owned")
    assert Path(arena.ws / "owned").stat().st_uid == NOBODY
