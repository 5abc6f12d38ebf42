"""Putting one tool call to the person: yes once, yes for this command for the session,
or no with a reason that goes to the model."""

from __future__ import annotations

from prompt_toolkit import PromptSession
from rich.console import Console
from rich.text import Text

from glasscoder.guard.approval import Answer, Request
from glasscoder.safetext import printable

_WHY = {
    "command": "Run this command in the sandbox?",
    "edit": "Make this edit?",
    "no sandbox": "No sandbox is available: this command would run with all your rights, "
    "unconfined. Run it anyway?",
}


def ask_person(
    console: Console, request: Request, reader: PromptSession[str] | None = None
) -> Answer:
    """The person's answer; Ctrl-C or Ctrl-D here stops the turn (KeyboardInterrupt goes up)."""
    console.print(Text(_WHY.get(request.why, "Allow this?"), style="bold yellow"))
    console.print(Text(f"  {request.tool}: ", style="bold") + Text(printable(request.what)))
    choices = "[y] yes once"
    if request.prefix:
        choices += f"   [a] yes to `{printable(request.prefix)}` for this session"
    choices += "   [n] no, and say why"
    console.print(Text("  " + choices, style="cyan"))
    reader = reader or PromptSession()
    try:
        return _read_answer(console, request, reader)
    except EOFError:  # Ctrl-D: as Ctrl-C, the turn stops and nothing runs
        raise KeyboardInterrupt from None


def _read_answer(console: Console, request: Request, reader: PromptSession[str]) -> Answer:
    while True:
        reply = reader.prompt("  y/a/n ❯ ").strip().lower()
        if reply in ("y", "yes"):
            return Answer("once")
        if reply in ("a", "always") and request.prefix:
            return Answer("session")
        if reply in ("n", "no"):
            reason = reader.prompt("  why (goes to the model; Enter for none) ❯ ")
            return Answer("no", reason)
        console.print(Text("  Type y, n" + (" or a" if request.prefix else "") + ".",
                           style="dim"))  # fmt: skip


def ask_host(
    console: Console, host: str, port: int, reader: PromptSession[str] | None = None
) -> str:
    """A command's connection to a host the allow-list does not name: "once", "session"
    (the host and port for the rest of the session) or "no"."""
    where = printable(f"{host}:{port}")
    console.print(Text(f"A command wants to reach {where}, which --allow-net does not list.",
                       style="bold yellow"))  # fmt: skip
    console.print(Text(f"  [y] yes, this connection   [a] yes to {where} for this session   "
                       "[n] no", style="cyan"))  # fmt: skip
    reader = reader or PromptSession()
    while True:
        reply = reader.prompt("  y/a/n ❯ ").strip().lower()
        if reply in ("y", "yes", "a", "always", "n", "no"):
            return {"y": "once", "a": "session", "n": "no"}[reply[0]]
        console.print(Text("  Type y, a or n.", style="dim"))
