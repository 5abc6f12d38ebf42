"""Is a model's quote really in the file at (or near) the line it names?

A model's line numbers drift; its quote of the line is what it actually saw. A finding is kept
only when the quote matches the file whitespace-insensitively at the named line or within a
few lines of it (the line number is then corrected); otherwise it is dropped as invented.
"""

from __future__ import annotations

NEARBY = 3  # lines either side searched for a drifted line number
_MIN_PART = 12  # a quote shorter than this must match a whole line, not part of one


def squash(text: str) -> str:
    """The text without any whitespace: indentation and spacing are not what a quote is about."""
    return "".join(text.split())


def locate(quote: str, lines: list[str], line: int, nearby: int = NEARBY) -> int | None:
    """The 1-based line where `quote` starts, searching `line` first and then outwards."""
    wanted = [squash(part) for part in quote.splitlines()]
    wanted = [part for part in wanted if part]
    if not wanted:
        return None
    for candidate in _outwards(line, nearby, len(lines)):
        if _matches_at(wanted, lines, candidate - 1):
            return candidate
    return None


def _outwards(line: int, nearby: int, count: int) -> list[int]:
    order = [line]
    for step in range(1, nearby + 1):
        order += [line - step, line + step]
    return [n for n in order if 1 <= n <= count]


def _matches_at(wanted: list[str], lines: list[str], start: int) -> bool:
    """The quoted lines match the file's non-blank lines from `start` on. A one-line quote may
    be a long enough part of the line (models often leave out a trailing comment)."""
    first = squash(lines[start])
    if len(wanted) == 1:
        part = wanted[0]
        return part == first or (len(part) >= _MIN_PART and part in first)
    got: list[str] = []
    for text in lines[start:]:
        if squashed := squash(text):
            got.append(squashed)
        if len(got) == len(wanted):
            break
    return bool(first) and got == wanted
