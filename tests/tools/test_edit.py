"""write_file and edit_file on real files through the Workspace."""

import ast
import os
import stat

import pytest

from glasscoder.tools.base import ToolContext, ToolError
from glasscoder.tools.edit import EditFile, WriteFile, snippet
from glasscoder.workspace import Workspace, WorkspaceError

MODULE = (
    "import math\n"
    "\n"
    "\n"
    "class Circle:\n"
    "    def __init__(self, r):\n"
    "        self.r = r\n"
    "\n"
    "    def area(self):\n"
    "        return math.pi * self.r ** 2\n"
    "\n"
    "    def perimeter(self):\n"
    "        return 2 * math.pi * self.r\n"
)


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(workspace=Workspace(tmp_path, extra_ignores=["secret.txt"]), sandbox=None)


def edit(ctx, path, old, new, **extra):
    return EditFile().run({"path": path, "old_string": old, "new_string": new, **extra}, ctx)


def test_write_file_creates_then_overwrites(ctx, tmp_path):
    first = WriteFile().run({"path": "pkg/a.py", "content": "x = 1\ny = 2\n"}, ctx)
    assert (first.text, first.files_changed, first.is_error) == (
        "Created pkg/a.py (2 lines)",
        ["pkg/a.py"],
        False,
    )
    second = WriteFile().run({"path": "pkg/a.py", "content": "z = 3"}, ctx)
    assert second.text == "Overwrote pkg/a.py (1 line)"
    assert (tmp_path / "pkg" / "a.py").read_text() == "z = 3"


def test_write_file_needs_its_arguments(ctx):
    with pytest.raises(ToolError, match="missing required argument 'content'"):
        WriteFile().run({"path": "a.py"}, ctx)


def test_unique_exact_edit_changes_file_and_shows_numbered_snippet(ctx, tmp_path):
    (tmp_path / "circle.py").write_text(MODULE)
    obs = edit(ctx, "circle.py", "return 2 * math.pi * self.r", "return math.tau * self.r")
    assert obs.files_changed == ["circle.py"]
    assert (tmp_path / "circle.py").read_text() == MODULE.replace(
        "2 * math.pi * self.r", "math.tau * self.r"
    )
    header, *body = obs.text.splitlines()
    assert header == "Edited circle.py: 1 replacement"
    # Line 12 changed: lines 9-11 of context before it, none after (end of file).
    assert body == [
        "     9\t        return math.pi * self.r ** 2",
        "    10\t",
        "    11\t    def perimeter(self):",
        "    12\t        return math.tau * self.r",
    ]


def test_snippet_has_three_lines_of_context_each_side():
    text = "".join(f"line {i}\n" for i in range(1, 21))
    start = text.index("line 10")
    shown = snippet(text, [(start, start + len("line 10\n"))])
    assert [row.split("\t")[0].strip() for row in shown.splitlines()] == [
        str(n) for n in range(7, 14)
    ]


def test_duplicate_old_string_is_refused_with_line_numbers(ctx, tmp_path):
    (tmp_path / "circle.py").write_text(MODULE)
    with pytest.raises(ToolError) as err:
        edit(ctx, "circle.py", "math.pi", "math.tau")
    assert "occurs 2 times (lines 9, 12)" in str(err.value)
    assert (tmp_path / "circle.py").read_text() == MODULE


def test_missing_old_string_shows_similar_region(ctx, tmp_path):
    (tmp_path / "circle.py").write_text(MODULE)
    with pytest.raises(ToolError) as err:
        edit(ctx, "circle.py", "def area(self):\n    return math.pi * r ** 2", "pass")
    assert "most similar region is lines 8-9" in str(err.value)
    assert (tmp_path / "circle.py").read_text() == MODULE


def test_indentation_tolerant_edit_reindents_python(ctx, tmp_path):
    (tmp_path / "circle.py").write_text(MODULE)
    old = "def area(self):\n    return math.pi * self.r ** 2\n"
    new = "def area(self):\n    r2 = self.r * self.r\n    return math.pi * r2\n"
    obs = edit(ctx, "circle.py", old, new)
    assert "matched ignoring indentation; new text re-indented by 4 spaces" in obs.text
    result = (tmp_path / "circle.py").read_text()
    assert (
        "    def area(self):\n"
        "        r2 = self.r * self.r\n"
        "        return math.pi * r2\n"
        "\n"
        "    def perimeter(self):\n"
    ) in result
    ast.parse(result)  # still valid Python


def test_trailing_whitespace_in_file_is_tolerated(ctx, tmp_path):
    (tmp_path / "t.txt").write_text("alpha  \nbeta\t\ngamma\n")
    obs = edit(ctx, "t.txt", "alpha\nbeta\n", "ALPHA\nBETA\n")
    assert "matched ignoring trailing whitespace" in obs.text
    assert (tmp_path / "t.txt").read_text() == "ALPHA\nBETA\ngamma\n"


def test_crlf_file_keeps_crlf(ctx, tmp_path):
    (tmp_path / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    edit(ctx, "w.txt", "one\ntwo\n", "uno\ndos\nmas\n")
    assert (tmp_path / "w.txt").read_bytes() == b"uno\r\ndos\r\nmas\r\nthree\r\n"


def test_crlf_file_single_line_edit_converts_new_lines(ctx, tmp_path):
    (tmp_path / "w.txt").write_bytes(b"a\r\nb\r\n")
    edit(ctx, "w.txt", "b", "b\nc")
    assert (tmp_path / "w.txt").read_bytes() == b"a\r\nb\r\nc\r\n"


def test_replace_all(ctx, tmp_path):
    (tmp_path / "circle.py").write_text(MODULE)
    obs = edit(ctx, "circle.py", "self.r", "self.radius", replace_all=True)
    assert obs.text.startswith("Edited circle.py: 3 replacements\n")
    text = (tmp_path / "circle.py").read_text()
    assert text.count("self.radius") == 3 and "self.r " not in text


def test_empty_old_string_creates_missing_file(ctx, tmp_path):
    obs = edit(ctx, "new/notes.md", "", "# Notes\n")
    assert obs.text == "Created new/notes.md (1 line)"
    assert (tmp_path / "new" / "notes.md").read_text() == "# Notes\n"


def test_empty_old_string_fills_an_empty_file(ctx, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    edit(ctx, "empty.txt", "", "content\n")
    assert (tmp_path / "empty.txt").read_text() == "content\n"


def test_empty_old_string_on_non_empty_file_is_refused(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("keep me\n")
    with pytest.raises(ToolError, match="already has content"):
        edit(ctx, "a.txt", "", "replaced\n")
    assert (tmp_path / "a.txt").read_text() == "keep me\n"


def test_identical_strings_are_refused(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(ToolError, match="identical"):
        edit(ctx, "a.txt", "x", "x")


def test_deleting_text(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("1\n2\n3\n")
    obs = edit(ctx, "a.txt", "2\n", "")
    assert (tmp_path / "a.txt").read_text() == "1\n3\n"
    assert "     2\t3" in obs.text


def test_file_mode_is_preserved(ctx, tmp_path):
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    os.chmod(script, 0o755)
    edit(ctx, "run.sh", "echo old", "echo new")
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_workspace_errors_propagate(ctx, tmp_path):
    (tmp_path / "secret.txt").write_text("token\n")
    with pytest.raises(WorkspaceError):
        edit(ctx, "secret.txt", "token", "stolen")
    with pytest.raises(WorkspaceError):
        edit(ctx, "../outside.txt", "a", "b")
    with pytest.raises(WorkspaceError):
        edit(ctx, "missing.txt", "a", "b")
    assert (tmp_path / "secret.txt").read_text() == "token\n"


def test_directory_is_refused(ctx, tmp_path):
    (tmp_path / "pkg").mkdir()
    with pytest.raises(ToolError, match="is a directory"):
        edit(ctx, "pkg", "a", "b")


def test_replace_all_must_be_boolean(ctx, tmp_path):
    (tmp_path / "a.txt").write_text("a a\n")
    with pytest.raises(ToolError, match="true or false"):
        edit(ctx, "a.txt", "a", "b", replace_all=3)


def test_write_file_refuses_git_internals(ctx, tmp_path):
    (tmp_path / ".git").mkdir()
    with pytest.raises(WorkspaceError):
        WriteFile().run({"path": ".git/config", "content": "[core]\n"}, ctx)
    assert not (tmp_path / ".git" / "config").exists()


def test_snippet_elides_long_changes_and_caps_regions():
    text = "".join(f"{i}\n" for i in range(1, 301))
    long_change = snippet(text, [(text.index("\n10\n") + 1, text.index("\n110\n") + 1)])
    assert "lines not shown)" in long_change
    # Lines 10-109 changed: 3 lines of context each side, the middle elided.
    assert long_change.startswith("     7\t7\n") and long_change.endswith("   112\t112")
    assert "    60\t60" not in long_change
    starts = [text.index(f"\n{n}\n") + 1 for n in range(20, 300, 30)]
    many = snippet(text, [(s, s + 3) for s in starts])
    assert many.endswith("... and 5 more changed regions")
    assert many.count("\n...\n") == 5  # five regions shown, separated
