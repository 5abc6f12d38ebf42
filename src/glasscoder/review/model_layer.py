"""The model layer: a file (or its changed hunks) with repo-map context in, verified bugs out.

The prompt (prompt.md) sits beside its parser. Every finding must quote its line; quotes.py
keeps it (with the line number corrected when it drifted a little) or drops it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.resources import files as package_files
from pathlib import PurePath
from typing import Any

from glasscoder.models.base import Model
from glasscoder.review.finding import Finding, normal_severity
from glasscoder.review.quotes import locate
from glasscoder.safetext import scrub

WINDOW = 400  # lines of a file per request; long files go in overlapping windows
OVERLAP = 20
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_BRACKET_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
# How deep Python's json reads with its default recursion limit.
_JSON_DEPTH = 1000
_CONFIDENCE_WORDS = {"high": 0.9, "medium": 0.6, "low": 0.3}


@dataclass(frozen=True)
class Unit:
    """One request's worth of code: a file, a window of it, or its changed hunks."""

    file: str
    code: str  # numbered lines, see prompt.md
    kind: str  # "file" | "diff"


@dataclass(frozen=True)
class Dropped:
    file: str
    line: int
    quote: str
    reason: str


def system_prompt() -> str:
    return package_files("glasscoder.review").joinpath("prompt.md").read_text(encoding="utf-8")


def file_units(file: str, lines: list[str]) -> list[Unit]:
    units = []
    start = 0
    while start < max(len(lines), 1):
        window = lines[start : start + WINDOW]
        code = "\n".join(f"{start + i + 1:>5} | {text}" for i, text in enumerate(window))
        units.append(Unit(file, code, "file"))
        if start + WINDOW >= len(lines):
            break
        start += WINDOW - OVERLAP
    return units


def diff_unit(file: str, diff: str) -> Unit | None:
    """The diff's hunks with new-side line numbers; None when nothing was added."""
    out: list[str] = []
    number, added = 0, False
    for line in diff.splitlines():
        if match := _HUNK.match(line):
            number = int(match[1])
            out.append("  ...")
        elif number and line[:1] in (" ", "+"):
            out.append(f"{number:>5} {line[0]} {line[1:]}")
            number, added = number + 1, added or line[0] == "+"
        elif number and line.startswith("-"):
            out.append(f"{'':>5} - {line[1:]}")
    return Unit(file, "\n".join(out), "diff") if added else None


def user_message(unit: Unit, context: str) -> str:
    what = "the changes to" if unit.kind == "diff" else "the file"
    parts = [f"Review {what} `{unit.file}` for bugs."]
    if context:
        parts.append(f"Context from the rest of the repository (for reference only):\n{context}")
    parts.append(f"`{unit.file}`:\n{unit.code}")
    return "\n\n".join(parts)


def review_unit(
    model: Model, unit: Unit, lines: list[str], context: str = ""
) -> tuple[list[Finding], list[Dropped]]:
    # scrub: a file name that is not UTF-8 (surrogate escapes) cannot go into a JSON body as is.
    messages = scrub([{"role": "system", "content": system_prompt()},
                      {"role": "user", "content": user_message(unit, context)}])  # fmt: skip
    reply = model.complete(messages, [])
    items = parse_reply(reply.content)
    if items is None:
        return [], [Dropped(unit.file, 0, "", "the model's reply was not the JSON asked for")]
    findings, dropped = [], []
    for item in items:
        result = verify(item, unit.file, lines, tool_name(model.name))
        (findings if isinstance(result, Finding) else dropped).append(result)
    return findings, dropped


def tool_name(model: str) -> str:
    """How the model is named in findings and rule ids: a model file by its file name only."""
    return PurePath(model).name if model.lower().endswith(".gguf") else model


def _past_too_deep(text: str, start: int) -> int:
    """Where to look next after the structure opening at start nested too deep for json: its
    end when it closes; unclosed, the openings within json's reach of its deepest point (a
    value may follow them). One linear scan (strings skipped), not one per opening."""
    depth, reached = 0, []  # reached[d]: where depth d + 1 was first reached
    for token in _BRACKET_OR_STRING.finditer(text, start):
        if token.group() in ("[", "{"):
            depth += 1
            if depth > len(reached):
                reached.append(token.start())
        elif token.group() in ("]", "}"):
            depth -= 1
            if depth == 0:
                return token.end()
    return reached[max(len(reached) - _JSON_DEPTH, 1)] if len(reached) > 1 else start + 1


def parse_reply(text: str) -> list[dict[str, Any]] | None:
    """The findings in a reply: a JSON list (or {"findings": [...]}) anywhere in it, fenced or
    not, after any thinking block. None when there is none."""
    text = _THINK.sub("", text)
    decoder = json.JSONDecoder()
    skip_to = 0
    for match in re.finditer(r"[\[{]", text):
        if match.start() < skip_to:
            continue
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        except RecursionError:  # nested past what json reads: garbage, skipped whole
            skip_to = _past_too_deep(text, match.start())
            continue
        items = value.get("findings") if isinstance(value, dict) else value
        if isinstance(items, list):
            return [item for item in items if isinstance(item, dict)]
    return None


def verify(item: dict[str, Any], file: str, lines: list[str], tool: str) -> Finding | Dropped:
    """The model's finding checked against the file: kept (line corrected) or dropped."""
    quote = item.get("quote") if isinstance(item.get("quote"), str) else ""
    line = _int(item.get("line"))
    named = item.get("file")
    if isinstance(named, str) and named.strip() and not _same_file(named.strip(), file):
        return Dropped(file, line, quote, f"it names another file ({named.strip()[:80]})")
    message = str(item.get("message") or "").strip()
    if not message:
        return Dropped(file, line, quote, "it has no message")
    found = locate(quote, lines, line)
    if found is None:
        return Dropped(file, line, quote, "its quote does not match the file near that line")
    category = re.sub(r"[^a-z0-9-]+", "-", str(item.get("category") or "other").lower())
    return Finding(
        file=file, line=found, rule=category.strip("-")[:40] or "other",
        severity=normal_severity(item.get("severity")), message=message[:1000], tool=tool,
        layer="model", confidence=_confidence(item.get("confidence")),
        category=category.strip("-")[:40] or "other", quote=lines[found - 1].strip(),
    )  # fmt: skip


def _same_file(named: str, file: str) -> bool:
    named = named.removeprefix("./").removeprefix("a/").removeprefix("b/")
    return named == file or file.endswith("/" + named) or named.endswith("/" + file)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _confidence(value: Any) -> float:
    if isinstance(value, str) and value.strip().lower() in _CONFIDENCE_WORDS:
        return _CONFIDENCE_WORDS[value.strip().lower()]
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return 0.5
    if number != number:  # NaN
        return 0.5
    return max(0.0, min(1.0, number / 100 if number > 1 else number))
