"""Checkpoints and undo on real folders: byte-for-byte restores, the user's git untouched,
ignored and secret files neither stored nor touched, the size cap, symlink attacks, and the
incremental walk."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasscoder.agent import snapread, snapwalk
from glasscoder.agent.checkpoints import CheckpointError, Checkpoints
from tests.conftest import git

NAMES = ["a", "b.txt", "d/c", "d/e/f", "g", "d/e"]
LINK_TARGETS = ["a", "d", "nowhere", "../outside", "/nonexistent-outside/x"]
MODES = [0o600, 0o640, 0o644, 0o700, 0o755]


def listing(root: Path) -> dict[str, tuple[object, ...]]:
    """Every file and symlink beneath root (not .git): content and mode, or link target."""
    found: dict[str, tuple[object, ...]] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files + dirs:
            path = Path(directory, name)
            rel = path.relative_to(root).as_posix()
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(info.st_mode):
                found[rel] = ("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
    return found


def _no_symlink_on_the_way(root: Path, rel: str) -> bool:
    parts = rel.split("/")
    return not any((root / "/".join(parts[:i])).is_symlink() for i in range(1, len(parts)))


def apply(root: Path, op: tuple) -> None:
    """One edit as a model or a command might make it; impossible ones are skipped. Never
    writes through a symlink, so the test itself cannot leave the folder."""
    kind, path, arg = op
    target = root / path
    if not _no_symlink_on_the_way(root, path):
        return
    try:
        if kind == "write":
            if target.is_symlink():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(arg)
        elif kind == "delete":
            target.unlink()
        elif kind == "rename":
            if _no_symlink_on_the_way(root, arg):
                (root / arg).parent.mkdir(parents=True, exist_ok=True)
                os.rename(target, root / arg)
        elif kind == "chmod" and not target.is_symlink():
            target.chmod(arg)
        elif kind == "symlink":
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(arg, target)
    except OSError:
        pass  # e.g. a file where a folder should be: the op does not apply


ops = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.binary(max_size=40)),
    st.tuples(st.just("delete"), st.sampled_from(NAMES), st.none()),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("chmod"), st.sampled_from(NAMES), st.sampled_from(MODES)),
    st.tuples(st.just("symlink"), st.sampled_from(NAMES), st.sampled_from(LINK_TARGETS)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(ops, max_size=12), after=st.lists(ops, min_size=1, max_size=12))
def test_restore_brings_back_every_file_mode_and_symlink_and_can_be_undone(
    before: list[tuple], after: list[tuple]
) -> None:
    with tempfile.TemporaryDirectory() as temp:
        root, store = Path(temp, "work"), Path(temp, "store")
        root.mkdir()
        for op in before:
            apply(root, op)
        checkpoints = Checkpoints(root, store)
        try:
            first = checkpoints.snapshot("turn 1")
            saved = listing(root)
            for op in after:
                apply(root, op)
            changed = listing(root)
            restore = checkpoints.restore(first.id)
            assert restore.kept == {}
            assert listing(root) == saved
            assert checkpoints.restore(restore.before.id).kept == {}
            assert listing(root) == changed
        finally:
            checkpoints.close()


def test_a_git_repository_is_left_exactly_as_it_was(buggy_repo: Path, tmp_path: Path) -> None:
    email = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    (buggy_repo / "calc.py").write_text("# work in progress\n")
    git(buggy_repo, *email, "stash")  # the user has a stash, which must survive
    git(buggy_repo, "branch", "feature")

    def git_state() -> tuple[object, ...]:
        status = git(buggy_repo, "--no-optional-locks", "status", "--porcelain")
        refs = git(buggy_repo, "for-each-ref")
        inside = {
            p.relative_to(buggy_repo).as_posix(): p.read_bytes()
            for p in (buggy_repo / ".git").rglob("*")
            if p.is_file()
        }
        return status, refs, git(buggy_repo, "rev-parse", "HEAD"), inside

    clean = git_state()
    checkpoints = Checkpoints(buggy_repo, tmp_path / "store")
    first = checkpoints.snapshot("turn 1")
    assert git_state() == clean
    (buggy_repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (buggy_repo / "test_calc.py").rename(buggy_repo / "test_sum.py")
    (buggy_repo / "notes.md").write_text("new\n")
    checkpoints.restore(first.id)
    assert git_state() == clean
    assert "stash@{0}" in git(buggy_repo, "stash", "list")
    assert not (buggy_repo / ".git" / "glasscoder").exists()


def test_a_plain_folder_without_git(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    checkpoints = Checkpoints(root, tmp_path / "store")
    first = checkpoints.snapshot("turn 1")
    assert (first.files, first.skipped) == (1, {})
    (root / "src" / "main.py").write_text("print('bye')\n")
    (root / "src" / "extra").mkdir()
    (root / "src" / "extra" / "more.py").write_text("x = 1\n")
    checkpoints.restore(first.id)
    assert listing(root) == {"src/main.py": ("file", b"print('hi')\n", 0o644 & ~_umask())}
    assert not (root / "src" / "extra").exists()  # a folder the undone turn made goes too
    assert not (root / ".git").exists()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _stored_contents(store: Path) -> list[bytes]:
    return [p.read_bytes() for p in (store / "blobs").rglob("*") if p.is_file()]


def test_ignored_and_secret_files_are_neither_stored_nor_touched(tmp_path: Path) -> None:
    root = tmp_path / "work"
    (root / "build").mkdir(parents=True)
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / ".gitignore").write_text("build/\n")
    (root / "build" / "out.o").write_bytes(b"BUILD-OUTPUT-1")
    (root / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"PYC-1")
    (root / "pkg" / "m.py").write_text("x = 1\n")
    (root / ".env").write_text("API_KEY=SECRET-VALUE-1\n")
    os.link(root / ".env", root / "env-twin")  # another name of the secret file
    store = tmp_path / "store"
    checkpoints = Checkpoints(root, store, extra_ignores=["__pycache__/"])
    first = checkpoints.snapshot("turn 1")
    assert first.files == 2  # .gitignore and pkg/m.py
    stored = b"".join(_stored_contents(store))
    for secret in (b"BUILD-OUTPUT-1", b"PYC-1", b"SECRET-VALUE-1"):
        assert secret not in stored

    (root / "build" / "out.o").write_bytes(b"BUILD-OUTPUT-2")
    (root / "build" / "new.o").write_bytes(b"new")
    (root / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"PYC-2")
    (root / ".env").write_text("API_KEY=SECRET-VALUE-2\n")
    (root / ".env.local").write_text("TOKEN=3\n")
    (root / "pkg" / "m.py").write_text("x = 2\n")
    restore = checkpoints.restore(first.id)
    assert restore.changes.modified == ["pkg/m.py"]
    assert (root / "pkg" / "m.py").read_text() == "x = 1\n"
    assert (root / "build" / "out.o").read_bytes() == b"BUILD-OUTPUT-2"
    assert (root / "build" / "new.o").exists()
    assert (root / "pkg" / "__pycache__" / "m.pyc").read_bytes() == b"PYC-2"
    assert (root / ".env").read_text() == "API_KEY=SECRET-VALUE-2\n"
    assert (root / ".env.local").exists()
    assert b"SECRET-VALUE-2" not in b"".join(_stored_contents(store))


def test_a_file_over_the_cap_is_skipped_reported_and_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (root / "big.bin").write_bytes(b"x" * 200)
    (root / "grows.txt").write_text("small\n")
    checkpoints = Checkpoints(root, tmp_path / "store", max_file_bytes=100)
    first = checkpoints.snapshot("turn 1")
    assert first.skipped == {"big.bin": snapread.TOO_LARGE}
    assert first.files == 1
    (root / "big.bin").write_bytes(b"y" * 300)
    (root / "grows.txt").write_bytes(b"z" * 150)  # no copy of this state can be kept
    restore = checkpoints.restore(first.id)
    assert (root / "big.bin").read_bytes() == b"y" * 300
    assert (root / "grows.txt").read_bytes() == b"z" * 150
    assert "too large" in restore.kept["grows.txt"]
    assert restore.before.skipped == {"big.bin": "too large", "grows.txt": "too large"}


def test_a_planted_symlink_cannot_redirect_a_restore_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "work", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "victim.txt").write_text("precious\n")
    (root / "sub" / "f.txt").write_text("inside\n")
    (root / "victim.txt").write_text("workspace copy\n")
    checkpoints = Checkpoints(root, tmp_path / "store")
    first = checkpoints.snapshot("turn 1")
    # The model's command swaps the folder and a file for symlinks that point outside.
    (root / "sub" / "f.txt").unlink()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(outside)
    (root / "victim.txt").unlink()
    (root / "victim.txt").symlink_to(outside / "victim.txt")
    restore = checkpoints.restore(first.id)
    assert restore.kept == {}
    assert sorted(os.listdir(outside)) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "precious\n"
    assert not (root / "sub").is_symlink() and (root / "sub" / "f.txt").read_text() == "inside\n"
    assert not (root / "victim.txt").is_symlink()
    assert (root / "victim.txt").read_text() == "workspace copy\n"


def test_a_symlink_appearing_during_the_restore_makes_that_path_fail(tmp_path: Path) -> None:
    root, outside = tmp_path / "work", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "f.txt").write_text("inside\n")
    checkpoints = Checkpoints(root, tmp_path / "store")
    first = checkpoints.snapshot("turn 1")
    (root / "sub" / "f.txt").write_text("changed\n")
    original = checkpoints._walker.scan

    def scan_then_swap() -> snapwalk.Scan:
        result = original()
        # After the restore looked, a command swaps the folder for a symlink.
        os.rename(root / "sub", tmp_path / "moved")
        (root / "sub").symlink_to(outside)
        return result

    checkpoints._walker.scan = scan_then_swap  # type: ignore[method-assign]
    restore = checkpoints.restore(first.id)
    assert "symlink" in restore.kept["sub/f.txt"]
    assert os.listdir(outside) == []


def test_an_unchanged_tree_is_not_hashed_again(tmp_path: Path) -> None:
    root = tmp_path / "work"
    (root / "pkg").mkdir(parents=True)
    for i in range(20):
        (root / "pkg" / f"m{i}.py").write_text(f"x = {i}\n")
    checkpoints = Checkpoints(root, tmp_path / "store", racy_ns=0)
    assert checkpoints.snapshot("turn 1").hashed == 20
    second = checkpoints.snapshot("turn 2")
    assert (second.hashed, second.files) == (0, 20)
    (root / "pkg" / "m3.py").write_text("x = 33\n")
    (root / "pkg" / "new.py").write_text("y = 1\n")
    third = checkpoints.snapshot("turn 3")
    assert (third.hashed, third.files) == (2, 21)
    assert checkpoints.diff(second.id, third.id).created == ["pkg/new.py"]
    assert checkpoints.diff(second.id, third.id).modified == ["pkg/m3.py"]


def test_an_edited_ignore_file_applies_to_cached_folders(tmp_path: Path) -> None:
    root = tmp_path / "work"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "keep.py").write_text("1\n")
    (root / "pkg" / "gen.py").write_text("2\n")
    (root / ".gitignore").write_text("")
    checkpoints = Checkpoints(root, tmp_path / "store", racy_ns=0)
    assert checkpoints.snapshot("turn 1").files == 3
    (root / ".gitignore").write_text("gen.py\n")
    assert set(checkpoints.manifest(checkpoints.snapshot("turn 2").id)) == {
        ".gitignore",
        "pkg/keep.py",
    }
    (root / "pkg" / ".gitignore").write_text("keep.py\n")  # a new ignore file, deeper
    assert set(checkpoints.manifest(checkpoints.snapshot("turn 3").id)) == {
        ".gitignore",
        "pkg/.gitignore",
    }


def test_the_store_is_private_and_shares_blobs(tmp_path: Path) -> None:
    root, store = tmp_path / "work", tmp_path / "store"
    root.mkdir()
    (root / "one.txt").write_text("same\n")
    (root / "two.txt").write_text("same\n")
    checkpoints = Checkpoints(root, store)
    checkpoints.snapshot("turn 1")
    checkpoints.snapshot("turn 2")
    digest = hashlib.sha256(b"same\n").hexdigest()
    blob = store / "blobs" / digest[:2] / digest[2:]
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    for folder in (store, store / "blobs", blob.parent, store / "checkpoints"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    blobs = [p for p in (store / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 3  # the shared content, the folder's entries, the folder list


def test_list_diff_preview_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (root / "a.py").write_text("one\ntwo\n")
    (root / "blob.bin").write_bytes(b"\0\1")
    checkpoints = Checkpoints(root, tmp_path / "store")
    first = checkpoints.snapshot("turn 1")
    (root / "a.py").write_text("one\nTWO\n")
    (root / "blob.bin").write_bytes(b"\0\2")
    (root / "a.py").chmod(0o755)
    changes, text = checkpoints.preview(first.id)
    assert changes.modified == ["a.py", "blob.bin"]
    assert "-TWO\n+two\n" in text
    assert "Binary files a/blob.bin and b/blob.bin differ" in text
    second = checkpoints.snapshot("turn 2")
    (root / "a.py").chmod(0o700)
    third = checkpoints.snapshot("turn 3")
    assert [c.label for c in checkpoints.list()] == ["turn 1", "turn 2", "turn 3"]
    assert checkpoints.get("2") == second
    assert checkpoints.diff(second.id, third.id).mode_changed == ["a.py"]
    assert "old mode 100755\nnew mode 100700\n" in checkpoints.patch(second.id, third.id)
    with pytest.raises(CheckpointError, match="no checkpoint '9'"):
        checkpoints.restore("9")


def test_the_store_lives_only_where_the_caller_says(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    before = sorted(os.listdir(root))
    Checkpoints(root, tmp_path / "store").snapshot("turn 1")
    assert sorted(os.listdir(root)) == before
    assert (tmp_path / "store" / "checkpoints" / "0001.json").is_file()


def test_the_walk_cache_carries_over_to_the_next_process(tmp_path: Path) -> None:
    root, cache = tmp_path / "work", tmp_path / "index" / "work.json"
    (root / "pkg").mkdir(parents=True)
    for i in range(10):
        (root / "pkg" / f"m{i}.py").write_text(f"x = {i}\n")
    first = Checkpoints(root, tmp_path / "store", racy_ns=0, cache=cache)
    assert first.snapshot("session 1").hashed == 10
    first.close()
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    (root / "pkg" / "m0.py").write_text("x = 100\n")
    again = Checkpoints(root, tmp_path / "store", racy_ns=0, cache=cache)
    assert again.snapshot("session 2").hashed == 1
    again.close()
    # Another store lacks the cached blobs: every file is read again, so restores work.
    elsewhere = Checkpoints(root, tmp_path / "other-store", racy_ns=0, cache=cache)
    taken = elsewhere.snapshot("session 3")
    assert taken.hashed == 10
    (root / "pkg" / "m1.py").write_text("changed\n")
    elsewhere.restore(taken.id)
    assert (root / "pkg" / "m1.py").read_text() == "x = 1\n"
    elsewhere.close()


def test_a_cache_for_other_settings_is_not_used(tmp_path: Path) -> None:
    root, cache = tmp_path / "work", tmp_path / "work.json"
    root.mkdir()
    (root / "a.txt").write_text("a\n")
    (root / "b.txt").write_text("b" * 50)
    first = Checkpoints(root, tmp_path / "store", racy_ns=0, cache=cache)
    first.snapshot("one")
    first.close()
    smaller = Checkpoints(root, tmp_path / "store", racy_ns=0, cache=cache, max_file_bytes=10)
    taken = smaller.snapshot("two")
    assert (taken.hashed, taken.skipped) == (1, {"b.txt": "too large"})
    cache.write_bytes(b"{not json")
    damaged = Checkpoints(root, tmp_path / "store", racy_ns=0, cache=cache)
    assert damaged.snapshot("three").hashed == 2


def test_a_file_ignored_now_is_not_replaced_by_a_restore(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    (root / "notes.txt").write_text("kept in the checkpoint\n")
    checkpoints = Checkpoints(root, tmp_path / "store")
    first = checkpoints.snapshot("turn 1")
    (root / ".gitignore").write_text("notes.txt\n")  # the turn hid the file, then changed it
    (root / "notes.txt").write_text("the turn's version\n")
    restore = checkpoints.restore(first.id)
    assert not (root / ".gitignore").exists()
    assert (root / "notes.txt").read_text() == "the turn's version\n"
    assert "ignored" in restore.kept["notes.txt"]


def test_a_fifo_is_reported_and_does_not_hang_the_walk(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    os.mkfifo(root / "pipe")
    (root / "a.txt").write_text("a\n")
    taken = Checkpoints(root, tmp_path / "store").snapshot("turn 1")
    assert taken.skipped == {"pipe": snapread.NOT_REGULAR}
    assert taken.files == 1
