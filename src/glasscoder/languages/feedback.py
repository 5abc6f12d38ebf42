"""Lint after an edit, and tell the model only about the problems the edit introduced.

The fast per-file linters of the file's language run through the session's sandbox twice (a
program inside the workspace only when that sandbox confines: languages.diagnostics): on
the file as it is just before the write (the baseline) and just after. A problem counts as old
when the baseline has one with the same tool, rule and message on the same line of code: the
line it moved to (difflib maps lines across the edit), a line with the same text, or, for a
line the edit rewrote, one of the lines that replaced it. Raw line numbers alone would call
every problem below an inserted line new.

Results are cached by file content, so a run of edits to one file lints each version once.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from glasscoder.languages.diagnostics import Diagnostic, confines, run_analyzers
from glasscoder.languages.registry import applies, find_program, language_for

if TYPE_CHECKING:
    from glasscoder.sandbox.base import Sandbox
    from glasscoder.tools.base import Observation, ToolContext
    from glasscoder.workspace import Workspace

MAX_SHOWN = 10  # problems listed after an edit; the rest are counted
CACHE_SIZE = 64  # file versions whose lint results are remembered


@dataclass
class Pending:
    """A file about to be written: its content before, and that content's problems."""

    rel: str
    before: str  # "" for a new file
    problems: list[Diagnostic]


class EditFeedback:
    def __init__(self, root: Path, sandbox: Sandbox, timeout: float = 15.0) -> None:
        self.root = root
        self.sandbox = sandbox
        self.timeout = timeout
        self._cache: OrderedDict[tuple[str, str], list[Diagnostic]] = OrderedDict()

    def before(self, ws: Workspace, rel: str) -> Pending | None:
        """Call just before writing rel; None when no linter for its language is at hand."""
        if not self._has_linter(rel):
            return None
        if not ws.exists(rel):
            return Pending(rel, "", [])
        try:
            text = ws.read_text(rel)
        except Exception:  # binary, too large, unreadable: not something to lint
            return None
        return Pending(rel, text, self._lint(rel, text))

    def after(self, ws: Workspace, pending: Pending) -> str:
        """Call after the write: the new problems as compact lines, "" when there are none."""
        try:
            text = ws.read_text(pending.rel)
        except Exception:
            return ""
        new = introduced(pending.problems, self._lint(pending.rel, text), pending.before, text)
        return format_problems(pending.rel, new)

    def _has_linter(self, rel: str) -> bool:
        lang = language_for(rel)
        return lang is not None and any(
            c.purpose == "lint" and c.per_file and applies(c, self.root)
            and find_program(c, self.root, confined=confines(self.sandbox)) is not None
            for c in lang.commands
        )  # fmt: skip

    def _lint(self, rel: str, text: str) -> list[Diagnostic]:
        key = (rel, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        found, _notes = run_analyzers(self.root, [rel], self.sandbox, ("lint",), self.timeout)
        self._cache[key] = found
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return found


def introduced(
    old: list[Diagnostic], new: list[Diagnostic], before: str, after: str
) -> list[Diagnostic]:
    """The problems in `new` that `old` does not explain (see the module docstring)."""
    old_lines, new_lines = before.splitlines(), after.splitlines()
    moved = _line_map(old_lines, new_lines)
    unused = list(old)
    fresh = []
    for d in new:
        match = next((o for o in unused if _same(o, d, moved, old_lines, new_lines)), None)
        if match is None:
            fresh.append(d)
        else:
            unused.remove(match)  # one old problem explains one new one
    return fresh


def _same(
    o: Diagnostic,
    d: Diagnostic,
    moved: dict[int, tuple[int, int]],
    old_lines: list[str],
    new_lines: list[str],
) -> bool:
    if (o.tool, o.rule, _norm(o.message)) != (d.tool, d.rule, _norm(d.message)):
        return False
    if not o.line or not d.line:
        return not o.line and not d.line
    lo, hi = moved.get(o.line, (0, -1))
    if lo <= d.line <= hi:
        return True
    return _text(old_lines, o.line) == _text(new_lines, d.line) != ""


def _norm(message: str) -> str:
    # "redefinition of unused `x` from line 3": the line it names moves with the edit.
    return re.sub(r"\bline \d+", "line N", message)


def _text(lines: list[str], number: int) -> str:
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""


def _line_map(old: list[str], new: list[str]) -> dict[int, tuple[int, int]]:
    """1-based old line -> the new lines (first, last) it became: itself if unchanged, the
    replacing lines if the edit rewrote it; deleted lines are absent."""
    moved: dict[int, tuple[int, int]] = {}
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(i2 - i1):
            if tag == "equal":
                moved[i1 + k + 1] = (j1 + k + 1, j1 + k + 1)
            elif tag == "replace":
                moved[i1 + k + 1] = (j1 + 1, j2)
    return moved


def format_problems(rel: str, problems: list[Diagnostic]) -> str:
    if not problems:
        return ""
    ordered = sorted(problems, key=lambda d: (d.severity != "error", d.line, d.column))
    tools = ", ".join(sorted({d.tool for d in problems}))
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"The edit introduced {len(problems)} {noun} in {rel} ({tools}):"]
    lines += [_short(d) for d in ordered[:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        lines.append(f"... and {len(problems) - MAX_SHOWN} more")
    return "\n".join(lines)


def _short(d: Diagnostic) -> str:
    where = f"{d.line}:{d.column}" if d.column else str(d.line)
    rule = f" {d.rule}" if d.rule else ""
    message = d.message if len(d.message) <= 200 else d.message[:200] + "..."
    return f"  line {where}: {d.severity}{rule}: {message}"


def watch(ctx: ToolContext, rel: str) -> Pending | None:
    """For the file tools: the baseline, taken just before they write rel."""
    return ctx.feedback.before(ctx.workspace, rel) if ctx.feedback else None


def with_feedback(ctx: ToolContext, pending: Pending | None, obs: Observation) -> Observation:
    """For the file tools: obs with the edit's new problems appended."""
    if ctx.feedback is None or pending is None:
        return obs
    problems = ctx.feedback.after(ctx.workspace, pending)
    if problems:
        obs.text = f"{obs.text}\n\n{problems}"
    return obs
