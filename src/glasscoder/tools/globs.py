"""Glob patterns (`**`, `*`, `?`, `[...]`, `{a,b}`) as regular expressions over relative paths."""

from __future__ import annotations

import re

from glasscoder import textcut
from glasscoder.tools.base import ToolError

_MAX_BRACE_ALTERNATIVES = 64


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob: `*`, `?`, `[...]`, `{a,b}`, and `**` for any directories."""
    alternatives = _expand_braces(pattern)
    return re.compile("|".join(f"(?:{_translate(alt)})" for alt in alternatives), re.DOTALL)


def _translate(pattern: str) -> str:
    segments = pattern.split("/")
    out = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:.*/)?")
        else:
            out.append(_translate_segment(segment) + ("" if last else "/"))
    return "".join(out)


def _translate_segment(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        i += 1
        if char == "*":
            while i < len(segment) and segment[i] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i < len(segment):
            out.append(re.escape(segment[i]))
            i += 1
        elif char == "[":
            negate = segment[i : i + 1] in ("!", "^")
            body_start = i + 1 if negate else i
            # A ']' right after the opening bracket is a member, not the end.
            end = segment.find("]", body_start + 1)
            if end < 0:
                out.append(re.escape(char))
                continue
            body = "".join(c if c == "-" else re.escape(c) for c in segment[body_start:end])
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = end + 1
        else:
            out.append(re.escape(char))
    return "".join(out)


def _expand_braces(pattern: str, level: int = 0) -> list[str]:
    """ "*.{ts,tsx}" -> ["*.ts", "*.tsx"]; nested braces work, unbalanced ones stay literal.

    Each level expands a group of two or more options, so past _MAX_BRACE_ALTERNATIVES levels
    there are too many alternatives for certain: refused before the recursion runs deep."""
    if level > _MAX_BRACE_ALTERNATIVES:
        raise ToolError(f"glob {textcut.quoted(pattern)} expands to too many alternatives")
    start = pattern.find("{")
    while start >= 0:
        end, options = _brace_options(pattern, start)
        if end >= 0 and len(options) > 1:
            head, tail = pattern[:start], pattern[end + 1 :]
            results: list[str] = []
            for option in options:
                results.extend(_expand_braces(head + option + tail, level + 1))
                if len(results) > _MAX_BRACE_ALTERNATIVES:
                    raise ToolError(
                        f"glob {textcut.quoted(pattern)} expands to too many alternatives"
                    )
            return results
        start = pattern.find("{", start + 1)
    return [pattern]


def _brace_options(pattern: str, start: int) -> tuple[int, list[str]]:
    """(index of the matching '}', the comma-separated options at depth 1), or (-1, [])."""
    depth = 0
    options: list[str] = []
    begin = start + 1
    for i in range(start, len(pattern)):
        char = pattern[i]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                options.append(pattern[begin:i])
                return i, options
        elif char == "," and depth == 1:
            options.append(pattern[begin:i])
            begin = i + 1
    return -1, []
