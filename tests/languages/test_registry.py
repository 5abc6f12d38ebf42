"""The language registry: recognising files and projects, finding tools."""

import os
import stat
from pathlib import Path

import pytest

from glasscoder.languages import parsers
from glasscoder.languages.registry import (
    LANGUAGES,
    PURPOSES,
    Command,
    applies,
    by_name,
    detect,
    find_program,
    language_for,
    missing_note,
    project_files,
)
from tests.languages.polyglot import ALL_LANGUAGES, POLYGLOT, write_tree


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("a/b.py", "python"), ("x.pyi", "python"), ("m.mjs", "javascript"), ("c.tsx", "typescript"),
        ("main.go", "go"), ("lib.rs", "rust"), ("App.java", "java"), ("b.kts", "kotlin"),
        ("x.h", "c"), ("y.HPP", "cpp"), ("P.cs", "csharp"), ("Gemfile", "ruby"),
        ("Rakefile", "ruby"), ("i.php", "php"), ("m.swift", "swift"), ("run.bash", "shell"),
        ("win\\path\\x.rb", "ruby"),
    ],
)  # fmt: skip
def test_language_for_names_and_extensions(path, name):
    lang = language_for(path)
    assert lang is not None and lang.name == name


@pytest.mark.parametrize("path", ["README", "notes.txt", "image.png", ".gitignore", ""])
def test_language_for_unknown(path):
    assert language_for(path) is None


def test_detects_every_language_of_a_polyglot_repository(tmp_path):
    write_tree(tmp_path, POLYGLOT)
    assert [lang.name for lang in detect(tmp_path)] == ALL_LANGUAGES


def test_dependency_and_build_folders_are_not_the_project(tmp_path):
    write_tree(tmp_path, {
        "app.py": "", "node_modules/x/index.js": "", "target/gen.rs": "", ".venv/lib/site.rb": "",
    })  # fmt: skip
    assert project_files(tmp_path) == ["app.py"]
    assert [lang.name for lang in detect(tmp_path)] == ["python"]


def test_a_manifest_alone_detects_its_language(tmp_path):
    write_tree(tmp_path, {"go.mod": "module m\n", "Cargo.toml": "", "App.csproj": "<Project/>"})
    assert [lang.name for lang in detect(tmp_path)] == ["go", "rust", "csharp"]


def test_a_shared_manifest_alone_proves_nothing(tmp_path):
    # A Makefile or CMakeLists.txt appears in Python and Go projects too.
    write_tree(tmp_path, {"Makefile": "test:\n\ttrue\n", "CMakeLists.txt": "", "tool.py": ""})
    assert [lang.name for lang in detect(tmp_path)] == ["python"]


def test_every_language_has_a_linter_a_test_or_build_and_install_hints():
    assert len(LANGUAGES) >= 14
    for lang in LANGUAGES:
        assert lang.tools("lint") or lang.tools("analyze"), lang.name
        for cmd in lang.commands:
            assert cmd.purpose in PURPOSES, cmd
            assert cmd.install.strip(), cmd
            assert cmd.program == cmd.argv[0], cmd
            if cmd.purpose in ("lint", "analyze"):
                assert cmd.parser in parsers.PARSERS, cmd
    assert by_name("rust") is not None and by_name("cobol") is None


def test_applies_needs_a_root_manifest(tmp_path):
    clippy = next(c for c in by_name("rust").commands if c.name == "clippy")
    assert not applies(clippy, tmp_path)
    (tmp_path / "Cargo.toml").write_text("")
    assert applies(clippy, tmp_path)
    dotnet = next(c for c in by_name("csharp").commands if c.name == "dotnet-build")
    (tmp_path / "Thing.sln").write_text("")
    assert applies(dotnet, tmp_path)


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_program_prefers_the_projects_own_copy(tmp_path, monkeypatch):
    cmd = Command("eslint", ("eslint", "{files}"), "lint", "eslint-json", "eslint", "npm i eslint")
    on_path = _executable(tmp_path / "global" / "eslint")
    monkeypatch.setenv("PATH", str(on_path.parent))
    root = tmp_path / "repo"
    root.mkdir()
    assert find_program(cmd, root) == str(on_path)
    local = _executable(root / "node_modules" / ".bin" / "eslint")
    assert find_program(cmd, root) == str(local)


def test_a_missing_program_is_none_with_an_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cmd = next(c for c in by_name("shell").commands if c.name == "shellcheck")
    assert find_program(cmd, tmp_path) is None
    note = missing_note(cmd, "shell")
    assert note.startswith("shellcheck not found (shell lint") and "apt install shellcheck" in note


def test_a_non_executable_local_file_is_not_a_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "ruff").write_text("not a program")
    cmd = next(c for c in by_name("python").commands if c.name == "ruff")
    assert not os.access(tmp_path / ".venv" / "bin" / "ruff", os.X_OK)
    assert find_program(cmd, tmp_path) is None
