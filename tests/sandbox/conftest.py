"""Fixtures for the sandbox tests: a bwrap backend (skipped where it cannot run) and an arena.

The arena lives under /var/tmp when it can, not /tmp: the sandbox puts an empty tmpfs over
/tmp, so a sibling folder there would be invisible rather than read-only, and the tests want
to see the read-only wall itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.bwrap import BwrapSandbox
from glasscoder.sandbox.choose import bwrap_status, make_bwrap


@dataclass
class Arena:
    base: Path
    ws: Path  # the workspace, a git repository
    sibling: Path  # a folder beside it, with a file
    home: Path  # the HOME the command is given, with fake credentials
    data: Path  # stands for glasscoder's data dir (sessions, audit key), outside any home

    def env(self, **extra: str) -> dict[str, str]:
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8",
                **extra}  # fmt: skip


@pytest.fixture
def sandbox() -> BwrapSandbox:
    status = bwrap_status()
    if not status.ok:
        pytest.skip(f"bwrap unavailable: {status.problem}")
    made = make_bwrap()
    assert isinstance(made, BwrapSandbox)
    return made


@pytest.fixture
def arena(tmp_path: Path) -> Iterator[Arena]:
    parent = "/var/tmp" if os.access("/var/tmp", os.W_OK) else str(tmp_path)
    base = Path(tempfile.mkdtemp(prefix="glasscoder-arena-", dir=parent)).resolve()
    try:
        yield _build(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _build(base: Path) -> Arena:
    ws, sibling, home, data = (base / n for n in ("ws", "sibling", "home", "data"))
    for folder in (ws, sibling, home / ".ssh", home / ".aws", data / "sessions"):
        folder.mkdir(parents=True)
    (sibling / "file.txt").write_text("sibling\n")
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE-KEY\n")
    (home / ".aws" / "credentials").write_text("aws_secret_access_key=AWS-SECRET\n")
    (home / ".bashrc").write_text("# bashrc\n")
    (data / "sessions" / "audit.key").write_text("AUDIT-KEY\n")
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (ws / ".envrc").write_text("export A=1\n")
    (ws / ".vscode").mkdir()
    (ws / ".vscode" / "tasks.json").write_text("{}\n")
    (ws / ".glasscoder").mkdir()
    (ws / ".glasscoder" / "config.toml").write_text("max_turns = 5\n")
    return Arena(base, ws, sibling, home, data)


def sh(sandbox: BwrapSandbox, arena: Arena, script: str, **limits: float) -> Result:
    """bash -c script under the sandbox, in the arena's workspace."""
    return sandbox.run(["bash", "-c", script], arena.ws, arena.env(), Limits(**limits))


def system_python() -> str:
    """A Python outside any home folder, so it runs inside the sandbox whatever PATH says."""
    found = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if found is None:
        pytest.skip("no system python3 for the probes")
    return found


NOBODY = 65534


def skip_unless_nobody_can_run_glasscoder() -> None:
    """Skip (saying why) unless root can become an ordinary user who can import glasscoder:
    a checkout inside a private (0700) folder, as `mktemp -d` makes, is unreadable to them."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to become an ordinary user")
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            sys.executable, "-c", "import glasscoder"]  # fmt: skip
    probe = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")
    if probe.returncode != 0:
        pytest.skip(
            "an ordinary user cannot run glasscoder from this checkout (a folder above it is "
            f"private to root): {probe.stderr.strip()[-200:]}"
        )
