"""Streamed model text for people: tool-call markup is parsed, never shown.

Shared by every provider that streams text (the server path and the embedded one).
"""

from __future__ import annotations

from collections.abc import Callable

_MARKERS = ("<tool_call", "<function=")


class TextGate:
    """Passes streamed text on until tool-call markup begins: that is parsed, not shown.

    A tail that could be the start of a marker ("<tool") is held back until the next delta
    settles it.
    """

    def __init__(self, on_text: Callable[[str], None] | None) -> None:
        self._on_text = on_text
        self._held = ""
        self._open = on_text is not None

    def feed(self, text: str) -> None:
        if not self._open:
            return
        text = self._held + text
        starts = [i for i in (text.find(m) for m in _MARKERS) if i != -1]
        if starts:
            self._emit(text[: min(starts)])
            self._open = False
            return
        keep = _partial_marker_len(text)
        self._held = text[len(text) - keep :]
        self._emit(text[: len(text) - keep])

    def flush(self) -> None:
        if self._open:
            self._emit(self._held)
        self._held = ""

    def _emit(self, text: str) -> None:
        if text and self._on_text is not None:
            self._on_text(text)


def _partial_marker_len(text: str) -> int:
    """Length of the longest tail of text that could still grow into a marker."""
    longest = min(len(text), max(len(m) for m in _MARKERS) - 1)
    for n in range(longest, 0, -1):
        if any(m.startswith(text[-n:]) for m in _MARKERS):
            return n
    return 0
