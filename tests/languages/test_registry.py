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
    host_path,
    language_for,
    missing_note,
    project_files,
    with_own_scripts,
    workspace_program,
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


ESLINT = Command("eslint", ("eslint", "{files}"), "lint", "eslint-json", "eslint", "npm i eslint")


def test_find_program_prefers_the_projects_own_copy_when_confined(tmp_path, monkeypatch):
    on_path = _executable(tmp_path / "global" / "eslint")
    monkeypatch.setenv("PATH", str(on_path.parent))
    root = tmp_path / "repo"
    root.mkdir()
    assert find_program(ESLINT, root, confined=True) == str(on_path)
    local = _executable(root / "node_modules" / ".bin" / "eslint")
    assert find_program(ESLINT, root, confined=True) == str(local)
    assert workspace_program(ESLINT, root) == str(local)


def test_unconfined_never_takes_a_program_from_the_workspace(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    _executable(root / "node_modules" / ".bin" / "eslint")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_program(ESLINT, root, confined=False) is None  # the local copy is not used
    # Nor through PATH: an activated venv inside the workspace, or a relative entry.
    in_ws = _executable(root / "tools" / "eslint")
    monkeypatch.chdir(root)
    monkeypatch.setenv("PATH", os.pathsep.join([str(in_ws.parent), "tools", ""]))
    assert find_program(ESLINT, root, confined=False) is None
    assert find_program(ESLINT, root, confined=True) == str(root / "node_modules/.bin/eslint")
    on_path = _executable(tmp_path / "global" / "eslint")
    monkeypatch.setenv("PATH", os.pathsep.join([str(in_ws.parent), str(on_path.parent)]))
    assert find_program(ESLINT, root, confined=False) == str(on_path)


def test_host_path_drops_folders_inside_the_workspace(tmp_path):
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(root / "sub")  # a way into the workspace from outside
    path = os.pathsep.join(
        [str(root), str(root / "sub"), str(tmp_path / "link"), "rel", "", "/usr/bin", str(tmp_path)]
    )
    assert host_path(root, path) == os.pathsep.join(["/usr/bin", str(tmp_path)])


def test_a_missing_program_is_none_with_an_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cmd = next(c for c in by_name("shell").commands if c.name == "shellcheck")
    assert find_program(cmd, tmp_path, confined=True) is None
    note = missing_note(cmd, "shell")
    assert note.startswith("shellcheck not found (shell lint") and "apt install shellcheck" in note


def test_a_non_executable_local_file_is_not_a_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: "")  # nor beside us
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "ruff").write_text("not a program")
    cmd = next(c for c in by_name("python").commands if c.name == "ruff")
    assert not os.access(tmp_path / ".venv" / "bin" / "ruff", os.X_OK)
    assert find_program(cmd, tmp_path, confined=True) is None


def test_a_tool_beside_glasscoder_is_found_when_not_on_path(tmp_path, monkeypatch):
    """An extra installs ruff into glasscoder's own environment, which is often not on PATH
    (pipx, a venv not activated): it is found, confined or not."""
    own = tmp_path / "own" / "bin"
    own.mkdir(parents=True)
    (own / "ruff").write_text("#!/bin/sh\n")
    (own / "ruff").chmod(0o755)
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: str(own))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / "ws").mkdir()
    cmd = next(c for c in by_name("python").commands if c.name == "ruff")
    assert find_program(cmd, tmp_path / "ws", confined=True) == str(own / "ruff")
    assert find_program(cmd, tmp_path / "ws", confined=False) == str(own / "ruff")
    assert with_own_scripts("/usr/bin", tmp_path / "ws", confined=False) == f"/usr/bin:{own}"


def test_glasscoders_own_tools_inside_the_workspace_never_run_on_the_host(tmp_path, monkeypatch):
    """The README's development layout: glasscoder's venv inside the workspace, where a
    sandboxed command could have replaced its ruff. Only a sandbox may run that copy."""
    own = tmp_path / ".venv" / "bin"
    own.mkdir(parents=True)
    (own / "ruff").write_text("#!/bin/sh\n")
    (own / "ruff").chmod(0o755)
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: str(own))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    cmd = next(c for c in by_name("python").commands if c.name == "ruff")
    assert find_program(cmd, tmp_path, confined=False) is None
    assert with_own_scripts("/usr/bin", tmp_path, confined=False) == "/usr/bin"
    assert find_program(cmd, tmp_path, confined=True) == str(own / "ruff")
