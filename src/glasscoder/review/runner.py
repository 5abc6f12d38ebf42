"""One review: which files, the static layer, the model layer (when configured), merged.

A review with a model is a session like an agent run (its own folder, meta.json and audit
log), and its requests leave through the same model client, redaction and egress guard.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from glasscoder.errors import UsageError, UserFacingError
from glasscoder.review import model_layer
from glasscoder.review.diffscope import DiffScope, diff_scope, hunks
from glasscoder.review.finding import Finding
from glasscoder.review.merge import merge
from glasscoder.review.model_layer import Dropped
from glasscoder.review.sources import Sources
from glasscoder.review.static_layer import static_findings
from glasscoder.safetext import printable
from glasscoder.sandbox.choose import Choice, choose
from glasscoder.workspace import Workspace, WorkspaceError

MAP_TOKENS = 1000  # repo-map context per request, when the repo map is available


@dataclass
class ReviewResult:
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    session_id: str | None = None
    files: list[str] = field(default_factory=list)
    # Analyzers that gave no result (could not start, timed out, failed): the review is
    # incomplete, whatever the findings say.
    incomplete: list[str] = field(default_factory=list)


def select_files(workspace: Workspace, paths: list[Path], scope: DiffScope | None) -> list[str]:
    """The source files under review: the given paths (default: all) that a language claims,
    narrowed to the changed ones with --diff."""
    from glasscoder.languages.registry import SKIP_DIRS, language_for

    chosen: list[str] = []
    with workspace.frozen_rules():  # the ignore files read once for the whole walk
        for path in paths or [Path(".")]:
            try:  # a relative path is relative to the workspace root, like git -C
                chosen += list(workspace.walk(workspace.rel(str(path))))
            except WorkspaceError as exc:
                raise UsageError(f"Cannot review '{path}': {exc}.") from None
    if scope is not None:
        changed = set(scope.files)
        chosen = [f for f in chosen if f in changed]
    return sorted({f for f in chosen if language_for(f) and not _in_skipped(f, SKIP_DIRS)})


def _in_skipped(file: str, skip: frozenset[str]) -> bool:
    return any(part in skip for part in PurePosixPath(file).parts[:-1])


def run_review(
    workspace: Workspace,
    paths: list[Path],
    diff: str | None,
    model: Any | None,
    notice: Callable[[str], None],
    sandbox: Choice | None = None,
) -> ReviewResult:
    """sandbox: where the analyzers run, chosen as for a run; None: the `auto` choice."""
    scope = diff_scope(workspace.root, diff) if diff else None
    sources = Sources(workspace)
    files = select_files(workspace, paths, scope)
    if not files:
        return ReviewResult([], ["no source files to review"], files=files)
    found, notes, incomplete = static_findings(
        sources, files, sandbox or choose("auto", root=workspace.root)
    )
    dropped: list[Dropped] = []
    if model is not None:
        more, dropped = model_findings(model, sources, files, scope, notice)
        found += more
    if scope is not None:
        found = [f for f in found if scope.touches(f.file, f.line)]
    return ReviewResult(merge(found), notes, dropped, files=files, incomplete=incomplete)


def model_findings(
    model: Any,
    sources: Sources,
    files: list[str],
    scope: DiffScope | None,
    notice: Callable[[str], None],
) -> tuple[list[Finding], list[Dropped]]:
    found: list[Finding] = []
    dropped: list[Dropped] = []
    root = sources.workspace.root
    context_for = repo_map(sources.workspace, notice)
    for file in files:
        lines = sources.lines(file)
        if lines is None:
            continue
        units = _units(root, file, lines, scope)
        if not units:
            continue
        notice(printable(f"glasscoder: reviewing {file} with {model.name} ({len(units)} "
                         "request(s))"))  # fmt: skip
        context = context_for(file)
        for unit in units:
            kept, lost = model_layer.review_unit(model, unit, lines, context)
            found += kept
            dropped += lost
    return found, dropped


def _units(
    root: Path, file: str, lines: list[str], scope: DiffScope | None
) -> list[model_layer.Unit]:
    if scope is None:
        return model_layer.file_units(file, lines)
    unit = model_layer.diff_unit(file, hunks(root, scope.rev, file))
    return [unit] if unit is not None else []


def repo_map(workspace: Workspace, notice: Callable[[str], None]) -> Callable[[str], str]:
    """file -> the repository map focused on it (definitions elsewhere that it may use), or ""
    when the repo map's grammars are not installed or the map fails: it helps, never blocks."""
    try:
        from glasscoder.repomap.build import map_text, open_index
    except ImportError:
        return lambda _file: ""
    try:
        index = open_index(workspace)
    except (UserFacingError, OSError, ValueError, sqlite3.Error) as exc:
        notice(f"glasscoder: reviewing without a repo map: {exc}")
        return lambda _file: ""

    def context(file: str) -> str:
        try:
            return map_text(index, f"review {file}", [file], MAP_TOKENS)
        except (UserFacingError, WorkspaceError, OSError, ValueError, sqlite3.Error):
            return ""

    return context
