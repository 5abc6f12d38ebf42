"""`@path` in a message: the file's content goes in with it.

Read through the workspace, so the ignore rules and the secret-file deny-list apply as they do
to the model's own reads; what is sent then passes the same redaction as every request.
"""

from __future__ import annotations

import re

from glasscoder.workspace import Workspace, WorkspaceError

MENTION = re.compile(r"(?:^|(?<=\s))@([^\s@]+)")
MAX_MENTION_CHARS = 60_000  # one file's share of a message; longer ones are cut and say so


def expand(text: str, workspace: Workspace) -> tuple[str, list[str]]:
    """The message with each mentioned file's content appended, and a note per mention that
    could not be read (shown to the person, not sent)."""
    blocks: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    for match in MENTION.finditer(text):
        path = match.group(1).rstrip(".,;:!?)")
        if path in seen:
            continue
        seen.add(path)
        try:
            if workspace.is_dir(path):
                notes.append(f"@{path} is a folder; mention files.")
                continue
            content = workspace.read_text(path)
        except (WorkspaceError, OSError, ValueError) as e:
            notes.append(f"@{path} not attached: {e}")
            continue
        if len(content) > MAX_MENTION_CHARS:
            cut = len(content) - MAX_MENTION_CHARS
            content = content[:MAX_MENTION_CHARS] + f"\n[... {cut:,} more characters not shown]"
        blocks.append(f'<file path="{path}">\n{content}\n</file>')
    if not blocks:
        return text, notes
    return text + "\n\n" + "\n\n".join(blocks), notes
