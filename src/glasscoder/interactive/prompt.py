"""The input line: multi-line editing, per-user history, completion of slash commands and
`@path` mentions, the status line under it.

Enter sends; Alt-Enter (Esc then Enter) adds a line, and a paste keeps its line
breaks (bracketed paste). History lives in the person's data folder, never in the workspace.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import ColorDepth

from glasscoder.safetext import printable
from glasscoder.workspace import Workspace

PROMPT = "❯ "  # what a terminal driver (tests, the start-up bench) waits for
MENTION = re.compile(r"(?:^|(?<=\s))@(\S*)$")
_MAX_PATHS = 20_000  # files offered for completion; a huge tree is cut, not walked forever


class InputCompleter(Completer):
    """Slash commands at the start of the input; workspace paths after an `@`."""

    def __init__(self, commands: dict[str, str], workspace: Workspace) -> None:
        self.commands, self.workspace = commands, workspace
        self._paths: list[str] | None = None

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        if before.startswith("/") and " " not in before:
            for name, help_text in self.commands.items():
                if name.startswith(before[1:]):
                    yield Completion("/" + name, -len(before), display_meta=help_text)
            return
        found = MENTION.search(before)
        if found is None:
            return
        typed = found.group(1)
        for path in _matching(self._all_paths(), typed):
            yield Completion(path, -len(typed), display=printable(path))

    def _all_paths(self) -> list[str]:
        if self._paths is None:  # walked once, at the first `@`: the ignore rules apply
            paths: list[str] = []
            for path in self.workspace.walk():
                paths.append(path)
                if len(paths) >= _MAX_PATHS:
                    break
            self._paths = sorted(paths)
        return self._paths


def _matching(paths: Iterable[str], typed: str, limit: int = 50) -> list[str]:
    """Paths starting with what was typed first, then those containing it."""
    starts = [p for p in paths if p.startswith(typed)]
    if len(starts) >= limit:
        return starts[:limit]
    lowered = typed.lower()
    contains = [p for p in paths if lowered in p.lower() and not p.startswith(typed)]
    return (starts + contains)[:limit]


def _bindings() -> KeyBindings:
    keys = KeyBindings()

    # Not Ctrl-J: an Enter typed while a turn runs arrives as a line feed (^J), and must send.
    @keys.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return keys


def make_prompt(
    history: Path, completer: Completer, toolbar: Callable[[], str], color: str
) -> PromptSession[str]:
    history.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # What was typed may hold a secret: the file is the person's alone.
    os.close(os.open(history, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    return PromptSession(
        history=FileHistory(str(history)),
        completer=completer,
        complete_while_typing=True,
        key_bindings=_bindings(),
        multiline=False,
        bottom_toolbar=lambda: FormattedText([("class:bottom-toolbar", " " + toolbar())]),
        refresh_interval=0.5,  # the toolbar learns the sandbox once its probe returns
        color_depth=_depth(color),
        enable_suspend=True,
    )


def _depth(color: str) -> ColorDepth | None:
    """--color never / always; auto (None) leaves it to the terminal and NO_COLOR."""
    return {"never": ColorDepth.MONOCHROME, "always": ColorDepth.DEPTH_8_BIT}.get(color)
