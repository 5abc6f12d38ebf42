"""Edits whose old and new text use another indentation style than the file (tabs against
spaces, 4 spaces against 2): every line written takes the file's style, level by level."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from glasscoder.tools.edit import apply_edit
from glasscoder.tools.fuzzy import indent_unit

UNITS = ["\t", "  ", "    "]


def render(tree: list[tuple[int, str]], unit: str) -> str:
    return "".join(f"{unit * depth}{text}\n" for depth, text in tree)


def test_a_tab_indented_python_file_stays_tabs_and_compiles() -> None:
    text = "class A:\n\tdef f(self):\n\t\tif x:\n\t\t\treturn 1\n\t\treturn 0\n"
    edit = apply_edit(text, "    def f(self):\n        if x:\n            return 1\n",
                      "    def f(self):\n        if x and y:\n            return 2\n"
                      "        elif z:\n            return 3\n")  # fmt: skip
    assert edit.text == ("class A:\n\tdef f(self):\n\t\tif x and y:\n\t\t\treturn 2\n"
                         "\t\telif z:\n\t\t\treturn 3\n\t\treturn 0\n")  # fmt: skip
    compile(edit.text, "a.py", "exec")


def test_a_two_space_file_edited_in_four_spaces() -> None:
    text = "function f() {\n  if (a) {\n    return 1;\n  }\n  return 0;\n}\n"
    edit = apply_edit(text, "    if (a) {\n        return 1;\n    }\n",
                      "    if (a) {\n        log(a);\n        return 2;\n    }\n")  # fmt: skip
    assert (
        edit.text == "function f() {\n  if (a) {\n    log(a);\n    return 2;\n  }\n  return 0;\n}\n"
    )


def test_the_unit_is_told_from_the_steps() -> None:
    assert indent_unit(["a", "\tb", "\t\tc"]) == "\t"
    assert indent_unit(["a", "  b", "    c", "  d"]) == "  "
    assert indent_unit(["f(a,", "       b)", "x", "    y", "        z"]) in ("    ", "       ")
    assert indent_unit(["a", "\t  b"]) == ""  # mixed: not told


def _nested(items: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Depths that deepen one level at a time, all indented (under a first-level block)."""
    tree: list[tuple[int, str]] = []
    for depth, text in items:
        tree.append((min(depth, tree[-1][0] if tree else 0) + 1, text))
    return tree


trees = st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["a()", "b = 1", "if c:", "d"])),
                 min_size=2, max_size=8).map(_nested)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(tree=trees, file_unit=st.sampled_from(UNITS), model_unit=st.sampled_from(UNITS),
       extra=st.tuples(st.integers(0, 3), st.text("xyz", min_size=1, max_size=3)))  # fmt: skip
def test_the_applier_writes_the_intended_file_in_its_own_style_or_refuses(
    tree: list[tuple[int, str]], file_unit: str, model_unit: str, extra: tuple[int, str]
) -> None:
    """Old text = an indented block, new text = the same with a line added; both in the
    model's style. The result is exactly the intended file in the file's style, or a refusal.
    (New lines in another style after an exact match of unindented text are not converted
    yet: see the issue's notes.)"""
    head = [(0, "start")]
    old_tree = tree
    depth = max(1, min(extra[0], old_tree[-1][0] + 1))
    new_tree = [*old_tree, (depth, "added_" + extra[1])]
    text = render(head + old_tree, file_unit) + "end\n"
    try:
        edit = apply_edit(text, render(old_tree, model_unit), render(new_tree, model_unit))
    except Exception:
        return  # a refusal (e.g. the old text occurs twice) is allowed, a wrong edit is not
    assert edit.text == render(head + new_tree, file_unit) + "end\n"


# Class 9: lines the model kept are written as the file has them, trailing blanks included.
def test_context_lines_keep_the_files_trailing_blanks() -> None:
    text = "def f():   \n    a = 1\t\n    b = 2  \n    return a\n"
    edit = apply_edit(text, "def f():\n    a = 1\n    b = 2\n", "def f():\n    a = 1\n    b = 3\n")
    assert edit.text == "def f():   \n    a = 1\t\n    b = 3\n    return a\n"


def test_crlf_context_lines_stay_byte_for_byte() -> None:
    text = "x = 1  \r\ny = 2\r\nz = 3\r\n"
    assert (
        apply_edit(text, "x = 1\ny = 2\n", "x = 1\ny = 5\n").text == "x = 1  \r\ny = 5\r\nz = 3\r\n"
    )


blanks = st.sampled_from(["", " ", "  ", "\t", " \t"])


@settings(max_examples=150, deadline=None)
@given(words=st.lists(st.text("abcdefg=() ", min_size=1, max_size=12).map(str.strip)
                      .filter(bool), min_size=3, max_size=8, unique=True),
       trailing=st.lists(blanks, min_size=8, max_size=8), changed=st.integers(0, 7))  # fmt: skip
def test_only_the_changed_line_differs_from_the_file(words: list[str], trailing: list[str],
                                                     changed: int) -> None:  # fmt: skip
    """The file has trailing blanks the model's copy lacks; one line is changed. The result is
    the file with that line changed and every other byte as it was, or a refusal."""
    changed %= len(words)
    text = "".join(f"{w}{t}\n" for w, t in zip(words, trailing, strict=False)) + "tail\n"
    old = "".join(f"{w}\n" for w in words)
    new_words = [w if i != changed else w + " + 1" for i, w in enumerate(words)]
    new = "".join(f"{w}\n" for w in new_words)
    try:
        edit = apply_edit(text, old, new)
    except Exception:
        return
    expected = "".join(
        f"{w}{t if i != changed else ''}\n"
        for i, (w, t) in enumerate(zip(new_words, trailing, strict=False))
    )
    assert edit.text == expected + "tail\n"
