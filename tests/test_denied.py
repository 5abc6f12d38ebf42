"""denied.py: the walk that finds deny-listed entries for the sandbox and the hard-link check."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from glasscoder import denied
from glasscoder.denied import Scanner, scan
from glasscoder.ignore import SECRET_FILES, DenyList
from tests.helpers import write_files

DENY = DenyList(SECRET_FILES)


def names(root: Path, paths: list[str]) -> list[str]:
    return sorted(os.path.relpath(p, root) for p in paths)


def test_scan_finds_files_and_directories_in_any_case(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {".env": "A=1", "svc/api/.ENV": "A=1", "svc/api/.env.example": "A=", "keys/s.PEM": "k",
         ".aws/credentials": "k", ".aws/nested/.env": "k", "app.py": "", "id_rsa.pub": "p"},
    )  # fmt: skip
    found = scan(str(tmp_path), DENY)
    assert names(tmp_path, found.files) == [".env", "keys/s.PEM", "svc/api/.ENV"]
    assert names(tmp_path, found.dirs) == [".aws"]  # and nothing inside it: it is masked whole
    assert found.links == [] and found.twins == []
    assert len(found.inodes) == 3


def test_symlinks_are_reported_not_followed(tmp_path: Path) -> None:
    write_files(tmp_path, {"real/.env": "A=1", "plain.txt": "x"})
    (tmp_path / ".env").symlink_to("plain.txt")
    (tmp_path / "loop").symlink_to(".")
    found = scan(str(tmp_path), DENY)
    assert names(tmp_path, found.links) == [".env"]
    assert names(tmp_path, found.files) == ["real/.env"]


def test_generated_folders_are_not_walked(tmp_path: Path) -> None:
    write_files(tmp_path, {"node_modules/x/.env": "A=1", ".venv/.env": "A=1", "src/.env": "A"})
    assert names(tmp_path, scan(str(tmp_path), DENY).files) == ["src/.env"]


def test_other_names_of_a_secret_file_are_found(tmp_path: Path) -> None:
    write_files(tmp_path, {"svc/.env": "A=1", "a.txt": "a", "b/c.txt": "c"})
    os.link(tmp_path / "svc/.env", tmp_path / "b/notes.txt")
    os.link(tmp_path / "a.txt", tmp_path / "b/a-again.txt")  # linked, but not to a secret
    found = scan(str(tmp_path), DENY)
    assert names(tmp_path, found.twins) == ["b/notes.txt"]
    st = os.stat(tmp_path / "b/notes.txt")
    assert (st.st_dev, st.st_ino) in found.inodes


def test_a_session_scanner_sees_changes_in_folders_it_listed_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(denied, "RACY_NS", 0)  # trust every listing, however fresh
    write_files(tmp_path, {"svc/app.py": "", ".env": "A=1"})
    scanner = Scanner(DENY)
    assert names(tmp_path, scanner.scan(str(tmp_path)).files) == [".env"]
    time.sleep(0.05)  # past the filesystem's timestamp granularity, so the ctime moves
    (tmp_path / "svc/.env.local").write_text("B=2")
    (tmp_path / ".env").rename(tmp_path / "moved.txt")
    assert names(tmp_path, scanner.scan(str(tmp_path)).files) == ["svc/.env.local"]


def test_unchanged_folders_are_not_listed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(denied, "RACY_NS", 0)
    write_files(tmp_path, {"a/b/.env": "A=1", "c/d.txt": ""})
    listed: list[str] = []
    real = denied._entries
    monkeypatch.setattr(denied, "_entries", lambda d: listed.append(d) or real(d))
    scanner = Scanner(DENY)
    first = scanner.scan(str(tmp_path))
    assert sorted(names(tmp_path, listed)) == [".", "a", "a/b", "c"]
    listed.clear()
    assert scanner.scan(str(tmp_path)).files == first.files and listed == []


def test_a_folder_changed_just_now_is_listed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_files(tmp_path, {".env": "A=1"})  # the root changed a moment ago: racy
    listed: list[str] = []
    real = denied._entries
    monkeypatch.setattr(denied, "_entries", lambda d: listed.append(d) or real(d))
    scanner = Scanner(DENY)
    scanner.scan(str(tmp_path))
    scanner.scan(str(tmp_path))
    assert listed == [str(tmp_path), str(tmp_path)]
