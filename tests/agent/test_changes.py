"""ChangeTracker runs `git status` in repositories it does not trust: it must run nothing else."""

import os
import stat
from pathlib import Path

import pytest

from glasscoder.agent.changes import ChangeTracker, _no_filters
from tests.conftest import git


def plant(repo: Path, marker: Path) -> None:
    """What a repository from an archive or a shared folder can carry in its .git folder."""
    touch = f"touch {marker}-"
    git(repo, "config", "core.fsmonitor", f"{touch}fsmonitor; true")
    git(repo, "config", "filter.evil.clean", f"sh -c '{touch}clean; cat'")
    (repo / "extra.cfg").write_text(f'[filter "inc"]\n\tprocess = "{touch}process"\n')
    git(repo, "config", "include.path", "../extra.cfg")  # a driver defined in an included file
    hook = repo / ".git" / "hooks" / "post-index-change"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\n{touch}hook\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    (repo / ".gitattributes").write_text("*.py filter=evil\n*.txt filter=inc\n")


def test_git_status_runs_nothing_the_repository_configured(buggy_repo: Path) -> None:
    marker = buggy_repo.parent / "ran"
    plant(buggy_repo, marker)
    (buggy_repo / "notes.txt").write_text("x\n")
    for name in ("calc.py", "test_calc.py"):  # stat-dirty: git must re-read (and filter) them
        os.utime(buggy_repo / name, (1_000_000_000, 1_000_000_000))
    tracker = ChangeTracker(buggy_repo)
    (buggy_repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    changed = tracker.changed()
    assert sorted(p.name for p in buggy_repo.parent.glob("ran-*")) == []
    assert "calc.py" in changed  # and it still tracks changes


def test_the_persons_own_filter_drivers_are_left_alone(
    buggy_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_config = tmp_path / "gitconfig"
    user_config.write_text('[filter "lfs"]\n\tclean = git-lfs clean -- %f\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(user_config))
    git(buggy_repo, "config", "filter.evil.smudge", "evil")
    options = _no_filters(buggy_repo)
    assert "filter.evil.clean=" in options and "filter.evil.required=false" in options
    assert not any("lfs" in option for option in options)


@pytest.mark.parametrize(("path", "generated"), [
    ("__pycache__/calc.cpython-311.pyc", True), ("pkg/__pycache__/x.pyc", True),
    (".pytest_cache/v/cache/nodeids", True), ("src/Main.class", True), (".coverage", True),
    ("calc.py", False), ("cache.py", False), ("docs/.cachefile", False),
])  # fmt: skip
def test_caches_and_compiled_files_are_not_changes(path: str, generated: bool) -> None:
    from glasscoder.agent.changes import is_generated

    assert is_generated(path) is generated
