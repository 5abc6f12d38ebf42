"""What an interactive session shows: the model's Markdown as it streams, a line per tool
call, a coloured diff per edit, command output cut to its ends, and the status line.

Every string that came from the model, a file or a command goes through
`safetext.printable` before rich sees it, and the console never interprets markup or
emits hyperlinks: nothing printed can move the cursor, retitle the window or set the
clipboard.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from glasscoder.safetext import printable
from glasscoder.workspace import Workspace, WorkspaceError

EDIT_TOOLS = ("write_file", "edit_file")
COMMAND_TOOLS = ("run_shell", "run_tests")
OUTPUT_HEAD, OUTPUT_TAIL = 4, 8  # command output lines shown; the rest counted
DIFF_LINES = 80  # diff lines shown per edit; /diff shows all
_MAX_DIFF_BYTES = 2_000_000


def make_console(color: str, file: IO[str] | None = None) -> Console:
    """A console whose colour follows the terminal and NO_COLOR, or --color."""
    forced = {"always": True, "never": None}.get(color)
    return Console(
        file=file, force_terminal=forced, no_color={"never": True, "always": False}.get(color),
        markup=False,
        highlight=False, emoji=False, soft_wrap=False,
    )  # fmt: skip


class Screen:
    """The agent's events drawn on a console; `status` gives the status line's text."""

    def __init__(self, console: Console, workspace: Workspace, status: Callable[[], str]) -> None:
        self.console, self.workspace, self.status = console, workspace, status
        self._live: Live | None = None
        self._text = ""  # the reply streaming in
        self._waiting_since = 0.0
        self._tool: tuple[str, str] | None = None  # (name, what) of the call running
        self._before: dict[str, str | None] = {}  # an edited file's text before the call

    # --- what the rest of glasscoder calls ------------------------------------------------

    def notice(self, message: str) -> None:
        self.pause()
        self.console.print(Text(printable(message), style="yellow"))

    def event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "text":
            self._text += event["text"]
            self._show_live()
        elif kind == "assistant":
            self._finish_text(event.get("content") or "")
        elif kind == "tool_start":
            self._tool_start(event)
        elif kind == "tool_result":
            self._tool_result(event)
        elif kind == "compaction":
            from glasscoder.cli.output import compaction_line

            self.pause()
            self.console.print(Text(compaction_line(event), style="dim"))
            self._show_live()
        elif kind == "checkpoint" and event.get("error"):
            self.notice(f"glasscoder: {event['error']}")

    def waiting(self) -> None:
        """A request is on its way: show the spinner and status line until text arrives."""
        self._text, self._tool = "", None
        self._waiting_since = time.monotonic()
        self._show_live()

    def pause(self) -> None:
        """Take the live area down (before a prompt, a notice or the end of a turn)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def end_turn(self) -> None:
        """The turn is over: a reply cut short (Ctrl-C) stays on screen as far as it came."""
        self.pause()
        if self._text.strip():
            self.show_markdown(self._text)
            self.console.print(Text("[cut short]", style="dim"))
        self._text, self._tool = "", None

    def resume(self) -> None:
        """Bring the live area back after a question asked mid-call."""
        if self._tool is not None or self._text:
            self._show_live()

    def show_user(self, text: str) -> None:
        self.console.print(Text("❯ ", style="bold cyan") + Text(printable(text)))

    def show_markdown(self, text: str) -> None:
        self.console.print(_markdown(text))

    def show_diff(self, diff: str, limit: int | None = DIFF_LINES) -> None:
        lines = diff.splitlines()
        shown = lines if limit is None else lines[:limit]
        for line in shown:
            self.console.print(_diff_line(line))
        if len(lines) > len(shown):
            self.console.print(Text(f"  … {len(lines) - len(shown)} more diff lines (/diff)",
                                    style="dim"))  # fmt: skip

    def show_output(self, text: str) -> None:
        """Command output cut to its first and last lines, the rest counted."""
        lines = printable(text).splitlines()
        if len(lines) > OUTPUT_HEAD + OUTPUT_TAIL + 1:
            hidden = len(lines) - OUTPUT_HEAD - OUTPUT_TAIL
            lines = [*lines[:OUTPUT_HEAD], f"… {hidden} lines hidden …", *lines[-OUTPUT_TAIL:]]
        for line in lines:
            self.console.print(Text("  " + line, style="dim"))

    # --- the pieces -----------------------------------------------------------------------

    def _show_live(self) -> None:
        if self._live is None:
            self._live = Live(_LiveArea(self), console=self.console, transient=True,
                              refresh_per_second=8, auto_refresh=True)  # fmt: skip
            self._live.start()

    def _finish_text(self, content: str) -> None:
        text = self._text or content
        self.pause()
        if text.strip():
            self.show_markdown(text)
        self._text = ""

    def _tool_start(self, event: dict[str, Any]) -> None:
        self.pause()
        name, args = event["name"], event.get("arguments")
        what = _what(args)
        self._tool = (name, what)
        if name in EDIT_TOOLS and isinstance(args, dict):
            self._before = {str(args.get("path")): self._read(str(args.get("path", "")))}
        self._waiting_since = time.monotonic()
        self._show_live()

    def _tool_result(self, event: dict[str, Any]) -> None:
        self.pause()
        name, what = self._tool or (event.get("name", "?"), "")
        self._tool = None
        failed = event.get("is_error")
        mark = Text("✗ " if failed else "● ", style="red" if failed else "green")
        line = mark + Text(printable(name), style="bold") + Text(" " + printable(what))
        line += Text(f"  {event.get('seconds', 0):.1f} s", style="dim")
        self.console.print(line)
        content = str(event.get("content") or "")
        if failed:
            self.console.print(Text("  " + printable(content.splitlines()[0] if content else ""),
                                    style="red"))  # fmt: skip
        elif name in COMMAND_TOOLS:
            self.show_output(content)
        elif name in EDIT_TOOLS:
            self._show_edit()
        self._waiting_since = time.monotonic()
        self._show_live()  # the next request follows at once

    def _show_edit(self) -> None:
        for path, before in self._before.items():
            after = self._read(path)
            if after is None or after == before:
                continue
            self.show_diff(unified_diff(path, before or "", after))
        self._before = {}

    def edit_preview(self, tool: str, args: dict[str, Any]) -> str:
        """The diff an edit asked about would make (edit_file's exact match; the tool's
        fuzzy matching may place it a little differently)."""
        path = str(args.get("path", ""))
        before = self._read(path) or ""
        if tool == "write_file":
            return unified_diff(path, before, str(args.get("content", "")))
        old, new = str(args.get("old_string", "")), str(args.get("new_string", ""))
        if old and old in before:
            return unified_diff(path, before, before.replace(old, new, 1))
        return unified_diff(path, old, new)

    def _read(self, path: str) -> str | None:
        """A file's text as the workspace shows it (hidden and secret files: nothing)."""
        try:
            if not path or not self.workspace.is_file(path):
                return None
            data = self.workspace.read_bytes(path)
        except (WorkspaceError, OSError, ValueError):
            return None
        return None if len(data) > _MAX_DIFF_BYTES else data.decode("utf-8", "replace")

    def live_lines(self, height: int) -> list[Any]:
        """The live area: the reply's last lines, then the spinner and status line."""
        parts: list[Any] = []
        if self._text:
            parts.append(_Tail(_markdown(self._text), max(3, height - 3)))
        seconds = time.monotonic() - self._waiting_since
        label = f"{self._tool[0]} {self._tool[1]}" if self._tool else "thinking"
        if not self._text or self._tool:
            parts.append(Spinner("dots", Text(f" {printable(label)[:70]}  {seconds:.0f} s",
                                              style="cyan")))  # fmt: skip
        parts.append(Text(printable(self.status()), style="dim"))  # a model name is untrusted
        return parts


class _LiveArea:
    def __init__(self, screen: Screen) -> None:
        self.screen = screen

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Group(*self.screen.live_lines(console.size.height))


class _Tail:
    """The last `height` lines of a renderable: a long reply streams without scrolling the
    live area off the screen (it is printed whole when it ends)."""

    def __init__(self, renderable: Any, height: int) -> None:
        self.renderable, self.height = renderable, height

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options, pad=False)
        for line in lines[-self.height :]:
            yield from line
            yield Segment.line()


def _markdown(text: str) -> Any:
    from rich.markdown import Markdown  # here: markdown-it is ~50 ms the prompt need not wait

    return Markdown(printable(text), hyperlinks=False, code_theme="ansi_dark")


def _diff_line(line: str) -> Text:
    style = ""
    if line.startswith("+") and not line.startswith("+++"):
        style = "green"
    elif line.startswith("-") and not line.startswith("---"):
        style = "red"
    elif line.startswith("@@"):
        style = "cyan"
    return Text(printable(line), style=style)


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}", n=2)  # fmt: skip
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _what(args: Any) -> str:
    if not isinstance(args, dict):
        return ""
    for key in ("command", "path", "pattern", "target", "query", "name"):
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            first = value.strip().splitlines()[0]
            return first if len(first) <= 80 else first[:77] + "…"
    return ""
