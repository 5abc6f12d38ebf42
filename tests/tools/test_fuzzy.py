"""find_unique / find_all: exact matches, the forgiving fallbacks, and the error messages."""

import pytest

from glasscoder.tools.base import ToolError
from glasscoder.tools.fuzzy import (
    EXACT,
    INDENTATION,
    LINE_ENDINGS,
    TRAILING_WHITESPACE,
    find_all,
    find_unique,
    newline_of,
    reindent,
    to_newline,
)

PY = (
    "class Greeter:\n"
    "    def greet(self, name):\n"
    "        if name:\n"
    "            return f'hi {name}'\n"
    "        return 'hi'\n"
    "\n"
    "    def leave(self):\n"
    "        return 'bye'\n"
)


def test_exact_unique_match_gives_the_span():
    m = find_unique(PY, "return 'bye'")
    assert (m.how, PY[m.start : m.end]) == (EXACT, "return 'bye'")
    assert m.describe() == ""
    assert m.adapt("return 'ciao'") == "return 'ciao'"


def test_duplicate_lists_count_and_line_numbers():
    with pytest.raises(ToolError) as err:
        find_unique(PY, "return")
    assert str(err.value) == (
        "old_string occurs 3 times (lines 4, 5, 8); "
        "add surrounding lines to make it unique or set replace_all"
    )


def test_overlapping_occurrences_are_ambiguous():
    with pytest.raises(ToolError, match="occurs 2 times"):
        find_unique("aaa", "aa")


def test_empty_needle_is_an_error():
    with pytest.raises(ToolError, match="empty"):
        find_unique(PY, "")


def test_indentation_tolerant_match_reindents_replacement():
    # The model dropped the class-level indentation when copying the method.
    old = "def leave(self):\n    return 'bye'\n"
    new = "def leave(self):\n    print('leaving')\n    return 'bye'\n"
    m = find_unique(PY, old)
    assert m.how == INDENTATION
    assert PY[m.start : m.end] == "    def leave(self):\n        return 'bye'\n"
    assert m.describe() == "matched ignoring indentation; new text re-indented by 4 spaces"
    assert m.adapt(new) == (
        "    def leave(self):\n        print('leaving')\n        return 'bye'\n"
    )


def test_over_indented_needle_is_dedented():
    old = "        def leave(self):\n            return 'bye'"
    m = find_unique(PY, old)
    assert m.describe() == "matched ignoring indentation; new text dedented by 4 spaces"
    assert m.adapt("        def leave(self):\n            return 1") == (
        "    def leave(self):\n        return 1"
    )


def test_reindent_handles_shallower_lines_and_tabs():
    assert reindent("a\n  b\n\nc", "", "\t") == "\ta\n\t  b\n\n\tc"
    assert reindent("    a\n  b", "    ", "  ") == "  a\nb"
    assert reindent("\ta\n\t\tb", "\t", "    ") == "    a\n    \tb"


def test_tabs_vs_spaces_is_described():
    text = "if x:\n\tdo()\n\tdone()\n"
    m = find_unique(text, "    do()\n    done()\n")
    assert m.how == INDENTATION
    assert m.describe().endswith("re-indented from 4 spaces to 1 tab")
    assert m.adapt("    redo()\n") == "\tredo()\n"


def test_trailing_whitespace_is_ignored_and_reported():
    text = "a = 1   \nb = 2\t\nc = 3\n"
    m = find_unique(text, "a = 1\nb = 2\n")
    assert (m.how, m.start, m.end) == (TRAILING_WHITESPACE, 0, text.index("c"))
    assert m.describe() == "matched ignoring trailing whitespace"


def test_crlf_file_with_lf_needle_matches_and_converts_replacement():
    text = "one\r\ntwo\r\nthree\r\n"
    m = find_unique(text, "one\ntwo\n")
    assert m.how == LINE_ENDINGS
    assert text[m.start : m.end] == "one\r\ntwo\r\n"
    assert m.adapt("1\n2\n") == "1\r\n2\r\n"


def test_crlf_needle_on_lf_file_matches_via_line_fallback():
    m = find_unique("one\ntwo\nthree\n", "one\r\ntwo\r\n")
    assert m.how == TRAILING_WHITESPACE
    assert (m.start, m.end) == (0, 8)
    assert "line endings" in m.describe()


def test_extra_final_newline_in_needle_at_eof_without_newline():
    text = "x = 1\ny = 2"
    m = find_unique(text, "x = 1\ny = 2\n")
    assert (m.start, m.end) == (0, len(text))
    # The file had no final newline, so the replacement does not gain one.
    assert m.adapt("x = 1\ny = 3\n") == "x = 1\ny = 3"


def test_missing_final_newline_in_needle_keeps_the_file_newline():
    text = "  a\n  b\nc\n"
    m = find_unique(text, "a\nb")
    assert text[m.start : m.end] == "  a\n  b"
    assert m.adapt("a\nB") == "  a\n  B"


def test_ambiguous_fallback_is_an_error_not_a_guess():
    text = "if a:\n    x()\nif b:\n        x()\n"
    with pytest.raises(ToolError) as err:
        find_unique(text, "\tx()\n")
    assert "ignoring indentation it matches 2 places (lines 2, 4)" in str(err.value)


def test_whitespace_only_needle_does_not_fuzzy_match_blank_lines():
    with pytest.raises(ToolError, match="not found"):
        find_unique("a\n\n\nb\n", " \n \n")


def test_not_found_shows_most_similar_region_and_diff():
    with pytest.raises(ToolError) as err:
        find_unique(PY, "def leave(self):\n    return 'goodbye'\n")
    msg = str(err.value)
    assert "most similar region is lines 7-8" in msg
    assert "     7\t    def leave(self):" in msg
    assert "     8\t        return 'bye'" in msg
    assert "- " in msg and "return 'goodbye'" in msg  # the model's line, marked as removed
    assert "+         return 'bye'" in msg  # the file's line, marked as added


def test_not_found_points_out_whitespace_inside_lines():
    with pytest.raises(ToolError) as err:
        find_unique("total = price  *  qty\n", "total = price * qty")
    assert "differ only in whitespace inside lines" in str(err.value)


def test_not_found_with_nothing_similar_says_so():
    with pytest.raises(ToolError) as err:
        find_unique(PY, "SELECT * FROM users WHERE id = 42;")
    assert "nothing in it looks similar" in str(err.value)
    assert "lines" not in str(err.value)


def test_find_all_returns_every_exact_occurrence():
    matches = find_all(PY, "return")
    assert [PY.count("\n", 0, m.start) + 1 for m in matches] == [4, 5, 8]
    assert all(m.how == EXACT for m in matches)


def test_find_all_falls_back_to_one_fuzzy_match():
    matches = find_all(PY, "def leave(self):\n    return 'bye'")
    assert [m.how for m in matches] == [INDENTATION]


def test_newline_helpers():
    assert newline_of("a\r\nb\r\nc\n") == "\r\n"
    assert newline_of("a\r\nb\nc\n") == "\n"
    assert newline_of("") == "\n"
    assert to_newline("a\nb\r\nc", "\r\n") == "a\r\nb\r\nc"
    assert to_newline("a\nb\r\n", "\n") == "a\nb\r\n"  # LF files: new_string is left alone
