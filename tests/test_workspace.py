"""Workspace: path confinement (openat2 and fallback), atomic writes, ignore rules."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasscoder.beneath import BeneathOpener, openat2_supported
from glasscoder.ignore import SECRET_FILES
from glasscoder.workspace import Workspace, WorkspaceError
from tests.helpers import write_files

OPEN_MODES = [
    pytest.param(
        True,
        id="openat2",
        marks=pytest.mark.skipif(not openat2_supported(), reason="openat2 unavailable"),
    ),
    pytest.param(False, id="fallback"),
]


@dataclass
class Tree:
    root: Path  # the workspace
    outside: Path  # a sibling directory the model must never reach
    sibling: Path  # "<root>2": a string-prefix look-alike of the root


def snapshot(directory: Path) -> dict[str, str]:
    """Every entry beneath directory: file contents, link targets, directory markers."""
    result: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            key = str(path.relative_to(directory))
            if path.is_symlink():
                result[key] = "-> " + os.readlink(path)
            elif path.is_dir():
                result[key] = "<dir>"
            else:
                result[key] = path.read_text(errors="replace")
    return result


def make_tree(base: Path) -> Tree:
    root, outside, sibling = base / "ws", base / "outside", base / "ws2"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("TOP SECRET")
    (outside / "dir" / "file.txt").write_text("OUTSIDE FILE")
    sibling.mkdir()
    (sibling / "file.txt").write_text("SIBLING")
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "src" / "pkg" / "mod.py").write_text("X = 1\n")
    links = {
        "out_file": str(outside / "secret.txt"),  # absolute, final component
        "out_dir": "../outside",  # relative, used as an intermediate directory
        "chain1": "chain2",  # a chain that ends outside
        "chain2": "out_dir/secret.txt",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "dangling_out": str(outside / "created.txt"),  # target does not exist yet
        "in_file": "src/main.py",
        "in_dir": "src",
        "src/up": "..",
        "src/escape": "../../outside",
        "dangling_in": "src/new_from_link.py",
    }
    for name, target in links.items():
        os.symlink(target, root / name)
    return Tree(root, outside, sibling)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


@pytest.fixture(params=OPEN_MODES)
def use_openat2(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture
def ws(tree: Tree, use_openat2: bool) -> Workspace:
    workspace = Workspace(tree.root, use_openat2=use_openat2)
    assert workspace.uses_openat2 is use_openat2
    return workspace


ESCAPES = [
    "..",
    "../outside/secret.txt",
    "../../etc/passwd",
    "/etc/passwd",
    "{outside}/secret.txt",
    "{root}/../outside/secret.txt",
    "{sibling}/file.txt",
    "out_file",
    "out_dir/secret.txt",
    "out_dir/dir/file.txt",
    "chain1",
    "src/escape/secret.txt",
    "in_dir/../../outside/secret.txt",
    "src/up/../outside/secret.txt",
    "dangling_out",
]


def expand(path: str, tree: Tree) -> str:
    return path.format(outside=tree.outside, root=tree.root, sibling=tree.sibling)


# --- confinement --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ESCAPES)
def test_escapes_are_refused_for_every_operation(ws: Workspace, tree: Tree, path: str) -> None:
    path = expand(path, tree)
    before = snapshot(tree.outside), snapshot(tree.sibling)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ws.rel(path)
    for operation in (ws.read_text, ws.read_bytes, ws.exists, ws.is_dir, ws.list_dir, ws.walk):
        with pytest.raises(WorkspaceError, match="outside the workspace"):
            operation(path)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ws.write_text(path, "PWNED")
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ws.write_text(path + "/new.txt", "PWNED")
    assert (snapshot(tree.outside), snapshot(tree.sibling)) == before


def test_symlink_loop_is_refused(ws: Workspace, tree: Tree) -> None:
    before = snapshot(tree.root)
    with pytest.raises(WorkspaceError, match="symlinks"):
        ws.rel("loop_a")
    with pytest.raises(WorkspaceError, match="symlinks"):
        ws.read_text("loop_a/x")
    with pytest.raises(WorkspaceError, match="symlinks"):
        ws.write_text("loop_b", "data")
    assert snapshot(tree.root) == before


def test_nul_byte_in_path_is_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="NUL"):
        ws.rel("src/ma\0in.py")
    with pytest.raises(WorkspaceError, match="NUL"):
        ws.write_text("a\0b", "x")


def test_the_root_itself(ws: Workspace, tree: Tree) -> None:
    for path in (".", "", str(tree.root), f"{tree.root}/", "src/..", "./src/pkg/../.."):
        assert ws.rel(path) == "."
    assert ws.is_dir(".")
    with pytest.raises(WorkspaceError, match="is a directory"):
        ws.read_text(".")
    with pytest.raises(WorkspaceError, match="root"):
        ws.write_text(str(tree.root), "x")


def test_symlinks_that_stay_inside_are_allowed(ws: Workspace, tree: Tree) -> None:
    assert ws.rel("in_file") == "src/main.py"
    assert ws.rel("in_dir/pkg/mod.py") == "src/pkg/mod.py"
    assert ws.rel("src/up/src/main.py") == "src/main.py"
    assert ws.rel(str(tree.root / "in_dir" / "main.py")) == "src/main.py"
    assert ws.read_text("in_dir/pkg/mod.py") == "X = 1\n"
    assert ws.write_text("in_file", "print('changed')\n") is False
    assert (tree.root / "src" / "main.py").read_text() == "print('changed')\n"
    assert (tree.root / "in_file").is_symlink()
    # A dangling link that points inside creates its target.
    assert ws.write_text("dangling_in", "new\n") is True
    assert (tree.root / "src" / "new_from_link.py").read_text() == "new\n"


def test_nonexistent_trailing_parts_resolve(ws: Workspace) -> None:
    assert ws.rel("new/dir/file.txt") == "new/dir/file.txt"
    assert ws.rel("in_dir/new.py") == "src/new.py"
    assert ws.rel("new/../src/./main.py") == "src/main.py"
    assert not ws.exists("new/dir/file.txt")


def test_root_given_through_a_symlink(tree: Tree, tmp_path: Path, use_openat2: bool) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(tree.root)
    ws = Workspace(alias, use_openat2=use_openat2)
    assert ws.root == tree.root.resolve()
    assert ws.rel(str(alias / "src" / "main.py")) == "src/main.py"
    assert ws.rel(str(tree.root / "src" / "main.py")) == "src/main.py"


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a directory"):
        Workspace(tmp_path / "missing")


@pytest.mark.parametrize("path", ["out_dir/secret.txt", "out_file", "in_file", "in_dir/main.py"])
def test_opener_itself_never_follows_symlinks(tree: Tree, use_openat2: bool, path: str) -> None:
    # The use step must hold even if the check were skipped or raced.
    opener = BeneathOpener(str(tree.root), use_openat2)
    try:
        with pytest.raises(OSError) as info:
            opener.open(path, os.O_RDONLY)
        assert info.value.errno in (errno.ELOOP, errno.ENOTDIR, errno.EXDEV)
        os.close(opener.open("src/main.py", os.O_RDONLY))
    finally:
        opener.close()


@pytest.fixture(scope="module")
def property_tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    tree = make_tree(tmp_path_factory.mktemp("prop"))
    for name in ("loop_a", "loop_b"):  # realpath() leaves loops unresolved; keep the oracle exact
        (tree.root / name).unlink()
    return tree


COMPONENTS = ["src", "pkg", "main.py", "in_dir", "out_dir", "up", "escape", "nope", "..", "."]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=6))
def test_rel_agrees_with_realpath(property_tree: Tree, parts: list[str]) -> None:
    ws = Workspace(property_tree.root, use_openat2=False)
    path = "/".join(parts)
    real = os.path.realpath(property_tree.root / path)
    root = str(property_tree.root.resolve())
    if real == root or real.startswith(root + "/"):
        assert ws.rel(path) == (os.path.relpath(real, root).replace(os.sep, "/"))
    else:
        with pytest.raises(WorkspaceError, match="outside"):
            ws.rel(path)


# --- races --------------------------------------------------------------------------------


@pytest.fixture
def race_tree(tmp_path: Path) -> Tree:
    tree = make_tree(tmp_path)
    (tree.root / "sub").mkdir()
    (tree.root / "sub" / "f.txt").write_text("INSIDE")
    (tree.outside / "f.txt").write_text("OUTSIDE")
    return tree


def swap_after_check(monkeypatch: pytest.MonkeyPatch, swap: object) -> None:
    """Run `swap` right after the path check, before the workspace uses the path."""
    original = Workspace._resolve

    def resolve_then_swap(self: Workspace, path: str) -> tuple[str, list[str]]:
        result = original(self, path)
        swap()  # type: ignore[operator]
        return result

    monkeypatch.setattr(Workspace, "_resolve", resolve_then_swap)


def test_intermediate_directory_swapped_for_symlink_after_check(
    race_tree: Tree, use_openat2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(race_tree.root, use_openat2=use_openat2)
    sub = race_tree.root / "sub"

    def swap() -> None:
        if not sub.is_symlink():
            sub.rename(race_tree.root / "sub_real")
            sub.symlink_to(race_tree.outside)

    before = snapshot(race_tree.outside)
    swap_after_check(monkeypatch, swap)
    with pytest.raises(WorkspaceError):
        ws.read_text("sub/f.txt")
    with pytest.raises(WorkspaceError):
        ws.write_text("sub/f.txt", "PWNED")
    with pytest.raises(WorkspaceError):
        ws.write_text("sub/newdir/new.txt", "PWNED")
    with pytest.raises(WorkspaceError):
        ws.list_dir("sub")
    assert snapshot(race_tree.outside) == before


def test_directory_swapped_for_symlink_during_walk(race_tree: Tree, use_openat2: bool) -> None:
    ws = Workspace(race_tree.root, use_openat2=use_openat2)
    walk = ws.walk(".")
    assert next(walk) == "src/main.py"  # the root is listed; 'sub' is still a real directory
    sub = race_tree.root / "sub"
    sub.rename(race_tree.root / "sub_real")
    sub.symlink_to(race_tree.outside)
    assert list(walk) == ["src/pkg/mod.py"]  # 'sub' cannot be opened safely, so it is skipped


def test_final_file_swapped_for_symlink_after_check(
    race_tree: Tree, use_openat2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(race_tree.root, use_openat2=use_openat2)
    target = race_tree.root / "sub" / "f.txt"

    def swap() -> None:
        if not target.is_symlink():
            target.unlink()
            target.symlink_to(race_tree.outside / "f.txt")

    before = snapshot(race_tree.outside)
    swap_after_check(monkeypatch, swap)
    with pytest.raises(WorkspaceError, match="symlink appeared"):
        ws.read_text("sub/f.txt")
    target.unlink()
    target.write_text("INSIDE")  # a regular file again, so the next check passes
    # The rename replaces the planted link instead of writing through it.
    ws.write_text("sub/f.txt", "NEW")
    assert snapshot(race_tree.outside) == before
    assert not target.is_symlink()
    assert target.read_text() == "NEW"


def test_concurrent_symlink_swaps_never_leak(race_tree: Tree, use_openat2: bool) -> None:
    ws = Workspace(race_tree.root, use_openat2=use_openat2)
    sub, parked = race_tree.root / "sub", race_tree.root / "sub_parked"
    before = snapshot(race_tree.outside)
    stop = threading.Event()

    def step() -> None:
        """Move 'sub' one step along: real dir -> symlink to outside -> real dir again."""
        if sub.is_symlink():
            sub.unlink()
        elif sub.is_dir() and parked.exists():
            shutil.rmtree(sub)  # a write recreated 'sub' while the real one was parked
        elif sub.is_dir():
            sub.rename(parked)
            sub.symlink_to(race_tree.outside)
            return
        if not sub.exists() and parked.exists():
            parked.rename(sub)

    def flip() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                step()

    flipper = threading.Thread(target=flip)
    flipper.start()
    reads = []
    try:
        for i in range(1000):
            with contextlib.suppress(WorkspaceError):
                reads.append(ws.read_text("sub/f.txt"))
            with contextlib.suppress(WorkspaceError):
                ws.write_text(f"sub/w{i % 10}.txt", "written")
    finally:
        stop.set()
        flipper.join()
    assert set(reads) <= {"INSIDE"}
    assert snapshot(race_tree.outside) == before


# --- writes -------------------------------------------------------------------------------


def test_write_keeps_mode_and_replaces_atomically(ws: Workspace, tree: Tree) -> None:
    script = tree.root / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o755)
    inode = script.stat().st_ino
    assert ws.write_text("run.sh", "#!/bin/sh\necho new\n") is False
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert script.stat().st_ino != inode  # a new file renamed into place, not rewritten
    private = tree.root / "private.txt"
    private.write_text("a")
    private.chmod(0o600)
    ws.write_text("private.txt", "b")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_write_creates_file_and_parents(ws: Workspace, tree: Tree) -> None:
    assert ws.write_text("a/b/c.txt", "héllo\n") is True
    created = tree.root / "a" / "b" / "c.txt"
    assert created.read_bytes() == "héllo\n".encode()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(created.stat().st_mode) == 0o644 & ~umask
    assert ws.write_text("a/b/c.txt", "again") is False


def test_write_leaves_no_temp_files(
    ws: Workspace, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        ws.write_text("src/main.py", f"v{i}")
    (tree.root / "keep.txt").write_text("original")

    def broken_fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(WorkspaceError, match="No space left"):
        ws.write_text("keep.txt", "replacement")
    monkeypatch.undo()
    assert (tree.root / "keep.txt").read_text() == "original"
    leftovers = [p for p in tree.root.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_write_refuses_git_dir(ws: Workspace, tree: Tree) -> None:
    (tree.root / ".git").mkdir()
    (tree.root / ".git" / "config").write_text("[core]\n")
    for path in (".git/config", ".git/hooks/pre-commit", "src/.git/x", ".git"):
        with pytest.raises(WorkspaceError, match=r"\.git"):
            ws.write_text(path, "PWNED")
    assert (tree.root / ".git" / "config").read_text() == "[core]\n"
    assert not (tree.root / ".git" / "hooks").exists()


def test_write_refuses_ignored_paths_and_the_ignore_file(ws: Workspace, tree: Tree) -> None:
    (tree.root / ".gitignore").write_text("local.cfg\nbuild/\n")
    (tree.root / "local.cfg").write_text("KEY=1")
    with pytest.raises(WorkspaceError, match=r"ignored by \.gitignore"):
        ws.write_text("local.cfg", "KEY=2")
    with pytest.raises(WorkspaceError, match="build"):
        ws.write_text("build/out.js", "x")
    with pytest.raises(WorkspaceError, match="only the user"):
        ws.write_text(".glasscoderignore", "")
    assert (tree.root / "local.cfg").read_text() == "KEY=1"
    assert not (tree.root / "build").exists()


def test_write_errors(ws: Workspace, tree: Tree) -> None:
    with pytest.raises(WorkspaceError, match="is a directory"):
        ws.write_text("src", "x")
    with pytest.raises(WorkspaceError, match="not a directory"):
        ws.write_text("src/main.py/inner.txt", "x")
    with pytest.raises(WorkspaceError, match="not valid Unicode"):
        ws.write_text("bad.txt", "\ud800")
    assert not (tree.root / "bad.txt").exists()


# --- reads --------------------------------------------------------------------------------


def test_read_errors(ws: Workspace, tree: Tree) -> None:
    (tree.root / "blob.bin").write_bytes(b"abc\0def")
    (tree.root / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(WorkspaceError, match="binary"):
        ws.read_text("blob.bin")
    assert ws.read_bytes("blob.bin") == b"abc\0def"
    with pytest.raises(WorkspaceError, match="not UTF-8"):
        ws.read_text("latin1.txt")
    with pytest.raises(WorkspaceError, match=r"no such file: 'src/missing\.py'"):
        ws.read_text("src/missing.py")
    with pytest.raises(WorkspaceError, match="is a directory"):
        ws.read_text("src")
    ws.max_read_bytes = 4
    with pytest.raises(WorkspaceError, match="too large"):
        ws.read_text("src/main.py")


def test_reading_a_fifo_fails_instead_of_hanging(ws: Workspace, tree: Tree) -> None:
    os.mkfifo(tree.root / "pipe")
    with pytest.raises(WorkspaceError, match="not a regular file"):
        ws.read_text("pipe")


def test_list_dir_and_walk(ws: Workspace, tree: Tree) -> None:
    (tree.root / "a.txt").write_text("a")
    (tree.root / "src" / "pkg" / "z.py").write_text("z")
    names = dict(ws.list_dir("."))
    assert names["src"] is True and names["a.txt"] is False
    assert names["in_dir"] is True  # a link to a directory inside counts as one
    assert names["out_dir"] is False  # a link out of the workspace is not a directory here
    assert [name for name, _ in ws.list_dir("src")] == ["escape", "main.py", "pkg", "up"]
    # Depth-first in name order; symlinked directories and files are never followed or listed.
    assert list(ws.walk(".")) == ["a.txt", "src/main.py", "src/pkg/mod.py", "src/pkg/z.py"]
    assert list(ws.walk("in_dir/pkg")) == ["src/pkg/mod.py", "src/pkg/z.py"]
    assert list(ws.walk("src/main.py")) == ["src/main.py"]
    with pytest.raises(WorkspaceError, match="no such directory"):
        ws.list_dir("nope")
    with pytest.raises(WorkspaceError, match="not a directory"):
        ws.list_dir("a.txt")


# --- ignore rules -------------------------------------------------------------------------


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "XDG_CONFIG_HOME": str(root / ".no-xdg"),
        "HOME": str(root / ".no-home"),
    }
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


GIT_TREE = {
    ".gitignore": "*.log\n!keep.log\nbuild/\n/root_only.txt\ncache\ndocs/*.html\n!docs/index.html\n"
    "vendor/\n!vendor/keep.txt\n",
    "a.log": "",
    "keep.log": "",
    "sub/b.log": "",
    "sub/keep.log": "",
    "build/out.js": "",
    "sub/build/out.js": "",
    "root_only.txt": "",
    "sub/root_only.txt": "",
    "cache/data": "",
    "sub/cache": "",
    "docs/page.html": "",
    "docs/index.html": "",
    "docs/deep/page.html": "",
    "vendor/lib.py": "",
    "vendor/keep.txt": "",
    "sub/.gitignore": "*.tmp\n/anchored.txt\n!b.log\n",
    "sub/x.tmp": "",
    "x.tmp": "",
    "sub/anchored.txt": "",
    "sub/deeper/anchored.txt": "",
    "sub/deeper/y.tmp": "",
    "excluded.txt": "",
    "src/main.py": "",
}


def test_visibility_matches_git(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write_files(root, GIT_TREE)
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("excluded.txt\n")
    expected = set(git(root, "ls-files", "--others", "--exclude-standard").splitlines())
    assert "keep.log" in expected and "vendor/keep.txt" not in expected  # the oracle works
    assert set(Workspace(root).walk()) == expected
    # A workspace in a subdirectory still honours the repository's rules above it.
    sub = root / "sub"
    expected_in_sub = set(git(sub, "ls-files", "--others", "--exclude-standard").splitlines())
    assert "b.log" in expected_in_sub and "build/out.js" not in expected_in_sub
    assert set(Workspace(sub).walk()) == expected_in_sub


def test_rules_above_a_subdirectory_workspace_are_named(tmp_path: Path) -> None:
    write_files(tmp_path, {".gitignore": "*.log\n", "service/x.log": "1", "service/a.py": ""})
    git(tmp_path, "init", "-q")
    ws = Workspace(tmp_path / "service")
    with pytest.raises(WorkspaceError, match=r"ignored by \.\./\.gitignore \(pattern '\*\.log'\)"):
        ws.read_text("x.log")
    assert list(ws.walk()) == ["a.py"]


def test_malformed_patterns_are_skipped(tmp_path: Path) -> None:
    write_files(tmp_path, {".gitignore": "!\n[z-a]\n*.log\nfoo\\\n", "a.log": "", "b.py": ""})
    ws = Workspace(tmp_path)
    assert ws.is_ignored("a.log")
    assert not ws.is_ignored("b.py")


def test_ignore_sources_and_messages(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            ".gitignore": "*.gen.py\n.env\n",
            ".glasscoderignore": "secrets/\n!api.gen.py\n",
            "pkg/.glasscoderignore": "local.txt\n",
            "pkg/.gitignore": "*.tmp\n",
            "api.gen.py": "",
            "other.gen.py": "",
            ".env": "",
            "secrets/key.pem": "",
            "pkg/local.txt": "",
            "local.txt": "",
            "pkg/a.tmp": "",
            "huge.csv": "",
            "pkg/.git": "gitdir: elsewhere\n",
        },
    )
    # deny=(): the ignore sources alone (the secret-file deny-list is tested on its own below)
    ws = Workspace(tmp_path, extra_ignores=["*.csv", "!.env"], deny=())
    assert not ws.is_ignored("api.gen.py")  # .glasscoderignore re-includes over .gitignore
    assert ws.is_ignored("other.gen.py")
    assert not ws.is_ignored(".env")  # the config's negation has the highest precedence
    assert ws.is_ignored("secrets/key.pem") and ws.is_ignored("secrets")
    assert ws.is_ignored("pkg/local.txt") and not ws.is_ignored("local.txt")
    assert ws.is_ignored("huge.csv") and ws.is_ignored("pkg/.git")
    expectations = {
        "other.gen.py": r"'other.gen.py' is ignored by \.gitignore \(pattern '\*\.gen\.py'\)",
        "secrets/key.pem": r"inside 'secrets', which is ignored by \.glasscoderignore",
        "pkg/a.tmp": r"ignored by pkg/\.gitignore \(pattern '\*\.tmp'\)",
        "pkg/local.txt": r"ignored by pkg/\.glasscoderignore",
        "huge.csv": "extra_ignores",
        "pkg/.git": "git's internal .git directory",
    }
    for path, message in expectations.items():
        with pytest.raises(WorkspaceError, match=message):
            ws.check_visible(path)
        with pytest.raises(WorkspaceError, match="hidden from the model"):
            ws.read_text(path)
    ws.check_visible("api.gen.py")


def test_ignored_entries_are_left_out_and_counted(tmp_path: Path) -> None:
    write_files(tmp_path, {".gitignore": "*.log\nout/\n", "a.log": "", "b.py": "", "out/x": ""})
    (tmp_path / ".git").mkdir()
    ws = Workspace(tmp_path)
    assert ws.list_dir(".") == [(".gitignore", False), ("b.py", False)]
    assert ws.ignored_count(".") == 2  # a.log and out/; .git is not worth mentioning
    assert list(ws.walk()) == [".gitignore", "b.py"]


def test_rule_changes_are_picked_up(tmp_path: Path) -> None:
    write_files(tmp_path, {"notes.md": ""})
    ws = Workspace(tmp_path)
    assert not ws.is_ignored("notes.md")
    (tmp_path / ".gitignore").write_text("*.md\n")
    assert ws.is_ignored("notes.md")


def test_frozen_rules_are_read_once_per_block(tmp_path: Path) -> None:
    write_files(tmp_path, {"notes.md": ""})
    ws = Workspace(tmp_path)
    with ws.frozen_rules():
        assert not ws.is_ignored("notes.md")
        (tmp_path / ".gitignore").write_text("*.md\n")
        assert not ws.is_ignored("notes.md")  # the block keeps the rules it started with
    assert ws.is_ignored("notes.md")


def test_symlinks_cannot_unhide_or_smuggle_rules(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    write_files(root, {".gitignore": ".env\n", ".env": "KEY=1", "config/dev.env": "DEV=1"})
    write_files(outside, {"patterns": "src/\n"})
    (root / "alias").symlink_to(".env")  # a visible name for an ignored file
    (root / "src").mkdir()
    (root / "src" / ".gitignore").symlink_to(outside / "patterns")  # git ignores these too
    (root / "src" / "a.py").write_text("")
    ws = Workspace(root, deny=())
    with pytest.raises(WorkspaceError, match=r"'\.env' is ignored"):
        ws.read_text("alias")
    assert not ws.is_ignored("src/a.py")
    # An ignored name that links to a visible file is still refused.
    (root / ".env").unlink()
    (root / ".env").symlink_to("config/dev.env")
    with pytest.raises(WorkspaceError, match=r"'\.env' is ignored"):
        ws.read_text(".env")


def test_emptying_a_rule_file_does_not_unhide_what_it_hid(tmp_path: Path) -> None:
    write_files(tmp_path, {".gitignore": ".env\n", ".env": "KEY=1", "a.py": ""})
    ws = Workspace(tmp_path, deny=())
    assert ws.is_ignored(".env")
    ws.write_text(".gitignore", "")  # the model rewrites .gitignore like any file
    with pytest.raises(WorkspaceError, match="as it was when this session started"):
        ws.read_text(".env")
    assert [name for name, _ in ws.list_dir(".")] == [".gitignore", "a.py"]
    assert list(ws.walk()) == [".gitignore", "a.py"]


def test_a_new_nested_negation_does_not_unhide(tmp_path: Path) -> None:
    write_files(tmp_path, {".gitignore": "*.key\n", "sub/server.key": "PRIVATE"})
    ws = Workspace(tmp_path, deny=())
    ws.write_text("sub/.gitignore", "!server.key\n")
    with pytest.raises(WorkspaceError, match=r"'sub/server\.key' is ignored by \.gitignore as it"):
        ws.read_text("sub/server.key")
    assert list(ws.walk()) == [".gitignore", "sub/.gitignore"]


def test_project_config_folder_is_not_writable(tmp_path: Path) -> None:
    # What the model writes there would configure the next session.
    (tmp_path / "link").symlink_to(".")
    ws = Workspace(tmp_path)
    for path in (".glasscoder/config.toml", "link/.glasscoder/config.toml", "sub/.glasscoder/x"):
        with pytest.raises(WorkspaceError, match="only the user may change it"):
            ws.write_text(path, 'model = "x"\n')
    assert not (tmp_path / ".glasscoder").exists()


def test_glasscoders_own_folders_inside_the_workspace_are_hidden(tmp_path: Path) -> None:
    # glasscoder run in the home folder: its config and sessions lie inside the workspace.
    config, data = tmp_path / ".config" / "glasscoder", tmp_path / "share" / "glasscoder"
    write_files(tmp_path, {".config/glasscoder/config.toml": "", "share/glasscoder/s/audit.jsonl":
                           "", ".config/other.toml": "", "notes.txt": ""})  # fmt: skip
    ws = Workspace(tmp_path, private=[config, data, tmp_path.parent / "elsewhere"])
    for path in (".config/glasscoder/config.toml", "share/glasscoder/s/audit.jsonl"):
        with pytest.raises(WorkspaceError, match="glasscoder's own configuration"):
            ws.read_text(path)
    with pytest.raises(WorkspaceError, match="glasscoder's own configuration"):
        ws.write_text(".config/glasscoder/config.toml", 'sandbox = "none"\n')
    assert list(ws.walk()) == [".config/other.toml", "notes.txt"]
    assert (config / "config.toml").read_text() == ""


def test_own_folders_default_to_the_xdg_locations(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("GLASSCODER_CONFIG", raising=False)
    write_files(tmp_path, {"cfg/glasscoder/config.toml": "", "data/glasscoder/x": "", "a": ""})
    ws = Workspace(tmp_path)
    assert list(ws.walk()) == ["a"]
    assert ws.is_ignored("cfg/glasscoder/config.toml") and ws.is_ignored("data/glasscoder")


def test_a_path_too_long_for_the_system_is_a_workspace_error(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    for path in ("x" * 5000, "y" * 300):  # longer than PATH_MAX, then a name longer than NAME_MAX
        with pytest.raises(WorkspaceError, match="cannot access"):
            ws.read_text(path)
        with pytest.raises(WorkspaceError, match="cannot access"):
            ws.exists(path)


SECRET_FILE_NAMES = [
    ".env",
    ".env.production",
    ".envrc",
    "config/.env.local",
    "certs/server.pem",
    "tls.key",
    "id_rsa",
    "home/id_ed25519",
    ".ssh/config",
    ".aws/credentials",
    ".gnupg/pubring.kbx",
    "vault.kdbx",
    "credentials.json",
    ".netrc",
    ".git-credentials",
    "deploy/secrets.yaml",
]


@pytest.mark.parametrize("name", SECRET_FILE_NAMES)
def test_secret_files_never_reach_the_model(tmp_path: Path, name: str) -> None:
    write_files(tmp_path, {name: "TOKEN=s3cr3t-value\n", ".gitignore": "!*\n"})
    ws = Workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="may hold credentials"):
        ws.read_text(name)
    with pytest.raises(WorkspaceError, match="never shown to the model"):
        ws.write_text(name, "x")
    assert name not in set(ws.walk())


def test_deny_list_beats_repository_rules_and_keeps_examples(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {".gitignore": "!.env\n", ".glasscoderignore": "!.env\n", ".env": "A=1",
         ".env.example": "A=", "id_rsa.pub": "ssh-ed25519 AAAA", "app.py": ""},
    )  # fmt: skip
    ws = Workspace(tmp_path, extra_ignores=["!.env"])
    assert ws.is_ignored(".env")  # no repository rule or extra pattern re-includes it
    assert not ws.is_ignored(".env.example") and not ws.is_ignored("id_rsa.pub")
    assert not ws.is_ignored("app.py")


def test_deny_list_is_extendable_and_the_user_may_allow(tmp_path: Path) -> None:
    write_files(tmp_path, {"prod.cfg": "", ".env": ""})
    ws = Workspace(tmp_path, deny=(*SECRET_FILES, "*.cfg", "!.env"))
    assert ws.is_ignored("prod.cfg")
    assert not ws.is_ignored(".env")


CASE_VARIANTS_AND_NEW_NAMES = [
    ".ENV",
    ".Env.Local",
    "Credentials.json",
    "ID_RSA",
    "keys/server.PEM",
    ".AWS/credentials",
    ".npmrc",
    ".pypirc",
    "infra/prod.tfvars",
    "infra/prod.TFVARS.json",
    ".vault-token",
    "web/.htpasswd",
    "gcp/service-account-prod.json",
]


@pytest.mark.parametrize("name", CASE_VARIANTS_AND_NEW_NAMES)
def test_deny_list_ignores_case_and_covers_more_credential_files(tmp_path: Path, name: str) -> None:
    write_files(tmp_path, {name: "TOKEN=s3cr3t-value\n"})
    ws = Workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="may hold credentials"):
        ws.read_text(name)
    assert name not in set(ws.walk())


def test_deny_list_exceptions_hold_in_any_case(tmp_path: Path) -> None:
    write_files(tmp_path, {".ENV.EXAMPLE": "A=", "ID_RSA.PUB": "ssh-ed25519 AAAA", ".ENV": ""})
    ws = Workspace(tmp_path)
    assert ws.read_text(".ENV.EXAMPLE") == "A="
    assert ws.read_text("ID_RSA.PUB") == "ssh-ed25519 AAAA"
    assert ws.is_ignored(".ENV")


def test_a_user_deny_pattern_matches_any_case(tmp_path: Path) -> None:
    write_files(tmp_path, {"Prod.CFG": "x", "notes.txt": "y"})
    ws = Workspace(tmp_path, deny=(*SECRET_FILES, "prod.cfg"))
    assert ws.is_ignored("Prod.CFG")
    assert not ws.is_ignored("notes.txt")


def test_a_hard_link_to_a_secret_file_is_refused(tmp_path: Path) -> None:
    write_files(tmp_path, {"services/api/.env": "API_KEY=s3cr3t-value\n", "plain.txt": "ok"})
    os.link(tmp_path / "services/api/.env", tmp_path / "notes.txt")
    ws = Workspace(tmp_path)
    with pytest.raises(WorkspaceError, match="hard link") as refused:
        ws.read_text("notes.txt")
    assert "s3cr3t" not in str(refused.value)
    assert ws.is_ignored("notes.txt")  # grep with ripgrep filters its results by this
    with ws.frozen_rules():
        assert ws.is_ignored("notes.txt")
    assert ws.read_text("plain.txt") == "ok"


def test_a_hard_link_made_after_the_first_look_is_refused_too(tmp_path: Path) -> None:
    write_files(tmp_path, {".env": "API_KEY=s3cr3t-value\n", "a.txt": "a"})
    os.link(tmp_path / "a.txt", tmp_path / "b.txt")  # linked, but not to a secret
    ws = Workspace(tmp_path)
    assert ws.read_text("b.txt") == "a"
    os.link(tmp_path / ".env", tmp_path / "later.txt")
    with pytest.raises(WorkspaceError, match="hard link"):
        ws.read_text("later.txt")
