"""Cutting long text for the model without leaving half of a token behind.

Long lines, long signatures and long command output are cut before they reach the model, and
redaction happens later, at the egress path. A cut through the middle of a secret would leave
a fragment the redactor can no longer recognise (too short for a rule, not equal to a known
value), and a fragment of a key is still a leak. So every cut moves to a token boundary: the
head ends before the token it would split, the tail starts after it. A token here is a run of
the characters keys, tokens and passwords are made of.
"""

from __future__ import annotations

import re

_TOKEN_CHAR = re.compile(r"[A-Za-z0-9+/=_\-.~%!@#$^&*]")


def _is_token(char: str) -> bool:
    return _TOKEN_CHAR.match(char) is not None


def head(text: str, limit: int) -> str:
    """At most `limit` characters from the start, never ending inside a token."""
    if len(text) <= limit:
        return text
    end = max(limit, 0)
    if end and _is_token(text[end - 1]) and _is_token(text[end]):
        while end and _is_token(text[end - 1]):
            end -= 1
    return text[:end]


def tail(text: str, limit: int) -> str:
    """At most `limit` characters from the end, never starting inside a token."""
    if len(text) <= limit:
        return text
    start = len(text) - max(limit, 0)
    if start < len(text) and _is_token(text[start - 1]) and _is_token(text[start]):
        while start < len(text) and _is_token(text[start]):
            start += 1
    return text[start:]


def quoted(text: str, limit: int = 200) -> str:
    """text in quotes for a message, cut when longer than limit: a model's 100,000-character
    path or pattern is named by its start and length, not echoed back whole."""
    if len(text) <= limit:
        return f"'{text}'"
    return f"'{head(text, limit)}...' ({len(text):,} characters)"


def trim_cut_edges(
    before: str, after: str, next_char: str = "", prev_char: str = ""
) -> tuple[str, str]:
    """The two sides of a cut made elsewhere (a stream's head and tail). `next_char` is the
    first character cut after `before`, `prev_char` the last one cut before `after`; a side
    loses its edge token only when the cut went through it ("" means unknown: assume so)."""
    end = len(before)
    if not next_char or _is_token(next_char):
        while end and _is_token(before[end - 1]):
            end -= 1
    start = 0
    if not prev_char or _is_token(prev_char):
        while start < len(after) and _is_token(after[start]):
            start += 1
    return before[:end], after[start:]
