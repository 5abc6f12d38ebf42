"""Cuts never leave part of a token behind (a secret's fragment is still a leak)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glasscoder import textcut
from glasscoder.guard.redact import KnownSecret, Redactor
from glasscoder.sandbox.supervise import HeadTail
from glasscoder.tools.search import _cut

TOKEN = "q8Zr4TnW2xLp9VbK7mHc3JdYa1Fs6Gh0"


def test_a_head_cut_through_a_token_drops_the_whole_token() -> None:
    line = "x" * 10 + " key=" + TOKEN + " rest"
    for limit in range(12, 15 + len(TOKEN)):
        assert textcut.head(line, limit) == "x" * 10 + " "
    assert textcut.head(line, 15) == "x" * 10 + " "
    assert textcut.head(line, len(line)) == line


def test_a_tail_cut_through_a_token_drops_the_whole_token() -> None:
    text = "start " + TOKEN + "\nend"
    assert textcut.tail(text, 20) == "\nend"
    assert textcut.tail(text, len(text)) == text


@given(st.text(alphabet="ab =\n", max_size=60), st.integers(0, 70))
def test_cuts_are_prefixes_and_suffixes_within_the_limit(text: str, limit: int) -> None:
    head, tail = textcut.head(text, limit), textcut.tail(text, limit)
    assert text.startswith(head) and len(head) <= max(limit, 0)
    assert text.endswith(tail) and len(tail) <= max(limit, 0)


def test_grep_lines_and_command_output_keep_no_fragment_of_a_known_secret() -> None:
    redactor = Redactor([KnownSecret(TOKEN, "env-secret", "env T")], use_library=False)
    long_line = "y" * 490 + " TOKEN=" + TOKEN
    shown = _cut(long_line)
    assert TOKEN[:4] not in redactor.redact(shown)[0]
    sink = HeadTail(40)
    sink.add("a" * 10 + " " + TOKEN + " " + "b" * 100 + " " + TOKEN + " end")
    assert not any(TOKEN[i : i + 6] in sink.text() for i in range(len(TOKEN) - 6))
