"""Small real repositories with planted bugs, and the review command run for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_files

# ruff is a dev dependency installed beside this interpreter; the analyzers are looked up on
# PATH, which (when the venv is not activated) does not include that folder.
TOOLS_PATH = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def make_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    """A git repository holding `files`, committed once."""
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, files)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "init")
    return root


def review(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`glasscoder review ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "glasscoder", "review", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "PATH": TOOLS_PATH, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )  # fmt: skip


@pytest.fixture
def tools_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", TOOLS_PATH)
