"""Shared fixtures: real git repositories in temporary folders."""

import subprocess
from pathlib import Path

import pytest

CALC = "def add(a, b):\n    return a - b\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def buggy_repo(tmp_path: Path) -> Path:
    """A git repository with a failing test: calc.add subtracts."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST_CALC)
    (root / ".gitignore").write_text("secrets.txt\n__pycache__/\n")
    (root / "secrets.txt").write_text("TOPSECRET-CONTENT\n")
    git(root, "init", "-q")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "init")
    return root


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """No test writes the real user's audit key, index or sessions; `xdg` refines this."""
    home = tmp_path_factory.getbasetemp() / "xdg-default"
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolated XDG folders so tests never touch the real user's config or sessions."""
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for var in ("GLASSCODER_ENDPOINT", "GLASSCODER_MODEL", "GLASSCODER_SANDBOX",
                "GLASSCODER_APPROVAL", "GLASSCODER_MAX_TURNS", "GLASSCODER_CONFIG"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    return home
