"""`glasscoder undo` and `glasscoder checkpoints`: a session's file changes taken back."""

from __future__ import annotations

import time
from pathlib import Path

import click

from glasscoder.agent.checkpoints import CheckpointError, Checkpoints
from glasscoder.config import load_settings
from glasscoder.errors import UsageError
from glasscoder.safetext import printable


def _open(cwd: Path | None) -> tuple[Checkpoints, Path]:
    from glasscoder.agent.undo import open_checkpoints, store_for

    root = (cwd or Path.cwd()).resolve()
    if not store_for(root).is_dir():
        raise UsageError(f"No checkpoints for {root}: no session changed files here.")
    return open_checkpoints(root, load_settings(root, {})), root


def _session(session_id: str | None, root: Path) -> str:
    from glasscoder.agent.session import latest_session

    sid = session_id or latest_session(root)
    if sid is None:
        raise UsageError(f"No session in {root}; pass --session ID (`glasscoder sessions`).")
    return sid


def undo_command(cwd: Path | None, session_id: str | None, turns: int, to_start: bool,
                 redo: bool) -> int:  # fmt: skip
    from glasscoder.agent import undo

    checkpoints, root = _open(cwd)
    try:
        if redo:
            target = undo.redo_target(checkpoints)
        else:
            target = undo.undo_target(checkpoints, _session(session_id, root), turns, to_start)
        result, diff = undo.restore(checkpoints, target)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    finally:
        checkpoints.close()
    click.echo(printable(diff), nl=False)
    click.echo(printable(undo.summary(result)), err=True)
    click.echo("Take it back with: glasscoder undo --redo", err=True)
    return 1 if result.kept else 0


def checkpoints_command(cwd: Path | None, session_id: str | None) -> None:
    from glasscoder.agent import undo

    checkpoints, root = _open(cwd)
    try:
        sid = _session(session_id, root)
        mine = undo.of_session(checkpoints, sid)
        previous = None
        for checkpoint in mine:
            changed = "" if previous is None else _changed(checkpoints, previous, checkpoint.id)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(checkpoint.time))
            click.echo(printable(f"{checkpoint.id}  {stamp}  {checkpoint.files} files  "
                                 f"{checkpoint.label}{changed}"))  # fmt: skip
            _say_skipped(checkpoint.skipped)
            previous = checkpoint.id
        if not mine:
            click.echo(f"Session {sid} has no checkpoint (it changed no file).", err=True)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    finally:
        checkpoints.close()


def _say_skipped(skipped: dict[str, str], shown: int = 5) -> None:
    """The files a checkpoint did not keep (an undo leaves them as they are), and why."""
    for path, why in sorted(skipped.items())[:shown]:
        click.echo(printable(f"      not kept: {path} ({why})"))
    if len(skipped) > shown:
        click.echo(f"      and {len(skipped) - shown} more not kept")


def _changed(checkpoints: Checkpoints, a: str, b: str) -> str:
    changes = checkpoints.diff(a, b)
    count = len(changes.created) + len(changes.deleted) + len(changes.modified) \
        + len(changes.mode_changed)  # fmt: skip
    return f"  ({count} file(s) differ from the one before)" if count else ""
