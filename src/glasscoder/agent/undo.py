"""A session's checkpoints and undo, over checkpoints.py's store.

One store per workspace, under the data home (never in the repository): content is shared
by every session there, and the walk's cache makes a new session's first checkpoint cheap.
A session's own checkpoints are those labelled with its id; `undo` restores the newest of them
that differs from the files as they are now (the state before the last turn that changed
something), `--turns N` goes N such states back, `--all` to the session's first. Each restore
is itself checkpointed first ("before undo of ..."), and `redo` restores the newest of those.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from glasscoder.agent.checkpoints import Checkpoint, CheckpointError, Checkpoints, Restore
from glasscoder.config import Settings, data_home
from glasscoder.ignore import SECRET_FILES

BEFORE_UNDO = "before undo of "


def store_for(root: Path) -> Path:
    digest = hashlib.sha256(str(root.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return data_home() / "checkpoints" / digest[:24]


def open_checkpoints(root: Path, settings: Settings) -> Checkpoints:
    store = store_for(root)
    return Checkpoints(root, store, extra_ignores=settings.ignore,
                       deny=(*SECRET_FILES, *settings.deny),
                       max_file_bytes=settings.checkpoint_max_file_bytes,
                       cache=store / "walk-cache.json")  # fmt: skip


def turn_label(session_id: str, turn: int, what: str) -> str:
    return f"session {session_id} turn {turn}: {what}"


def of_session(checkpoints: Checkpoints, session_id: str) -> list[Checkpoint]:
    """The session's turn checkpoints, oldest first."""
    prefix = f"session {session_id} "
    return [c for c in checkpoints.list() if c.label.startswith(prefix)]


def undo_target(
    checkpoints: Checkpoints, session_id: str, turns: int = 1, to_start: bool = False
) -> Checkpoint:
    """The checkpoint an undo restores: `turns` changing turns back, or the session's first."""
    mine = of_session(checkpoints, session_id)
    if not mine:
        raise CheckpointError(f"session {session_id} has no checkpoint: it changed no file")
    if to_start:
        return mine[0]
    # Where the files stand: the newest checkpoint equal to them (after an undo), else past
    # the newest. Undo goes back from there, counting each state that differs.
    present = checkpoints.current()
    states = [checkpoints.manifest(c.id) for c in mine]
    at = next((i for i in range(len(mine) - 1, -1, -1) if states[i] == present), len(mine))
    counted, found = present, 0
    for i in range(at - 1, -1, -1):
        if states[i] == counted:
            continue
        counted, found = states[i], found + 1
        if found == turns:
            return mine[i]
    if found == 0:
        raise CheckpointError(f"nothing to undo: the files are as they were before every turn "
                              f"of session {session_id} that changed them")  # fmt: skip
    raise CheckpointError(f"session {session_id} has {found} changing turn(s) to undo, "
                          f"not {turns}; --all goes back to its start")  # fmt: skip


def redo_target(checkpoints: Checkpoints) -> Checkpoint:
    """The state the latest undo replaced."""
    befores = [c for c in checkpoints.list() if c.label.startswith(BEFORE_UNDO)]
    if not befores:
        raise CheckpointError("no undo to take back in this workspace")
    return befores[-1]


def restore(checkpoints: Checkpoints, target: Checkpoint) -> tuple[Restore, str]:
    """Restore `target`; the result and the diff it applied (computed before it ran)."""
    _, diff = checkpoints.preview(target.id)
    return checkpoints.restore(target.id), diff


def summary(result: Restore) -> str:
    """One line: what the restore changed and how to take it back."""
    changes = result.changes
    parts = [f"{len(paths)} {what}" for paths, what in (
        (changes.modified, "modified"), (changes.created, "restored"),
        (changes.deleted, "removed"), (changes.mode_changed, "mode changed")) if paths]  # fmt: skip
    line = (f"Restored checkpoint {result.checkpoint.id} ({result.checkpoint.label}): "
            f"{', '.join(parts) or 'no file differed'}.")  # fmt: skip
    for path, why in sorted(result.kept.items()):
        line += f"\n  {path}: {why}"
    return line
