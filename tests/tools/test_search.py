"""grep with ripgrep and with the Python fallback: same output, nothing hidden leaks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from glasscoder.tools import search
from glasscoder.tools.base import ToolContext, ToolError, schema_for
from glasscoder.tools.search import Grep, find_rg
from glasscoder.workspace import Workspace, WorkspaceError
from tests.helpers import write_files

BACKENDS = [
    pytest.param(True, id="rg", marks=pytest.mark.skipif(find_rg() is None, reason="no rg")),
    pytest.param(False, id="python"),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write_files(
        root,
        {
            ".gitignore": ".env\nbuild/\n",
            ".glasscoderignore": "private/\n",
            ".env": "TOKEN = 'needle-in-env'\n",
            "build/gen.py": "needle = 'built'\n",
            "private/notes.txt": "needle private\n",
            "data/big.csv": "needle,1\n",
            "src/a.py": "import os\n\ndef needle():\n    return 1\n\n\nprint(needle())\n",
            "src/b.py": "# NEEDLE in capitals\n",
            "src/sub/.gitignore": "local.py\n",
            "src/sub/local.py": "needle = 'local'\n",
            "src/sub/c.ts": "const needle = 1;\n",
            "README.md": "needle docs\n",
            "image.bin": b"needle\0\x01\x02",
            "latin1.txt": "caf\xe9 needle\n".encode("latin-1"),
        },
    )
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("needle in git config\n")
    outside = tmp_path / "outside"
    write_files(outside, {"secret.py": "needle = 'OUTSIDE'\n"})
    (root / "out_dir").symlink_to(outside)
    (root / "out_file.py").symlink_to(outside / "secret.py")
    return root


@pytest.fixture(params=BACKENDS)
def grep(request: pytest.FixtureRequest) -> Grep:
    return Grep(use_ripgrep=request.param)


def make_ctx(root: Path, output_limit: int = 16_000) -> ToolContext:
    ws = Workspace(root, extra_ignores=["*.csv"])
    return ToolContext(workspace=ws, sandbox=None, output_limit=output_limit)


@pytest.fixture
def ctx(root: Path) -> ToolContext:
    return make_ctx(root)


def test_declaration() -> None:
    entry = schema_for(Grep())
    assert entry["function"]["name"] == "grep"
    assert entry["function"]["parameters"]["required"] == ["pattern"]
    assert set(entry["function"]["parameters"]["properties"]) == {
        "pattern",
        "path",
        "glob",
        "ignore_case",
        "context",
        "max_results",
    }
    assert Grep.read_only is True and Grep.runs_commands is False


def test_ripgrep_from_the_environment_is_found() -> None:
    rg = find_rg()
    if rg is None:
        pytest.skip("the ripgrep wheel is not installed")
    version = subprocess.run([rg, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("ripgrep ")


def test_falls_back_when_rg_cannot_run(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "find_rg", lambda root=None: "/nonexistent/rg")
    text = Grep().run({"pattern": "def needle"}, ctx).text
    assert text == "src/a.py:3:def needle():"
    with pytest.raises(RuntimeError, match="could not be run"):
        Grep(use_ripgrep=True).run({"pattern": "def needle"}, ctx)


def test_matches_grouped_per_file_without_hidden_or_outside(grep: Grep, ctx: ToolContext) -> None:
    text = grep.run({"pattern": "needle"}, ctx).text
    assert text == (
        "README.md:1:needle docs\n"
        "\n"
        "latin1.txt:1:caf\ufffd needle\n"
        "\n"
        "src/a.py:3:def needle():\n"
        "src/a.py:7:print(needle())\n"
        "\n"
        "src/sub/c.ts:1:const needle = 1;"
    )
    for hidden in ("env", "built", "private", "big.csv", "git config", "OUTSIDE", "image.bin"):
        assert hidden not in text


def test_context_lines_and_separators(grep: Grep, ctx: ToolContext) -> None:
    text = grep.run({"pattern": "needle", "path": "src/a.py", "context": 1}, ctx).text
    assert text == (
        "src/a.py-2-\n"
        "src/a.py:3:def needle():\n"
        "src/a.py-4-    return 1\n"
        "--\n"
        "src/a.py-6-\n"
        "src/a.py:7:print(needle())"
    )


def test_ignore_case_and_glob(grep: Grep, ctx: ToolContext) -> None:
    text = grep.run({"pattern": "needle", "ignore_case": True, "glob": "*.py"}, ctx).text
    assert text == (
        "src/a.py:3:def needle():\nsrc/a.py:7:print(needle())\n\nsrc/b.py:1:# NEEDLE in capitals"
    )
    text = grep.run({"pattern": "needle", "glob": "src/**/*.ts"}, ctx).text
    assert text == "src/sub/c.ts:1:const needle = 1;"
    text = grep.run({"pattern": "needle", "glob": "!*.py", "path": "src"}, ctx).text
    assert text == "src/sub/c.ts:1:const needle = 1;"


@pytest.mark.parametrize("glob", [".env", "*.csv", "build/*", "local.py", "*.bin", "config"])
def test_glob_cannot_reveal_hidden_files(grep: Grep, ctx: ToolContext, glob: str) -> None:
    # ripgrep's --glob overrides its own ignore logic; the workspace's rules still apply.
    text = grep.run({"pattern": "needle", "glob": glob}, ctx).text
    assert text == f"No matches for 'needle' in '.' in files matching '{glob}'."


def test_max_results_cap(grep: Grep, root: Path, ctx: ToolContext) -> None:
    write_files(root, {"many.txt": "".join(f"hit {i}\n" for i in range(1, 11))})
    text = grep.run({"pattern": "hit", "max_results": 3}, ctx).text
    assert text == (
        "many.txt:1:hit 1\n"
        "many.txt:2:hit 2\n"
        "many.txt:3:hit 3\n"
        "... 7 more matches not shown (showing the first 3); "
        "narrow the pattern, path or glob, or raise max_results"
    )


def test_default_cap_is_100(grep: Grep, root: Path, ctx: ToolContext) -> None:
    write_files(root, {"many.txt": "hit\n" * 150})
    lines = grep.run({"pattern": "hit"}, ctx).text.split("\n")
    assert len(lines) == 101
    assert lines[-1].startswith("... 50 more matches not shown (showing the first 100)")


def test_no_matches(grep: Grep, ctx: ToolContext) -> None:
    assert grep.run({"pattern": "zebra"}, ctx).text == "No matches for 'zebra' in '.'."
    text = grep.run({"pattern": "zebra", "glob": "*.py"}, ctx).text
    assert text == "No matches for 'zebra' in '.' in files matching '*.py'."


def test_invalid_regex(grep: Grep, ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match=r"invalid regex 'needle\('"):
        grep.run({"pattern": "needle("}, ctx)


def test_pattern_that_looks_like_a_flag(grep: Grep, root: Path, ctx: ToolContext) -> None:
    write_files(root, {"flags.txt": "use --follow here\n"})
    text = grep.run({"pattern": "--follow"}, ctx).text
    assert text == "flags.txt:1:use --follow here"


def test_long_lines_are_cut(grep: Grep, root: Path, ctx: ToolContext) -> None:
    write_files(root, {"min.js": "f(x);" * 160 + "needle\n"})
    text = grep.run({"pattern": "needle", "path": "min.js"}, ctx).text
    assert text == "min.js:1:" + "f(x);" * 100 + " [... 306 more characters]"


def test_output_limit(grep: Grep, root: Path) -> None:
    write_files(root, {"many.txt": "".join(f"needle line {i}\n" for i in range(200))})
    text = grep.run({"pattern": "needle", "path": "many.txt"}, make_ctx(root, 400)).text
    assert len(text) <= 400
    assert text.startswith("many.txt:1:needle line 0\n")
    assert "output cut at 400 characters" in text


def test_path_errors(grep: Grep, ctx: ToolContext) -> None:
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        grep.run({"pattern": "needle", "path": "out_dir"}, ctx)
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        grep.run({"pattern": "needle", "path": "../outside"}, ctx)
    with pytest.raises(WorkspaceError, match=r"ignored by \.gitignore"):
        grep.run({"pattern": "needle", "path": "build"}, ctx)
    with pytest.raises(WorkspaceError, match="may hold credentials"):
        grep.run({"pattern": "needle", "path": ".env"}, ctx)
    with pytest.raises(WorkspaceError, match="git's internal"):
        grep.run({"pattern": "needle", "path": ".git"}, ctx)
    with pytest.raises(ToolError, match="no such file or directory"):
        grep.run({"pattern": "needle", "path": "nope"}, ctx)
    with pytest.raises(ToolError, match="'context' must be at least 0 and at most 20"):
        grep.run({"pattern": "needle", "context": 99}, ctx)
    with pytest.raises(ToolError, match="must not be empty"):
        grep.run({"pattern": ""}, ctx)


def test_binary_files_are_skipped_even_when_named(grep: Grep, ctx: ToolContext) -> None:
    text = grep.run({"pattern": "needle", "path": "image.bin"}, ctx).text
    assert text == "No matches for 'needle' in 'image.bin'."


def test_ripgrep_user_config_cannot_add_follow(
    root: Path, ctx: ToolContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if find_rg() is None:
        pytest.skip("no rg")
    config = tmp_path / "rgrc"
    config.write_text("--follow\n--no-ignore\n")
    monkeypatch.setenv("RIPGREP_CONFIG_PATH", str(config))
    text = Grep(use_ripgrep=True).run({"pattern": "OUTSIDE"}, ctx).text
    assert text == "No matches for 'OUTSIDE' in '.'."


def test_count_stops_at_the_ceiling(
    grep: Grep, root: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "COUNT_CEILING", 5)
    write_files(root, {f"many/{i:02d}.txt": "hit\nhit\n" for i in range(20)})
    lines = grep.run({"pattern": "hit", "max_results": 2}, ctx).text.split("\n")
    assert lines[:2] == ["many/00.txt:1:hit", "many/00.txt:2:hit"]
    assert lines[2].startswith("... 6+ more matches not shown")


def test_backends_agree(root: Path) -> None:
    if find_rg() is None:
        pytest.skip("no rg")
    write_files(
        root,
        {
            "a-b.txt": "alpha\n",
            "a.txt": "alpha beta\nALPHA\n",
            "a/z.txt": "alpha\n",
            "ab/.gitignore": "*.tmp\n!keep.tmp\n",
            "ab/x.tmp": "alpha\n",
            "ab/keep.tmp": "alpha\n",
            "crlf.txt": b"alpha\r\nbeta\r\n",
            "ctx.txt": "".join(f"{'alpha' if i % 7 == 0 else 'line'} {i}\n" for i in range(60)),
        },
    )
    ctx = make_ctx(root)
    queries = [
        {"pattern": "alpha"},
        {"pattern": "^alpha$"},
        {"pattern": "alpha", "ignore_case": True, "context": 2},
        {"pattern": r"\d+", "max_results": 7},
        {"pattern": "needle", "glob": "**/*.py"},
        {"pattern": "e", "path": "src"},
    ]
    for query in queries:
        with_rg = Grep(use_ripgrep=True).run(query, ctx).text
        assert with_rg == Grep(use_ripgrep=False).run(query, ctx).text, query


def test_a_fifo_as_the_search_path_is_refused(grep: Grep, root: Path, ctx: ToolContext) -> None:
    # ripgrep opens an explicitly named FIFO and blocks until the search timeout (60 s).
    os.mkfifo(root / "pipe")
    with pytest.raises(ToolError, match="not a regular file or a directory"):
        grep.run({"pattern": "x", "path": "pipe"}, ctx)
