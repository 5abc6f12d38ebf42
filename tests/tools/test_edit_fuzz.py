"""Property tests: matching and editing never crash, and exact unique edits are plain replaces."""

import re
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from glasscoder.tools.base import ToolContext, ToolError
from glasscoder.tools.edit import EditFile, apply_edit
from glasscoder.tools.fuzzy import find_unique
from glasscoder.workspace import Workspace, WorkspaceError

# Few distinct characters, so random old_strings often occur (once or several times) and
# the whitespace fallbacks get exercised.
LF_TEXT = st.text(alphabet="ab \t\n", max_size=60)
ANY_TEXT = st.text(alphabet=st.sampled_from("ab \t\n\r\u00e9\u2028\x0c"), max_size=60)
FUZZ = settings(max_examples=200, deadline=None)


@st.composite
def edit_case(draw, texts):
    """(text, old, new) where old is often a slice of text, so exact matches are common."""
    text = draw(texts)
    if text and draw(st.booleans()):
        start = draw(st.integers(0, len(text) - 1))
        old = text[start : draw(st.integers(start + 1, len(text)))]
    else:
        old = draw(texts)
    return text, old, draw(texts)


def starts_of(text: str, old: str) -> list[int]:
    return [i for i in range(len(text)) if text.startswith(old, i)]


def crlf_dominant(text: str) -> bool:
    crlf = text.count("\r\n")
    return crlf > text.count("\n") - crlf


@FUZZ
@given(edit_case(LF_TEXT))
def test_exact_unique_edit_is_replace_once(case):
    text, old, new = case
    try:
        result = apply_edit(text, old, new).text
    except ToolError:
        # Refusing is only allowed when old is not uniquely and exactly there, or changes nothing.
        assert len(starts_of(text, old)) != 1 or old == new or not old
        return
    if len(starts_of(text, old)) == 1:
        assert result == text.replace(old, new, 1)


@FUZZ
@given(edit_case(ANY_TEXT))
def test_any_text_never_crashes_and_crlf_files_get_crlf(case):
    text, old, new = case
    try:
        result = apply_edit(text, old, new).text
    except ToolError:
        return
    if len(starts_of(text, old)) == 1:
        expected_new = re.sub(r"(?<!\r)\n", "\r\n", new) if crlf_dominant(text) else new
        assert result == text.replace(old, expected_new, 1)


@FUZZ
@given(st.text(max_size=80), st.text(max_size=20))
def test_find_unique_on_arbitrary_unicode_only_raises_tool_error(text, needle):
    try:
        match = find_unique(text, needle)
    except ToolError as e:
        assert str(e)  # the model always gets an explanation
        return
    assert 0 <= match.start <= match.end <= len(text)


@settings(max_examples=100, deadline=None)
@given(edit_case(ANY_TEXT))
def test_edit_file_tool_only_raises_model_fixable_errors(case):
    text, old, new = case
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "f.txt"
        path.write_bytes(text.encode())
        ctx = ToolContext(workspace=Workspace(root), sandbox=None)
        args = {"path": "f.txt", "old_string": old, "new_string": new}
        try:
            obs = EditFile().run(args, ctx)
        except (ToolError, WorkspaceError):
            return
        assert obs.files_changed == ["f.txt"]
        on_disk = path.read_bytes().decode()
        if len(starts_of(text, old)) == 1:
            expected_new = re.sub(r"(?<!\r)\n", "\r\n", new) if crlf_dominant(text) else new
            assert on_disk == text.replace(old, expected_new, 1)
