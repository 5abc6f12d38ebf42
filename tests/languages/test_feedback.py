"""Lint after edits: real ruff through a sandbox; only the problems an edit introduced."""

import sys
from pathlib import Path

import pytest

from glasscoder.languages.diagnostics import Diagnostic
from glasscoder.languages.feedback import MAX_SHOWN, EditFeedback, introduced
from glasscoder.sandbox.none import NoSandbox
from glasscoder.tools.base import ToolContext
from glasscoder.tools.edit import EditFile, WriteFile
from glasscoder.workspace import Workspace

VENV_BIN = str(Path(sys.executable).parent)
BEFORE = "import os\n\n\ndef f():\n    return 1\n"


class CountingSandbox(NoSandbox):
    """The `none` backend, remembering each command it ran."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def run(self, argv, cwd, env, limits):
        self.calls.append(argv)
        return super().run(argv, cwd, env, limits)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{VENV_BIN}:/usr/bin:/bin")
    # Pin ruff's rules so a config file in a parent folder cannot change them.
    (tmp_path / "ruff.toml").write_text('[lint]\nselect = ["F"]\n')
    (tmp_path / "app.py").write_text(BEFORE)
    return tmp_path


def context(root, sandbox=None):
    ws = Workspace(root)
    box = sandbox or CountingSandbox()
    return ToolContext(workspace=ws, sandbox=box, feedback=EditFeedback(ws.root, box))


def edit(ctx, old, new, path="app.py"):
    return EditFile().run({"path": path, "old_string": old, "new_string": new}, ctx).text


def test_only_the_new_problem_is_shown(repo):
    text = edit(context(repo), "    return 1\n", "    return y\n")
    assert text.endswith(
        "The edit introduced 1 problem in app.py (ruff):\n"
        "  line 5:12: error F821: Undefined name `y`"
    )
    assert "F401" not in text  # `import os` was unused before the edit too


def test_problems_that_only_moved_are_not_new(repo):
    (repo / "app.py").write_text("import os\n\n\ndef f():\n    return y\n")
    text = edit(context(repo), "import os\n", "# header\n# more\n\nimport os\n")
    assert text.startswith("Edited app.py") and "introduced" not in text


def test_a_repeated_problem_counts_once_per_occurrence(repo):
    (repo / "app.py").write_text("def f():\n    return y + y\n")
    text = edit(context(repo), "return y + y", "return y + y + y")
    # The rewritten line's two old problems explain two of its three new ones.
    assert "introduced 1 problem in app.py" in text
    (repo / "b.py").write_text("def f():\n    return y\n\n\ndef g():\n    return 2\n")
    text = edit(context(repo), "    return 2\n", "    return y\n", path="b.py")
    assert "introduced 1 problem in b.py" in text and "line 6:12" in text


def test_a_new_file_shows_all_its_problems(repo):
    ctx = context(repo)
    obs = WriteFile().run({"path": "new.py", "content": "import sys\nprint(z)\n"}, ctx)
    assert "introduced 2 problems in new.py" in obs.text
    assert obs.text.index("F821") < obs.text.index("F401")  # errors first


def test_fixing_a_problem_says_nothing(repo):
    (repo / "app.py").write_text("def f():\n    return y\n")
    assert "introduced" not in edit(context(repo), "return y", "return 1")


def test_long_lists_are_capped(repo):
    names = " + ".join(f"u{i}" for i in range(MAX_SHOWN + 5))
    text = edit(context(repo), "return 1", f"return {names}")
    assert f"introduced {MAX_SHOWN + 5} problems" in text
    assert text.count("\n  line ") == MAX_SHOWN and text.endswith("... and 5 more")


def test_lint_runs_through_the_sandbox_once_per_file_version(repo):
    box = CountingSandbox()
    ctx = context(repo, box)
    edit(ctx, "return 1", "return 2")  # lints the old and the new version
    edit(ctx, "return 2", "return 3")  # the old version is the previous new one: cached
    assert len(box.calls) == 3
    assert all(Path(argv[0]).name == "ruff" and argv[-1] == "app.py" for argv in box.calls)


def test_no_feedback_without_a_linter_or_without_the_hook(repo, monkeypatch):
    (repo / "notes.txt").write_text("a\n")
    assert (
        edit(context(repo), "a", "b", path="notes.txt")
        == "Edited notes.txt: 1 replacement\n     1\tb"
    )
    plain = ToolContext(workspace=Workspace(repo), sandbox=NoSandbox())
    assert "introduced" not in edit(plain, "return 1", "return y")
    monkeypatch.setenv("PATH", "/nonexistent")  # ruff missing: the edit still works, silently
    (repo / "c.py").write_text("x = 1\n")
    assert edit(context(repo), "x = 1", "x = q", path="c.py").startswith("Edited c.py")


def _d(line, message="Undefined name `y`", rule="F821"):
    return Diagnostic("a.py", line, 1, rule, "error", message, "ruff")


def test_introduced_matches_by_text_when_lines_cannot_be_mapped():
    before = "a\nreturn y\n"
    after = "b\nc\nd\nreturn y\n"  # the first line changed, the problem line moved
    assert introduced([_d(2)], [_d(4)], before, after) == []
    assert introduced([_d(2)], [_d(4, rule="F822")], before, after) == [_d(4, rule="F822")]


def test_introduced_ignores_line_numbers_inside_messages():
    old = [_d(5, "redefinition of unused `x` from line 1", "F811")]
    new = [_d(7, "redefinition of unused `x` from line 3", "F811")]
    assert introduced(old, new, "x\n\n\n\nx\n", "#\n#\nx\n\n\n\nx\n") == []


def test_through_the_real_bwrap_sandbox(repo):
    from glasscoder.sandbox.choose import bwrap_status, make_bwrap

    if not bwrap_status().ok:
        pytest.skip("bwrap does not work here")
    text = edit(context(repo, make_bwrap()), "    return 1\n", "    return y\n")
    assert text.endswith("line 5:12: error F821: Undefined name `y`")
