"""Making untrusted text safe to store as JSON and to print on a terminal.

Text reaches glasscoder from a model, a server and a repository, and any of them can carry
what UTF-8 cannot hold: lone surrogates (a JSON "\\ud800" escape, or a file name that is not
UTF-8, which Python decodes with surrogateescape). Written as is, such a string makes the
transcript, the stream-json output or stdout raise UnicodeEncodeError. ``scrub`` replaces
each one with U+FFFD, and non-finite floats (which json.dumps would write as the non-JSON
``Infinity``/``NaN``) with their name, in a message of nested dicts and lists. The walk is
iterative and a value nesting deeper than ``nesting.KEEP_DEPTH`` is cut there with a marker, so
what ``scrub`` returns can always be encoded (json.dumps itself recurses).

``printable`` is for the terminal: escape sequences a model or a file name carries would
otherwise reach the person's terminal, which acts on them (move the cursor, rewrite lines,
set the clipboard).
"""

from __future__ import annotations

import math
import re
from typing import Any

from glasscoder.nesting import rebuild

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab, newline and the CR of a CRLF; DEL; the C1 controls (ESC's 8-bit twins);
# the bidirectional controls, which make a terminal show text in another order than it runs.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)"
)


def scrub(value: Any) -> Any:
    """value with lone surrogates replaced and non-finite floats named, at any depth."""
    if isinstance(value, str):
        return _scrub_leaf(value)
    return rebuild(value, lambda leaf, level: _scrub_leaf(leaf), key=_scrub_leaf)


def _scrub_leaf(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def printable(text: str) -> str:
    """text with surrogates replaced and control characters shown as escapes (\\x1b)."""
    return _CONTROL.sub(_escape, scrub(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
