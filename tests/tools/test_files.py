"""read_file, list_directory and glob: output formats, caps, and what stays hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from glasscoder.tools.base import ToolContext, ToolError, schema_for
from glasscoder.tools.files import Glob, ListDirectory, ReadFile
from glasscoder.workspace import Workspace, WorkspaceError
from tests.helpers import write_files


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_files(
        root,
        {
            ".gitignore": ".env\nbuild/\n*.log\n",
            ".glasscoderignore": "private/\n",
            ".env": "KEY=secret\n",
            "build/out.js": "compiled\n",
            "debug.log": "log\n",
            "private/notes.md": "private\n",
            "README.md": "# Title\n",
            "CHANGES.md": "changes\n",
            "src/app.py": "import os\n\nprint('hi')\n",
            "src/pkg/__init__.py": "",
            "src/pkg/util.py": "def util():\n    pass\n",
            "src/pkg/types.ts": "export type A = 1;\n",
            "docs/guide.md": "guide\n",
            "empty.txt": "",
        },
    )
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.py").write_text("SECRET = 1\n")
    (root / "out_link").symlink_to(tmp_path / "outside")
    (root / "src_link").symlink_to("src")
    return root


def make_ctx(root: Path, output_limit: int = 16_000, extra: tuple[str, ...] = ()) -> ToolContext:
    return ToolContext(workspace=Workspace(root, extra), sandbox=None, output_limit=output_limit)


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    return make_ctx(root)


@pytest.mark.parametrize("tool", [ReadFile(), ListDirectory(), Glob()])
def test_tool_declarations(tool: ReadFile | ListDirectory | Glob) -> None:
    entry = schema_for(tool)
    assert entry["function"]["name"] in ("read_file", "list_directory", "glob")
    assert entry["function"]["parameters"]["type"] == "object"
    assert set(entry["function"]["parameters"].get("required", [])) <= set(
        entry["function"]["parameters"]["properties"]
    )
    assert tool.read_only is True and tool.runs_commands is False
    assert 0 < len(tool.description) < 300


# --- read_file ----------------------------------------------------------------------------


def test_read_file_numbers_lines_like_cat_n(ctx: ToolContext) -> None:
    text = ReadFile().run({"path": "src/app.py"}, ctx).text
    assert text == "     1\timport os\n     2\t\n     3\tprint('hi')"


def test_read_file_offset_and_limit(ctx: ToolContext) -> None:
    text = ReadFile().run({"path": "src/app.py", "offset": 2, "limit": 1}, ctx).text
    assert text == "     2\t\n... 1 more line; use offset=3 to continue"
    text = ReadFile().run({"path": "src/app.py", "offset": "3"}, ctx).text
    assert text == "     3\tprint('hi')"


def test_read_file_default_limit_and_footer(root: Path, ctx: ToolContext) -> None:
    (root / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 2341)))
    ctx.output_limit = 1_000_000
    lines = ReadFile().run({"path": "big.txt"}, ctx).text.split("\n")
    assert lines[0] == "     1\tline 1"
    assert lines[1999] == "  2000\tline 2000"
    assert lines[2000:] == ["... 340 more lines; use offset=2001 to continue"]


def test_read_file_cuts_long_lines(root: Path, ctx: ToolContext) -> None:
    (root / "min.js").write_text("f(a);" * 1000 + "\nshort\n" + "x" * 5000 + "\n")
    lines = ReadFile().run({"path": "min.js"}, ctx).text.split("\n")
    assert lines[0] == "     1\t" + "f(a);" * 400 + " [... line cut, 3000 more characters]"
    assert lines[1] == "     2\tshort"
    # A cut never leaves part of a token (it could be part of a key): all of it goes.
    assert lines[2] == "     3\t [... line cut, 5000 more characters]"


def test_read_file_respects_output_limit(root: Path) -> None:
    (root / "big.txt").write_text("".join(f"line number {i}\n" for i in range(1, 500)))
    ctx = make_ctx(root, output_limit=600)
    text = ReadFile().run({"path": "big.txt"}, ctx).text
    assert len(text) <= 600
    last_shown = int(text.split("\n")[-2].split("\t")[0])
    assert text.endswith(f"use offset={last_shown + 1} to continue")
    follow = ReadFile().run({"path": "big.txt", "offset": last_shown + 1}, ctx).text
    assert follow.startswith(f"{last_shown + 1:6d}\tline number {last_shown + 1}\n")


def test_read_file_special_cases(root: Path, ctx: ToolContext) -> None:
    assert ReadFile().run({"path": "empty.txt"}, ctx).text == "(the file 'empty.txt' is empty)"
    (root / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    assert ReadFile().run({"path": "crlf.txt"}, ctx).text == "     1\tone\n     2\ttwo"
    assert (
        ReadFile()
        .run({"path": "src_link/app.py", "limit": 1}, ctx)
        .text.startswith("     1\timport os")
    )


def test_read_file_errors(root: Path, ctx: ToolContext) -> None:
    (root / "blob.bin").write_bytes(b"\x89PNG\0\0")
    with pytest.raises(ToolError, match="list_directory"):
        ReadFile().run({"path": "src"}, ctx)
    with pytest.raises(WorkspaceError, match="binary"):
        ReadFile().run({"path": "blob.bin"}, ctx)
    with pytest.raises(ToolError, match="past the end"):
        ReadFile().run({"path": "src/app.py", "offset": 10}, ctx)
    with pytest.raises(WorkspaceError, match="no such file"):
        ReadFile().run({"path": "src/nope.py"}, ctx)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ReadFile().run({"path": "out_link/secret.py"}, ctx)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ReadFile().run({"path": "../outside/secret.py"}, ctx)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (".env", r"matches '\.env\*' on the secret-file deny-list"),
        ("build/out.js", r"inside 'build', which is ignored by \.gitignore"),
        ("private/notes.md", r"\.glasscoderignore"),
        (".git/HEAD", "git's internal .git directory"),
    ],
)
def test_read_file_refuses_hidden_files_and_says_why(
    ctx: ToolContext, path: str, reason: str
) -> None:
    with pytest.raises(WorkspaceError, match=reason):
        ReadFile().run({"path": path}, ctx)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "missing required argument 'path'"),
        ({"path": 3}, "'path' must be a string"),
        ({"path": "src/app.py", "offset": 0}, "'offset' must be at least 1"),
        ({"path": "src/app.py", "limit": True}, "'limit' must be an integer"),
        ({"path": "src/app.py", "limit": "many"}, "'limit' must be an integer"),
        # str.isdigit() is true of superscripts, which int() refuses: a ValueError escaped.
        ({"path": "src/app.py", "offset": "²"}, "'offset' must be an integer"),
        ({"path": "src/app.py", "limit": "1.5"}, "'limit' must be an integer"),
    ],
)
def test_read_file_argument_errors(ctx: ToolContext, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        ReadFile().run(args, ctx)


# --- list_directory -----------------------------------------------------------------------


def test_list_directory_marks_dirs_and_counts_hidden(ctx: ToolContext) -> None:
    text = ListDirectory().run({}, ctx).text
    assert text.split("\n") == [
        ".gitignore",
        ".glasscoderignore",
        "CHANGES.md",
        "README.md",
        "docs/",
        "empty.txt",
        "out_link",
        "src/",
        "src_link/",
        "(4 entries hidden by .gitignore/.glasscoderignore rules)",
    ]


def test_list_directory_subdirectory_and_empty(root: Path, ctx: ToolContext) -> None:
    assert ListDirectory().run({"path": "src/pkg"}, ctx).text == "__init__.py\ntypes.ts\nutil.py"
    (root / "hollow").mkdir()
    assert ListDirectory().run({"path": "hollow"}, ctx).text == "(empty directory)"
    (root / "logs").mkdir()
    (root / "logs" / "a.log").write_text("")
    assert ListDirectory().run({"path": "logs"}, ctx).text == (
        "(empty directory)\n(1 entry hidden by .gitignore/.glasscoderignore rules)"
    )


def test_list_directory_errors(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="use read_file"):
        ListDirectory().run({"path": "README.md"}, ctx)
    with pytest.raises(ToolError, match="no such directory"):
        ListDirectory().run({"path": "nope"}, ctx)
    with pytest.raises(WorkspaceError, match="glasscoderignore"):
        ListDirectory().run({"path": "private"}, ctx)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        ListDirectory().run({"path": "out_link"}, ctx)


def test_list_directory_output_limit(root: Path) -> None:
    for i in range(300):
        (root / f"file_{i:03d}.txt").write_text("")
    text = ListDirectory().run({}, make_ctx(root, output_limit=500)).text
    assert len(text) <= 500
    assert "output cut at 500 characters" in text


# --- glob ---------------------------------------------------------------------------------


def glob(ctx: ToolContext, pattern: str, path: str | None = None) -> list[str]:
    args = {"pattern": pattern} if path is None else {"pattern": pattern, "path": path}
    return Glob().run(args, ctx).text.split("\n")


def test_glob_patterns(ctx: ToolContext) -> None:
    assert glob(ctx, "**/*.py") == ["src/app.py", "src/pkg/__init__.py", "src/pkg/util.py"]
    assert glob(ctx, "*.md") == ["CHANGES.md", "README.md"]  # top level only
    assert glob(ctx, "**/*.md") == ["CHANGES.md", "README.md", "docs/guide.md"]
    assert glob(ctx, "src/**/*.{py,ts}") == [
        "src/app.py",
        "src/pkg/__init__.py",
        "src/pkg/types.ts",
        "src/pkg/util.py",
    ]
    assert glob(ctx, "src/pkg/[tu]*") == ["src/pkg/types.ts", "src/pkg/util.py"]
    assert glob(ctx, "./docs/*") == ["docs/guide.md"]


def test_glob_path_argument_gives_workspace_relative_results(ctx: ToolContext) -> None:
    assert glob(ctx, "*.py", "src/pkg") == ["src/pkg/__init__.py", "src/pkg/util.py"]
    assert glob(ctx, "pkg/*.ts", "src") == ["src/pkg/types.ts"]
    assert glob(ctx, "*.py", "src_link") == ["src/app.py"]


def test_glob_never_shows_hidden_or_outside_files(ctx: ToolContext) -> None:
    everything = glob(ctx, "**")
    assert everything == [
        ".gitignore",
        ".glasscoderignore",
        "CHANGES.md",
        "README.md",
        "docs/guide.md",
        "empty.txt",
        "src/app.py",
        "src/pkg/__init__.py",
        "src/pkg/types.ts",
        "src/pkg/util.py",
    ]
    assert glob(ctx, "**/*.log") == ["No files match '**/*.log' in '.'."]
    with pytest.raises(WorkspaceError, match="git's internal"):
        glob(ctx, ".git/*")
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        glob(ctx, "out_link/*.py")


def test_glob_caps_results(root: Path, ctx: ToolContext) -> None:
    (root / "many").mkdir()
    for i in range(520):
        (root / "many" / f"f{i:04d}.txt").write_text("")
    lines = glob(ctx, "many/*.txt")
    assert len(lines) == 501
    assert lines[0] == "many/f0000.txt" and lines[499] == "many/f0499.txt"
    assert lines[500] == (
        "... 20 more files not shown (first 500 of 520); use a narrower pattern or path"
    )


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("../*", r"cannot contain '\.\.'"), ("/etc/*", "relative"), ("", "relative")],
)
def test_glob_rejects_escaping_patterns(ctx: ToolContext, pattern: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        glob(ctx, pattern)


def test_glob_path_must_be_a_directory(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="not a directory"):
        glob(ctx, "*", "README.md")
