"""Choosing a saved session of this workspace, and showing where it left off."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from rich.console import Console
from rich.text import Text

from glasscoder.agent.session import Session, workspace_sessions
from glasscoder.safetext import printable

if TYPE_CHECKING:
    from glasscoder.interactive.screen import Screen

SHOWN = 15  # sessions offered
REPLAYED = 6  # messages shown again on resume


def pick_session(console: Console, root: Path, reader: PromptSession[str] | None = None) -> str:
    """The id chosen from this workspace's latest sessions; "" when none or cancelled."""
    found = workspace_sessions(root)[:SHOWN]
    if not found:
        console.print(Text("No saved session in this workspace.", style="yellow"))
        return ""
    for number, meta in enumerate(found, 1):
        task = str(meta.get("task") or "").strip().splitlines()
        console.print(Text(f"  {number:2}  ", style="cyan") + Text(printable(
            f"{str(meta.get('updated', ''))[:16]}  {meta.get('status', '?')!s:8} "
            f"{task[0][:70] if task else '(no task)'}")))  # fmt: skip
    reader = reader or PromptSession()
    while True:
        try:
            reply = reader.prompt("  number (Enter: cancel) ❯ ").strip()
        except (KeyboardInterrupt, EOFError):
            return ""
        if not reply:
            return ""
        if reply.isdigit() and 1 <= int(reply) <= len(found):
            return str(found[int(reply) - 1]["id"])
        console.print(Text(f"  A number from 1 to {len(found)}.", style="dim"))


def replay(screen: Screen, session: Session) -> None:
    """The last exchanges of a resumed session, so the person sees where it stands."""
    said = [m for m in session.messages if m.get("role") in ("user", "assistant")
            and isinstance(m.get("content"), str) and m["content"].strip()]  # fmt: skip
    screen.console.print(Text(f"Resumed session {session.id} ({len(session.messages)} "
                              "messages); the last of them:", style="dim"))  # fmt: skip
    for message in said[-REPLAYED:]:
        if message["role"] == "user":
            screen.show_user(_typed(message["content"])[:2000])
        else:
            screen.show_markdown(message["content"][:4000])


def _typed(content: str) -> str:
    """A user message as the person typed it: without the files its @mentions attached or the
    repo map the first task carries."""
    from glasscoder.repomap.build import MAP_HEADER

    for added in ("\n\n<file ", "\n\n" + MAP_HEADER):
        content = content.split(added, 1)[0]
    return content
