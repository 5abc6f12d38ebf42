"""`glasscoder map [PATH] [--tokens N] [--focus FILE...]`: print the repo map."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from glasscoder.config import load_settings
from glasscoder.errors import UsageError
from glasscoder.ignore import SECRET_FILES
from glasscoder.progress import progress
from glasscoder.safetext import printable
from glasscoder.workspace import Workspace, WorkspaceError


def map_command(path: Path | None, tokens: int | None, focus: tuple[str, ...]) -> None:
    from glasscoder.repomap.build import DEFAULT_TOKENS, map_text, open_index

    root = (path or Path.cwd()).resolve()
    if not root.is_dir():
        raise UsageError(f"'{path}' is not a directory; pass the repository's folder.")
    settings = load_settings(root, {})
    workspace = Workspace(root, settings.ignore, deny=(*SECRET_FILES, *settings.deny))
    started = time.monotonic()
    index = open_index(workspace)
    try:
        focus_files = [_in_workspace(f, workspace) for f in focus]
        with progress("mapping the repository", total=0) as advance:
            text = map_text(index, "", focus_files,
                            tokens or settings.map_tokens or DEFAULT_TOKENS, advance)  # fmt: skip
    except WorkspaceError as e:
        raise UsageError(f"--focus: {e}") from None
    sys.stdout.write(printable(text) if text else "(no mapped source files)\n")
    click.echo(
        f"glasscoder: {len(index.files)} files mapped, {index.parses} parsed "
        f"({time.monotonic() - started:.2f} s)",
        err=True,
    )


def _in_workspace(name: str, workspace: Workspace) -> str:
    """A focus file as given from here, or failing that relative to the workspace root."""
    here = Path(name).absolute()
    rel = workspace.rel(str(here)) if here.exists() else workspace.rel(name)
    if not workspace.is_file(rel):
        raise WorkspaceError(f"'{name}' is not a file in {workspace.root}")
    return rel
