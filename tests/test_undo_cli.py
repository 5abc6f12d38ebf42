"""`glasscoder undo` and `checkpoints` after real runs against the fake server: the files come
back byte for byte, the user's git state is untouched, and an undo can be taken back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from glasscoder.agent.changes import is_generated
from tests.conftest import git
from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall
from tests.test_cli_e2e import glasscoder

EDIT = FakeToolCall("edit_file", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})
SHELL = FakeToolCall("run_shell", {"command": "rm test_calc.py && echo new > notes.txt && "
                                               "chmod +x calc.py"})  # fmt: skip


def listing(root: Path) -> dict[str, tuple[bytes, int]]:
    """The files an undo answers for: not .git, not the caches linters and tests leave."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts]
    return {rel: (p.read_bytes(), p.stat().st_mode) for p in files
            if not is_generated(rel := str(p.relative_to(root)))}  # fmt: skip


def git_state(root: Path) -> tuple[str, ...]:
    """What the user's git holds: status, HEAD, refs, the staged entries, the stash. (Not the
    index file's bytes: `git status` itself refreshes the stat data it caches there.)"""
    return (git(root, "status", "--porcelain"), git(root, "rev-parse", "HEAD"),
            git(root, "for-each-ref"), git(root, "ls-files", "--stage"),
            git(root, "stash", "list"))  # fmt: skip


def two_turns(repo: Path) -> dict[str, object]:
    replies = [FakeReply(tool_calls=[EDIT]), FakeReply(tool_calls=[SHELL]), "Done."]
    with FakeOpenAIServer(replies) as srv:
        proc = glasscoder("-p", "Change things.", "--endpoint", srv.base_url, "--output-format",
                          "json", "--sandbox", "none", cwd=repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("with_git", [True, False], ids=["git", "plain"])
def test_undo_takes_back_turns_exactly_and_can_itself_be_undone(
    buggy_repo: Path, xdg: Path, with_git: bool
) -> None:
    if not with_git:
        subprocess.run(["rm", "-rf", str(buggy_repo / ".git")], check=True)
    original = listing(buggy_repo)
    before_git = git_state(buggy_repo) if with_git else None
    two_turns(buggy_repo)
    changed = listing(buggy_repo)
    assert "notes.txt" in changed and "test_calc.py" not in changed

    listed = glasscoder("checkpoints", cwd=buggy_repo)
    assert listed.returncode == 0 and listed.stdout.count("turn") == 2, listed.stderr

    one = glasscoder("undo", cwd=buggy_repo)  # the shell turn
    assert one.returncode == 0, one.stderr
    assert "-new" in one.stdout and "+from calc import add" in one.stdout  # the diff applied
    assert listing(buggy_repo)["calc.py"][0] == changed["calc.py"][0]  # the edit stays
    assert "notes.txt" not in listing(buggy_repo)
    two = glasscoder("undo", cwd=buggy_repo)  # and the edit
    assert two.returncode == 0, two.stderr
    assert listing(buggy_repo) == original
    if with_git:
        assert git_state(buggy_repo) == before_git
        assert not any("checkpoint" in p.name for p in (buggy_repo / ".git").rglob("*"))

    redo = glasscoder("undo", "--redo", cwd=buggy_repo)
    assert redo.returncode == 0, redo.stderr
    assert listing(buggy_repo)["calc.py"][0] == changed["calc.py"][0]


def test_undo_all_and_errors_are_one_line(buggy_repo: Path, xdg: Path, tmp_path: Path) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("checkpoint_max_file_bytes = 1000\n")
    (buggy_repo / "data.bin").write_bytes(b"x" * 5000)
    original = listing(buggy_repo)
    result = two_turns(buggy_repo)
    listed = glasscoder("checkpoints", cwd=buggy_repo)
    assert "not kept: data.bin (too large" in listed.stdout, listed.stdout + listed.stderr
    proc = glasscoder("undo", "--all", "--session", str(result["session_id"]), cwd=buggy_repo)
    assert proc.returncode == 0 and listing(buggy_repo) == original, proc.stderr
    again = glasscoder("undo", cwd=buggy_repo)
    assert again.returncode == 2 and "nothing to undo" in again.stderr
    nowhere = glasscoder("undo", cwd=tmp_path)
    assert nowhere.returncode == 2 and "No checkpoints" in nowhere.stderr
    assert "Traceback" not in again.stderr + nowhere.stderr
