"""`glasscoder review`: flags in, a report out, exit 1 when findings at or above --fail-on.

With a model (--endpoint/--model or the config's endpoint) the review is a session: its own
folder, meta.json and audit log, the model built exactly as for an agent run (run.py). The
analyzers run in the sandbox an agent run would get (the `sandbox` setting, `--sandbox`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from glasscoder.errors import UsageError
from glasscoder.progress import progress
from glasscoder.review.finding import at_or_above
from glasscoder.review.report import to_json, to_text
from glasscoder.review.runner import ReviewResult, run_review
from glasscoder.review.sarif import to_sarif
from glasscoder.safetext import printable

if TYPE_CHECKING:
    from glasscoder.sandbox.choose import Choice


class _Notices:
    """What run.py's helpers expect of an output: somewhere for one-line notices."""

    def notice(self, message: str) -> None:
        click.echo(message, err=True)


def review_command(paths: list[Path], opts: dict[str, Any]) -> int:
    from glasscoder.config import load_settings
    from glasscoder.ignore import SECRET_FILES
    from glasscoder.workspace import Workspace

    out = _Notices()
    root = _root(opts["cwd"])
    flags = {"endpoint": opts["endpoint"], "model": opts["model"], "sandbox": opts["sandbox"]}
    settings = load_settings(root, flags)
    for warning in settings.warnings:
        out.notice(f"glasscoder: {warning}")
    sandbox = _sandbox(settings, out, root)
    workspace = Workspace(root, settings.ignore, deny=(*SECRET_FILES, *settings.deny))
    wants_model = not opts["no_model"] and bool(opts["endpoint"] or opts["model"]
                                                or settings.endpoint)  # fmt: skip
    with progress("reviewing: analyzers" + (" and the model" if wants_model else "")):
        if wants_model:
            result = _review_with_model(workspace, settings, paths, opts, out, sandbox)
        else:
            result = run_review(workspace, paths, opts["diff"], None, out.notice, sandbox)
    _emit(result, opts["format"], opts["output"])
    if opts["fix"]:
        return _fix(result, root, opts)
    failing = opts["fail_on"] != "never" and any(
        at_or_above(f, opts["fail_on"]) for f in result.findings
    )
    if result.incomplete:  # never a clean result when an analyzer gave none
        out.notice(f"glasscoder: review incomplete: {len(result.incomplete)} analyzer(s) gave "
                   "no result (see INCOMPLETE above); exit 1")  # fmt: skip
    return 1 if failing or result.incomplete else 0


def _root(cwd: Path | None) -> Path:
    root = (cwd or Path.cwd()).resolve()
    if not root.is_dir():
        raise UsageError(f"Workspace '{root}' is not a directory; pass --cwd DIR.")
    return root


def _sandbox(settings: Any, out: _Notices, root: Path) -> Choice:
    """sandbox/choose.py's Choice for the analyzers, made as run.py makes it (an insisted-on
    backend that does not work here raises), with the same notices."""
    from glasscoder.ignore import SECRET_FILES
    from glasscoder.sandbox.choose import choose

    choice = choose(settings.sandbox, deny=(*SECRET_FILES, *settings.deny), root=root)
    if choice.degraded:
        out.notice(f"glasscoder: {choice.degraded}")
    if choice.name == "none":
        out.notice("glasscoder: WARNING: analyzers run WITHOUT a sandbox (--sandbox none, your "
                   "explicit choice); programs inside the workspace are not used")  # fmt: skip
    return choice


def _review_with_model(
    workspace: Any,
    settings: Any,
    paths: list[Path],
    opts: dict[str, Any],
    out: _Notices,
    sandbox: Choice,
) -> ReviewResult:
    from glasscoder.agent.session import Session
    from glasscoder.cli.run import build_model, choose_backend
    from glasscoder.config import data_home
    from glasscoder.guard.audit import AuditLog
    from glasscoder.guard.audit_report import summarize, summary_line

    choose_backend(settings, out)
    what = " ".join(str(p) for p in paths) or "."
    session = Session.create(
        data_home() / "sessions",
        {"workspace": str(workspace.root), "endpoint": settings.endpoint, "model": settings.model,
         "kind": "review", "task": f"review {what}" + (f" --diff {opts['diff']}"
                                                       if opts["diff"] else ""),
         "sandbox": sandbox.name, "status": "running"},
    )  # fmt: skip
    audit = AuditLog(session.audit_path)
    model = build_model(settings, workspace, audit, out)
    status = "error"
    try:
        result = run_review(workspace, paths, opts["diff"], model, out.notice, sandbox)
        status = "done"
    finally:
        if close := getattr(model, "close", None):
            close()
        session.meta.update(status=status)
        session.save_meta()
        out.notice(summary_line(summarize(session.audit_path)))
    result.session_id = session.id
    return result


def _emit(result: ReviewResult, fmt: str, output: Path | None) -> None:
    if fmt == "sarif":
        text = to_sarif(result.findings, result.incomplete)
    elif fmt == "json":
        text = to_json(result.findings, result.notes, result.dropped, result.session_id,
                       result.incomplete)  # fmt: skip
    else:
        text = to_text(result.findings, result.notes, result.dropped, result.incomplete)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        if fmt == "sarif":  # SARIF here carries no notes; a skipped layer must still be told
            for note in result.notes:
                click.echo(f"glasscoder: {printable(note)}", err=True)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot write {output}: {exc.strerror or exc}.") from None
    if fmt != "text":
        sys.stdout.write(to_text(result.findings, result.notes, result.dropped, result.incomplete))


def _fix(result: ReviewResult, root: Path, opts: dict[str, Any]) -> int:
    """Hand the findings to the agent; the exit code is the agent run's."""
    from glasscoder.cli.run import run_headless
    from glasscoder.review.fix import fix_task

    if not result.findings:
        click.echo("glasscoder: nothing to fix.", err=True)
        return 0
    run_opts = {"output_format": "text", "resume": None, "cwd": root,
                "endpoint": opts["endpoint"], "model": opts["model"],
                "sandbox": opts["sandbox"]}  # fmt: skip
    return run_headless(fix_task(result.findings), run_opts)
