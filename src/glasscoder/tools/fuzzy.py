"""Locating the text an edit replaces: exactly, or with a few forgiving fallbacks.

Models copy ``old_string`` from what they read, and get whitespace wrong more often than
anything else: an indentation level, trailing blanks, CRLF vs LF, the final newline. Each
fallback below forgives one class of such mistakes, must still find exactly one place, and
reports what it forgave so the model learns. When nothing matches, the error shows the most
similar region of the file so the next attempt can succeed.

Everything here is a pure function on strings; the tools do the file I/O.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from glasscoder.tools.base import ToolError

EXACT = "exact"
LINE_ENDINGS = "line_endings"  # old_string's LF converted to the file's CRLF, then exact
TRAILING_WHITESPACE = "trailing_whitespace"  # per line; also forgives CR and the final newline
INDENTATION = "indentation"  # leading and trailing whitespace ignored per line

CRLF = "\r\n"
LF = "\n"

_MAX_LISTED_LINES = 10  # line numbers listed in an "occurs N times" error
_MIN_SIMILARITY = 0.5  # below this the "most similar region" is noise, not a hint
_MAX_SHOWN_LINES = 12  # lines of the similar region / its diff shown in an error
_MAX_SHOWN_WIDTH = 200  # characters per shown line
_FULL_SCAN_LINES = 5_000  # up to this many window lines, every window is compared
_MAX_CANDIDATES = 30  # windows compared in bigger files, picked by line votes
_COMMON_LINE = 20  # a line this frequent in the file does not tell where old_string is


@dataclass(frozen=True)
class Match:
    """Where old_string was found (haystack[start:end]) and how."""

    start: int
    end: int
    how: str = EXACT
    newline: str = LF  # the file's dominant line ending; replacements are converted to it
    needle_indent: str = ""  # INDENTATION: leading whitespace of old_string's first text line
    found_indent: str = ""  # INDENTATION: leading whitespace of the matching line in the file
    drop_final_newline: bool = False  # old_string ended with a newline the file lacks at EOF
    whitespace_differs: bool = True  # TRAILING_WHITESPACE: False when only line ends differed
    # INDENTATION: one level of indentation in old_string and in the file ("\t", "    ", ...;
    # "" when it cannot be told). When they differ, every new line is converted level by level.
    needle_unit: str = ""
    file_unit: str = ""

    def adapt(self, replacement: str, needle: str = "", region: str = "") -> str:
        """new_string as it should be inserted at this match; given old_string (`needle`) and
        the text it matched (`region`), lines new_string leaves as they were stay byte for
        byte as the file has them (their trailing blanks, indentation, line end)."""
        if self.how == INDENTATION and self.file_unit and not self.needle_unit:
            # old_string alone did not tell its unit (one level): new_string may
            unit = model_unit(needle.split(LF) + replacement.split(LF))
            if unit:  # else nothing is indented: nothing to convert
                return replace(self, needle_unit=unit).adapt(replacement, needle, region)
        text = self._adapted(replacement)
        if self.how in (TRAILING_WHITESPACE, INDENTATION) and needle and region:
            text = keep_unchanged_lines(text, replacement, needle, region)
        return text

    def _adapted(self, replacement: str) -> str:
        text = to_newline(replacement, self.newline)
        if self.how == INDENTATION and self.converts_units():
            text = convert_levels(text, self.needle_unit, self.file_unit, self.needle_indent,
                                  self.found_indent)  # fmt: skip
        elif self.how == INDENTATION and self.needle_indent != self.found_indent:
            text = reindent(text, self.needle_indent, self.found_indent)
        if self.drop_final_newline:
            text = _strip_one_newline(text)
        return text

    def describe(self) -> str:
        """What the fallback forgave, for the model; empty for an exact match."""
        if self.how == LINE_ENDINGS:
            return "matched after converting old_string's line endings to the file's CRLF"
        if self.how == TRAILING_WHITESPACE and self.whitespace_differs:
            return "matched ignoring trailing whitespace"
        if self.how == TRAILING_WHITESPACE:
            return "matched ignoring line endings (CRLF/LF or the final newline)"
        if self.how == INDENTATION and self.converts_units():
            return (f"matched ignoring indentation; new text's indentation converted from "
                    f"{_whitespace_name(self.needle_unit)} to {_whitespace_name(self.file_unit)} "
                    "a level, the file's style")  # fmt: skip
        if self.how == INDENTATION:
            return "matched ignoring indentation; " + _describe_reindent(
                self.needle_indent, self.found_indent
            )
        return ""

    def converts_units(self) -> bool:
        return bool(self.needle_unit and self.file_unit and self.needle_unit != self.file_unit)


def find_unique(haystack: str, needle: str) -> Match:
    """The one place needle occurs in haystack; ToolError if none or several."""
    if not needle:
        raise ToolError("old_string is empty")
    newline = newline_of(haystack)
    for candidate, how in _exact_variants(needle, newline):
        starts = _occurrences(haystack, candidate)
        if len(starts) == 1:
            return Match(starts[0], starts[0] + len(candidate), how, newline)
        if starts:
            raise ToolError(
                f"old_string occurs {len(starts)} times ({_lines_list(haystack, starts)}); "
                "add surrounding lines to make it unique or set replace_all"
            )
    for how in (TRAILING_WHITESPACE, INDENTATION):
        found = _line_matches(haystack, needle, how, newline)
        if len(found) == 1:
            return found[0]
        if found:
            starts = [m.start for m in found]
            raise ToolError(
                f"old_string does not occur exactly; {_IGNORING[how]} it matches "
                f"{len(found)} places ({_lines_list(haystack, starts)}); "
                "add surrounding lines to make it unique"
            )
    raise ToolError(not_found_message(haystack, needle))


def find_all(haystack: str, needle: str) -> list[Match]:
    """Every non-overlapping exact occurrence (for replace_all), else one fuzzy match."""
    if not needle:
        raise ToolError("old_string is empty")
    newline = newline_of(haystack)
    for candidate, how in _exact_variants(needle, newline):
        starts = _non_overlapping(haystack, candidate)
        if starts:
            return [Match(s, s + len(candidate), how, newline) for s in starts]
    # Fuzzy matches are only trusted one at a time: replacing many guesses is too risky.
    return [find_unique(haystack, needle)]


# --- line endings and indentation -------------------------------------------------------


def newline_of(text: str) -> str:
    """The dominant line ending of text: CRLF only when most line breaks are CRLF."""
    crlf = text.count(CRLF)
    return CRLF if crlf > text.count(LF) - crlf else LF


def to_newline(text: str, newline: str) -> str:
    """text with lone LFs turned into CRLF when newline is CRLF; LF text is left alone."""
    if newline != CRLF:
        return text
    return re.sub(r"(?<!\r)\n", CRLF, text)


def reindent(text: str, old_indent: str, new_indent: str) -> str:
    """Shift text's indentation so lines indented by old_indent become new_indent."""
    return LF.join(_reindent_line(line, old_indent, new_indent) for line in text.split(LF))


def keep_unchanged_lines(adapted: str, replacement: str, needle: str, region: str) -> str:
    """`adapted` with each line that new_string copied unchanged from old_string replaced by
    the file's own line there: a model that dropped or added trailing blanks, or indented
    otherwise, does not rewrite the lines it meant to keep."""
    out, new_lines = adapted.split(LF), replacement.split(LF)
    old_lines, file_lines = needle.split(LF), region.split(LF)
    if len(out) != len(new_lines) or len(old_lines) != len(file_lines):
        return adapted  # a final newline was dropped, or lines do not pair: leave it be
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if tag != "equal":
            continue
        for k in range(i2 - i1):
            if old_lines[i1 + k].strip():  # blank lines carry nothing worth keeping
                out[j1 + k] = file_lines[i1 + k]
    return LF.join(out)


def indent_unit(lines: list[str], default: str = "") -> str:
    """One level of the lines' indentation: "\t", or the most common step in spaces between a
    line and a deeper next one; `default` when tabs and spaces mix or nothing says."""
    indents = [_indent(line) for line in lines if line.strip()]
    if any("\t" in i and " " in i for i in indents):
        return default
    if any("\t" in i for i in indents):
        return "\t" if not any(" " in i for i in indents) else default
    steps = Counter(b - a for a, b in zip(map(len, indents), map(len, indents[1:]),
                                          strict=False) if b > a)  # fmt: skip
    if steps:
        step = steps.most_common(1)[0][0]
        return " " * step if 2 <= step <= 8 else default
    return default


def convert_levels(text: str, old_unit: str, new_unit: str, old_base: str, new_base: str) -> str:
    """text's indentation converted level by level: each line as deep, relative to old_base,
    as it was, counted in new_unit from new_base (so no line mixes the two styles)."""
    base_levels, _ = _levels(old_base, old_unit)
    lines = []
    for line in text.split(LF):
        if not line.strip():
            lines.append(line)
            continue
        ws = _indent(line)
        levels, extra = _levels(ws, old_unit)
        delta = levels - base_levels
        if delta >= 0:
            indent = new_base + new_unit * delta
        else:
            cut = min(len(new_base), len(new_unit) * -delta)
            indent = new_base[: len(new_base) - cut]
        lines.append(indent + " " * extra + line[len(ws) :])
    return LF.join(lines)


def _levels(ws: str, unit: str) -> tuple[int, int]:
    """(levels, spaces left over) of leading whitespace `ws` counted in `unit`."""
    if unit == "\t":
        return ws.count("\t"), len(ws) - ws.count("\t")
    width = len(ws.expandtabs(len(unit)))
    return divmod(width, len(unit))


def _reindent_line(line: str, old: str, new: str) -> str:
    if not line.strip():
        return line  # blank lines carry no indentation worth changing
    if line.startswith(old):
        return new + line[len(old) :]
    # The line is shallower than old_string's first line (or indented differently).
    if new.startswith(old):
        return new[len(old) :] + line
    if old.startswith(new):
        indent = len(line) - len(line.lstrip())
        return line[min(indent, len(old) - len(new)) :]
    return line


def _describe_reindent(old: str, new: str) -> str:
    if old == new:
        return "the first line's indentation already agreed, so new text was not re-indented"
    if new.startswith(old):
        return f"new text re-indented by {_whitespace_name(new[len(old) :])}"
    if old.startswith(new):
        return f"new text dedented by {_whitespace_name(old[len(new) :])}"
    return f"new text re-indented from {_whitespace_name(old)} to {_whitespace_name(new)}"


def _whitespace_name(ws: str) -> str:
    spaces, tabs = ws.count(" "), ws.count("\t")
    if spaces + tabs != len(ws):
        return f"{len(ws)} whitespace characters"
    parts = [_plural(tabs, "tab"), _plural(spaces, "space")]
    return " and ".join(p for p in parts if p) or "nothing"


def _plural(n: int, word: str) -> str:
    if n == 0:
        return ""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _strip_one_newline(text: str) -> str:
    if text.endswith(CRLF):
        return text[:-2]
    return text[:-1] if text.endswith(LF) else text


# --- exact search -----------------------------------------------------------------------


def _exact_variants(needle: str, newline: str) -> list[tuple[str, str]]:
    variants = [(needle, EXACT)]
    converted = to_newline(needle, newline)
    if converted != needle:
        variants.append((converted, LINE_ENDINGS))
    return variants


def _occurrences(haystack: str, needle: str) -> list[int]:
    # Overlapping hits count: in "aaa", "aa" is ambiguous even though str.count says 1.
    starts = []
    pos = haystack.find(needle)
    while pos != -1:
        starts.append(pos)
        pos = haystack.find(needle, pos + 1)
    return starts


def _non_overlapping(haystack: str, needle: str) -> list[int]:
    starts = []
    pos = haystack.find(needle)
    while pos != -1:
        starts.append(pos)
        pos = haystack.find(needle, pos + len(needle))
    return starts


def _line_number(text: str, pos: int) -> int:
    return text.count(LF, 0, pos) + 1


def _lines_list(haystack: str, starts: list[int]) -> str:
    numbers = [str(_line_number(haystack, s)) for s in starts[:_MAX_LISTED_LINES]]
    more = ", ..." if len(starts) > _MAX_LISTED_LINES else ""
    label = "line" if len(numbers) == 1 else "lines"
    return f"{label} {', '.join(numbers)}{more}"


# --- line-based fallbacks ---------------------------------------------------------------

_IGNORING = {
    TRAILING_WHITESPACE: "ignoring trailing whitespace",
    INDENTATION: "ignoring indentation",
}
_NORMALISERS: dict[str, Callable[[str], str]] = {
    TRAILING_WHITESPACE: str.rstrip,
    INDENTATION: str.strip,
}


@dataclass(frozen=True)
class _Line:
    start: int
    content_end: int  # before the line's "\n" or "\r\n"
    end: int  # after it


def _split_lines(text: str) -> list[_Line]:
    lines = []
    start = 0
    while start < len(text):
        nl = text.find(LF, start)
        if nl == -1:
            lines.append(_Line(start, len(text), len(text)))
            break
        content_end = nl - 1 if nl > start and text[nl - 1] == "\r" else nl
        lines.append(_Line(start, content_end, nl + 1))
        start = nl + 1
    return lines


def _needle_lines(needle: str) -> tuple[list[str], bool]:
    """old_string's lines without line endings, and whether it ended with a newline."""
    text = needle.replace(CRLF, LF)
    ends_with_newline = text.endswith(LF)
    if ends_with_newline:
        text = text[:-1]
    return text.split(LF), ends_with_newline


def _line_matches(haystack: str, needle: str, how: str, newline: str) -> list[Match]:
    wanted, ends_with_newline = _needle_lines(needle)
    first = next((i for i, line in enumerate(wanted) if line.strip()), None)
    if first is None:
        return []  # whitespace-only old_string would match every blank run
    norm = _NORMALISERS[how]
    wanted_norm = [norm(line) for line in wanted]
    lines = _split_lines(haystack)
    texts = [haystack[ln.start : ln.content_end] for ln in lines]
    normed = [norm(t) for t in texts]
    k = len(wanted)
    matches = []
    for i in range(len(lines) - k + 1):
        if normed[i + first] != wanted_norm[first] or normed[i : i + k] != wanted_norm:
            continue
        last = lines[i + k - 1]
        matches.append(
            Match(
                start=lines[i].start,
                end=last.end if ends_with_newline else last.content_end,
                how=how,
                newline=newline,
                needle_indent=_indent(wanted[first]),
                found_indent=_indent(texts[i + first]),
                drop_final_newline=ends_with_newline and last.end == last.content_end,
                whitespace_differs=texts[i : i + k] != wanted,
                **_units(how, wanted, texts),
            )
        )
    return matches


def _units(how: str, wanted: list[str], texts: list[str]) -> dict[str, str]:
    """For an INDENTATION match: old_string's and the file's indentation units (old_string's
    "" when it has one level only: `adapt` then asks new_string too)."""
    if how != INDENTATION:
        return {}
    return {"needle_unit": indent_unit(wanted), "file_unit": indent_unit(texts)}


def model_unit(lines: list[str]) -> str:
    """The unit of the model's text: its steps, else its shallowest indentation ("\t" for
    tabs), else "" (no indentation at all: nothing to convert)."""
    unit = indent_unit(lines)
    if unit:
        return unit
    indents = [_indent(line) for line in lines if line.strip() and _indent(line)]
    if not indents:
        return ""
    if all(set(i) == {"\t"} for i in indents):
        return "\t"
    spaces = [len(i) for i in indents if set(i) == {" "}]
    return " " * min(spaces) if len(spaces) == len(indents) else ""


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


# --- the "not found" explanation --------------------------------------------------------


def not_found_message(haystack: str, needle: str) -> str:
    """Why needle was not found, with the most similar region of haystack and the diff."""
    wanted, _ = _needle_lines(needle)
    lines = haystack.replace(CRLF, LF).split(LF)
    best = _most_similar(lines, wanted)
    if best is None or best[1] < _MIN_SIMILARITY:
        return (
            "old_string was not found in the file and nothing in it looks similar; "
            "read the file again (it may have changed) and copy old_string exactly"
        )
    start, ratio = best
    region = lines[start : start + len(wanted)]
    parts = [
        "old_string was not found in the file. The most similar region is "
        f"{_range_label(start, len(region))} ({int(ratio * 100)}% similar):",
        *_numbered(region, start + 1),
        "What differs (- old_string, + file, ? marks the characters):",
        *_diff(wanted, region),
    ]
    if _squash(LF.join(wanted)) == _squash(LF.join(region)):
        parts.append("They differ only in whitespace inside lines.")
    parts.append("Copy old_string exactly from the file (read it again if unsure).")
    return LF.join(parts)


def _most_similar(lines: list[str], wanted: list[str]) -> tuple[int, float] | None:
    """Start index and similarity of the window of len(wanted) lines most like wanted."""
    k = min(len(wanted), len(lines))
    stripped = [line.strip() for line in lines]
    target = [line.strip() for line in wanted]
    last_start = len(lines) - k
    if (last_start + 1) * k <= _FULL_SCAN_LINES:
        starts: list[int] = list(range(last_start + 1))
    else:  # comparing every window of a big file would take minutes
        starts = _candidate_starts(stripped, target, last_start)
    return _best_window(stripped, target, k, starts)


def _candidate_starts(stripped: list[str], target: list[str], last_start: int) -> list[int]:
    """Window starts voted for by lines of old_string that occur in the file."""
    where: dict[str, list[int]] = defaultdict(list)
    for i, line in enumerate(stripped):
        where[line].append(i)
    votes: Counter[int] = Counter()

    def vote(file_line: int, needle_line: int) -> None:
        votes[min(max(file_line - needle_line, 0), last_start)] += 1

    for j, line in enumerate(target):
        hits = where.get(line, [])
        if line and len(hits) <= _COMMON_LINE:  # blank or frequent lines say little
            for i in hits:
                vote(i, j)
    if not votes:
        # No line survived intact: use near matches of old_string's longest lines instead.
        for j in sorted(range(len(target)), key=lambda j: -len(target[j]))[:3]:
            for close in difflib.get_close_matches(target[j], where, n=5, cutoff=0.6):
                for i in where[close][:_COMMON_LINE]:
                    vote(i, j)
    return [start for start, _ in votes.most_common(_MAX_CANDIDATES)]


def _best_window(
    stripped: list[str], target: list[str], k: int, starts: list[int]
) -> tuple[int, float] | None:
    # The needle is seq2 so difflib indexes it once; windows are swapped in as seq1.
    matcher = difflib.SequenceMatcher(None, "", LF.join(target), autojunk=False)
    best: tuple[int, float] | None = None
    for i in starts:
        matcher.set_seq1(LF.join(stripped[i : i + k]))
        floor = best[1] if best else 0.0
        if matcher.real_quick_ratio() <= floor or matcher.quick_ratio() <= floor:
            continue
        ratio = matcher.ratio()
        if ratio > floor:
            best = (i, ratio)
    return best


def _range_label(start: int, count: int) -> str:
    if count <= 1:
        return f"line {start + 1}"
    return f"lines {start + 1}-{start + count}"


def _numbered(lines: list[str], first_number: int) -> list[str]:
    shown = [f"{n:6}\t{_clip(line)}" for n, line in enumerate(lines, first_number)]
    if len(shown) > _MAX_SHOWN_LINES:
        shown = [*shown[:_MAX_SHOWN_LINES], f"       ... ({len(shown) - _MAX_SHOWN_LINES} more)"]
    return shown


def _diff(wanted: list[str], region: list[str]) -> list[str]:
    changed = [
        _clip(line.rstrip(LF))
        for line in difflib.ndiff(wanted, region)
        if not line.startswith("  ")
    ]
    if len(changed) > _MAX_SHOWN_LINES:
        changed = [*changed[:_MAX_SHOWN_LINES], "... (diff cut)"]
    return changed or ["(no difference line by line; check line endings and invisible characters)"]


def _clip(line: str) -> str:
    return line if len(line) <= _MAX_SHOWN_WIDTH else line[:_MAX_SHOWN_WIDTH] + "..."


def _squash(text: str) -> str:
    return "".join(text.split())
