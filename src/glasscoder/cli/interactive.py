"""`glasscoder` on a terminal: the interactive session's set-up. The UI (rich,
prompt_toolkit) is imported only here, so `--help` and headless runs start as fast as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glasscoder.agent.session import Session
from glasscoder.cli import run as wiring
from glasscoder.config import data_home, load_settings
from glasscoder.errors import UsageError
from glasscoder.guard.audit_report import IN_PROCESS
from glasscoder.ignore import SECRET_FILES
from glasscoder.workspace import Workspace


def run_interactive(first: str | None, opts: dict[str, Any]) -> int:
    from rich.text import Text

    from glasscoder.interactive.app import App
    from glasscoder.interactive.screen import make_console

    color = opts.pop("color")
    console = make_console(color)
    opts.pop("output_format")
    session = _session_to_continue(opts.pop("resume"), opts.pop("continue_"), opts["cwd"],
                                   console)  # fmt: skip
    for warning in session.warnings if session else []:
        console.print(Text(f"glasscoder: {warning}", style="yellow"))
    root = wiring.workspace_root(opts.pop("cwd"), session)
    pull, trust_unpinned = opts.pop("pull", False), opts.pop("trust_unpinned", False)
    settings = load_settings(root, opts)
    app_out = _Notices(console)
    for warning in settings.warnings:
        app_out.notice(f"glasscoder: {warning}")
    _choose_model(settings, app_out, pull, trust_unpinned)
    workspace = Workspace(root, settings.ignore, deny=(*SECRET_FILES, *settings.deny))
    app = App(settings, workspace, console, color, session)
    _greet(app)
    if session is not None:
        from glasscoder.interactive.pick import replay

        replay(app.screen, session)
    return app.loop(first)


def _session_to_continue(resume: str | None, continue_: bool, cwd: Path | None,
                         console: Any) -> Session | None:  # fmt: skip
    from glasscoder.agent.session import latest_session

    root = (cwd or Path.cwd()).resolve()
    if continue_ and resume:
        raise UsageError("Pass either -c/--continue or --resume ID, not both.")
    if resume == "":
        from glasscoder.interactive.pick import pick_session

        resume = pick_session(console, root) or None
        if resume is None:
            return None
    elif continue_:
        resume = latest_session(root)
        if resume is None:
            raise UsageError("No earlier session in this workspace to continue; start one "
                             'with glasscoder or glasscoder "TASK".')  # fmt: skip
    return Session.load(data_home() / "sessions", resume) if resume else None


def _choose_model(settings: Any, out: Any, pull: bool, trust_unpinned: bool) -> None:
    """The model as a headless run picks it; with none configured, the first-run choice."""
    from glasscoder.cli.firstrun import choose_model, needs_model, no_model_hint

    if needs_model(settings) and not choose_model(settings):
        raise UsageError(no_model_hint())
    wiring.choose_model_backend(settings, out, pull, trust_unpinned)


def _greet(app: Any) -> None:
    from rich.text import Text

    from glasscoder import __version__

    where = app.destination()
    from glasscoder.safetext import printable

    app.console.print(Text(printable(f"glasscoder {__version__} · {app.workspace.root} · "
                                     f"{where if where != IN_PROCESS else ''}"), style="dim")
                      + Text("  /help for commands, Ctrl-D to leave", style="dim"))  # fmt: skip


class _Notices:
    def __init__(self, console: Any) -> None:
        self.console = console

    def notice(self, message: str) -> None:
        from rich.text import Text

        from glasscoder.safetext import printable

        self.console.print(Text(printable(message), style="yellow"))
