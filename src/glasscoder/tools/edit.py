"""The file-changing tools: write_file (whole file) and edit_file (replace a snippet).

Matching lives in ``tools.fuzzy``; this module turns a match into the new file text, writes it
through the Workspace (which refuses ignored files and .git/, and writes atomically), and
replies with a short numbered snippet of what changed so the model need not re-read the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from glasscoder.languages.feedback import watch, with_feedback
from glasscoder.tools.args import bool_arg, str_arg
from glasscoder.tools.base import Observation, ToolContext, ToolError
from glasscoder.tools.fuzzy import Match, find_all, find_unique

SNIPPET_CONTEXT = 3  # unchanged lines shown around each change
_MAX_SNIPPETS = 5  # changed regions shown for replace_all
_MAX_CHANGED_SHOWN = 40  # changed lines shown per region; longer ones are elided in the middle
_MAX_LINE_SHOWN = 400  # characters of one snippet line


class WriteFile:
    name: ClassVar[str] = "write_file"
    description: ClassVar[str] = (
        "Create a file or replace its whole content. Prefer edit_file for changing part of an "
        "existing file."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path relative to the workspace root."},
            "content": {"type": "string", "description": "The complete new content of the file."},
        },
        "required": ["path", "content"],
    }
    read_only: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        path = str_arg(args, "path")
        content = str_arg(args, "content")
        rel = ctx.workspace.rel(path)
        pending = watch(ctx, rel)
        created = ctx.workspace.write_text(path, content)
        verb = "Created" if created else "Overwrote"
        obs = Observation(f"{verb} {rel} ({_lines(content)})", files_changed=[rel])
        return with_feedback(ctx, pending, obs)


class EditFile:
    name: ClassVar[str] = "edit_file"
    description: ClassVar[str] = (
        "Replace old_string with new_string in a file. old_string must match the file exactly "
        "once (include surrounding lines to make it unique) unless replace_all is true. An "
        "empty old_string creates a new file with new_string as its content."
    )
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "File path relative to the workspace root."},
            "old_string": {"type": "string", "description": "The exact text to replace."},
            "new_string": {"type": "string", "description": "The text to put in its place."},
            "replace_all": {
                "type": "boolean",
                "description": "Replace every occurrence of old_string (default false).",
            },
        },
        "required": ["path", "old_string", "new_string"],
    }
    read_only: ClassVar[bool] = False
    runs_commands: ClassVar[bool] = False

    def run(self, args: dict[str, Any], ctx: ToolContext) -> Observation:
        path = str_arg(args, "path")
        old = str_arg(args, "old_string")
        new = str_arg(args, "new_string")
        replace_all = bool_arg(args, "replace_all", False)
        if old == new:
            raise ToolError("old_string and new_string are identical; there is nothing to change")
        ws = ctx.workspace
        rel = ws.rel(path)
        if ws.is_dir(path):
            raise ToolError(f"{rel} is a directory")
        if not old:
            return _create(ctx, path, rel, new)
        edit = apply_edit(ws.read_text(path), old, new, replace_all)
        pending = watch(ctx, rel)
        ws.write_text(path, edit.text)
        return with_feedback(
            ctx, pending, Observation(_edit_report(rel, edit), files_changed=[rel])
        )


@dataclass
class Edit:
    """The outcome of apply_edit: the new text, and where the replacements landed in it."""

    text: str
    spans: list[tuple[int, int]]  # (start, end) of each inserted replacement in ``text``
    note: str  # what a fuzzy match forgave; empty for exact matches


def apply_edit(text: str, old: str, new: str, replace_all: bool = False) -> Edit:
    """text with old replaced by new (once, or everywhere); ToolError if that is impossible."""
    matches = find_all(text, old) if replace_all else [find_unique(text, old)]
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = length = 0
    for match in matches:
        replacement = match.adapt(new, old, text[match.start : match.end])
        pieces += [text[pos : match.start], replacement]
        length += match.start - pos
        spans.append((length, length + len(replacement)))
        length += len(replacement)
        pos = match.end
    pieces.append(text[pos:])
    result = "".join(pieces)
    if result == text:
        raise ToolError(_no_change_message(matches[0]))
    return Edit(result, spans, matches[0].describe())


def _no_change_message(match: Match) -> str:
    how = f" ({match.describe()})" if match.describe() else ""
    return f"the edit would not change the file: new_string equals the matched text{how}"


def _create(ctx: ToolContext, path: str, rel: str, content: str) -> Observation:
    """Empty old_string: create the file, or fill an existing empty one."""
    ws = ctx.workspace
    if ws.exists(path) and ws.read_text(path):
        raise ToolError(
            f"old_string is empty but {rel} already has content; give the text to replace, "
            "or use write_file to replace the whole file"
        )
    pending = watch(ctx, rel)
    created = ws.write_text(path, content)
    verb = "Created" if created else "Wrote"
    obs = Observation(f"{verb} {rel} ({_lines(content)})", files_changed=[rel])
    return with_feedback(ctx, pending, obs)


def _edit_report(rel: str, edit: Edit) -> str:
    count = len(edit.spans)
    head = f"Edited {rel}: {count} replacement{'s' if count != 1 else ''}"
    if edit.note:
        head += f" ({edit.note})"
    return f"{head}\n{snippet(edit.text, edit.spans)}"


# --- the snippet shown after an edit ----------------------------------------------------


def snippet(text: str, spans: list[tuple[int, int]], context: int = SNIPPET_CONTEXT) -> str:
    """The changed lines of text with `context` lines around them, numbered like `cat -n`."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()  # the empty string after the final newline is not a line
    if not lines:
        return "(the file is now empty)"
    ranges = _merge([_changed_lines(text, start, end) for start, end in spans])
    blocks = [_render(lines, lo, hi, context) for lo, hi in ranges[:_MAX_SNIPPETS]]
    if len(ranges) > _MAX_SNIPPETS:
        blocks.append(f"... and {len(ranges) - _MAX_SNIPPETS} more changed regions")
    return "\n...\n".join(blocks)


def _changed_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """0-based first and last line touched by text[start:end]."""
    first = text.count("\n", 0, start)
    # A replacement ending in a newline ends on that line, not on the next one.
    last = text.count("\n", 0, max(start, end - 1)) if end > start else first
    return first, last


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        # Ranges whose context would touch are shown as one block.
        if merged and lo - merged[-1][1] <= 2 * SNIPPET_CONTEXT + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _render(lines: list[str], lo: int, hi: int, context: int) -> str:
    first = max(lo - context, 0)
    last = min(hi + context, len(lines) - 1)
    numbers = list(range(first, last + 1))
    if hi - lo + 1 > _MAX_CHANGED_SHOWN:
        keep = _MAX_CHANGED_SHOWN // 2
        numbers = [n for n in numbers if n < lo + keep or n > hi - keep]
    out = []
    for i, n in enumerate(numbers):
        if i and n != numbers[i - 1] + 1:
            out.append(f"       ... ({n - numbers[i - 1] - 1} lines not shown)")
        line = lines[n].removesuffix("\r")  # a CR at the end only clutters the snippet
        if len(line) > _MAX_LINE_SHOWN:  # minified code: one line can be the whole file
            line = line[:_MAX_LINE_SHOWN] + f" ... ({len(line) - _MAX_LINE_SHOWN} more characters)"
        out.append(f"{n + 1:6}\t{line}")
    return "\n".join(out)


# --- helpers ----------------------------------------------------------------------------


def count_lines(text: str) -> int:
    """Lines as an editor counts them: a final line without a newline still counts."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _lines(text: str) -> str:
    n = count_lines(text)
    return f"{n} line" if n == 1 else f"{n} lines"
