"""A model's huge argument gets a short, one-line answer: not echoed whole, never a crash.

Before: a 100,000-character path came back whole in the error (and one of 50,000 components
took minutes to resolve), and a regex of 200,000 characters gave "grep failed: RecursionError".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from glasscoder.agent.loop import _short_error
from glasscoder.tools.base import ToolContext, ToolError
from glasscoder.tools.registry import default_tools
from glasscoder.workspace import Workspace, WorkspaceError

LONG = "a" * 100_000
CASES = [
    ("read_file", {"path": LONG}),
    ("read_file", {"path": "d/" * 50_000}),
    ("list_directory", {"path": LONG}),
    ("write_file", {"path": LONG, "content": "x"}),
    ("edit_file", {"path": LONG, "old_string": "x", "new_string": "y"}),
    ("glob", {"pattern": LONG}),
    ("glob", {"pattern": "{a,b}" * 2_000}),
    ("grep", {"pattern": "x", "path": LONG}),
    ("grep", {"pattern": "x", "glob": LONG}),
    ("grep", {"pattern": "a" * 200_000}),
    ("grep", {"pattern": "(" * 100_000 + ")" * 100_000}),
    ("grep", {"pattern": "[" * 200_000}),
]


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    (tmp_path / "a.py").write_text("x = 1\n")
    return ToolContext(workspace=Workspace(tmp_path), sandbox=None)


@pytest.mark.parametrize(("tool", "args"), CASES, ids=lambda v: v if isinstance(v, str) else "")
def test_a_huge_argument_gets_a_short_one_line_answer(
    ctx: ToolContext, tool: str, args: dict[str, Any]
) -> None:
    tools = {t.name: t for t in default_tools()}
    try:
        text = tools[tool].run(args, ctx).text
    except (ToolError, WorkspaceError) as exc:
        text = str(exc)
    assert len(text) < 400 and "\n" not in text, text[:400]
    assert "RecursionError" not in text


def test_the_regex_too_deep_to_compile_is_named(ctx: ToolContext) -> None:
    grep = {t.name: t for t in default_tools()}["grep"]
    with pytest.raises(ToolError, match="nests too deeply to compile; use a simpler one"):
        grep.run({"pattern": "(" * 100_000 + ")" * 100_000}, ctx)


def test_any_long_tool_error_reaches_the_model_cut_in_the_middle() -> None:
    text = _short_error("no such file: '" + "b" * 100_000 + "' (see above)")
    assert len(text) < 2_100
    assert text.startswith("no such file: '") and text.endswith("(see above)")
    assert "characters cut" in text
