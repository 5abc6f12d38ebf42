from pathlib import Path

import pytest

from glasscoder.errors import UsageError
from glasscoder.review.diffscope import diff_scope, hunks
from tests.review.conftest import git, make_repo

BASE = {"a.py": "".join(f"line{i}\n" for i in range(1, 11)), "gone.py": "x\n", "same.py": "y\n"}


def test_changed_lines_of_changed_added_and_deleted_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", BASE)
    text = BASE["a.py"].replace("line3\n", "LINE3\n").replace("line8\n", "")
    (repo / "a.py").write_text(text + "line11\n")
    (repo / "gone.py").unlink()
    (repo / "new.py").write_text("n1\nn2\n")
    git(repo, "add", "new.py")
    scope = diff_scope(repo, "HEAD")
    assert scope.files == ["a.py", "new.py"]  # the deleted file has nothing left to review
    # line 3 changed; line 8 removed (7 and 8 now sit either side of it); 10 added at the end
    assert scope.changed["a.py"] == {3, 7, 8, 10}
    assert scope.changed["new.py"] == {1, 2}
    assert scope.touches("a.py", 3) and not scope.touches("a.py", 5)
    assert scope.touches("new.py", 0) and not scope.touches("same.py", 0)
    assert "+LINE3" in hunks(repo, "HEAD", "a.py")


def test_the_repository_cannot_make_git_run_a_program(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", BASE)
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    script.chmod(0o755)
    git(repo, "config", "diff.external", str(script))
    git(repo, "config", "filter.evil.clean", str(script))
    git(repo, "config", "core.fsmonitor", str(script))
    (repo / ".gitattributes").write_text("*.py filter=evil diff=evil\n")
    git(repo, "config", "diff.evil.textconv", str(script))
    (repo / "a.py").write_text("changed\n")
    assert diff_scope(repo, "HEAD").changed["a.py"] == {1}
    hunks(repo, "HEAD", "a.py")
    assert not marker.exists()


@pytest.mark.parametrize("rev", ["--output=/tmp/x", "", "nope"])
def test_a_bad_revision_is_a_usage_error(tmp_path: Path, rev: str) -> None:
    repo = make_repo(tmp_path / "repo", BASE)
    with pytest.raises(UsageError):
        diff_scope(repo, rev)


def test_outside_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a git repository"):
        diff_scope(tmp_path, "HEAD")
