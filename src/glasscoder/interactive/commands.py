"""Slash commands: a name, a line of help, and what it does to the App. /help lists them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from glasscoder.guard.approval import MODES
from glasscoder.safetext import printable

if TYPE_CHECKING:
    from glasscoder.interactive.app import App

Result = str | None  # "exit" ends the session


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable[[App, str], Result]


def run_command(app: App, line: str) -> Result:
    name, _, arg = line[1:].strip().partition(" ")
    command = COMMANDS.get(name.lower())
    if command is None:
        app.notice(f"Unknown command /{printable(name)}; /help lists them. (To send a message "
                   "that starts with /, put a space before it.)")  # fmt: skip
        return None
    return command.run(app, arg.strip())


def _help(app: App, arg: str) -> Result:
    table = Table(show_header=False, box=None, padding=(0, 2))
    for name, command in COMMANDS.items():
        table.add_row(f"/{name}", command.help)
    for keys, what in _KEYS:
        table.add_row(keys, what)
    app.console.print(table)
    return None


_KEYS = [
    ("Enter", "send; Alt-Enter (Esc, Enter): new line (a paste keeps its lines)"),
    ("@path", "attach a file (Tab completes); it passes the same redaction as all that is sent"),
    ("!command", "run a command in the sandbox; its output goes with your next message"),
    ("Ctrl-C", "stop the current turn; twice at the prompt: exit"),
    ("Ctrl-D", "exit"),
]


def _exit(app: App, arg: str) -> Result:
    return "exit"


def _undo(app: App, arg: str) -> Result:
    from glasscoder.agent import undo
    from glasscoder.agent.checkpoints import CheckpointError

    if app.session is None:
        app.notice("Nothing to undo: no message has been sent in this session yet.")
        return None
    word = arg.strip().lower()
    if word and word not in ("all", "redo") and not (word.isdigit() and int(word) > 0):
        app.notice("/undo takes back the last changing turn; /undo N, /undo all, /undo redo.")
        return None
    own = app.agent is not None and app.agent.checkpoints is not None
    checkpoints = (
        app.agent.checkpoints
        if own
        else undo.open_checkpoints(  # type: ignore[union-attr]
            app.workspace.root, app.settings
        )
    )
    try:
        if word == "redo":
            target = undo.redo_target(checkpoints)
        else:
            turns = int(word) if word.isdigit() else 1
            target = undo.undo_target(checkpoints, app.session.id, turns, word == "all")
        result, diff = undo.restore(checkpoints, target)
    except (CheckpointError, OSError) as e:
        app.notice(f"glasscoder: {e}")
        return None
    finally:
        if not own:
            checkpoints.close()
    app.screen.show_diff(diff or "(no file differed)\n", None)
    app.notice(undo.summary(result) + "\n/undo redo takes it back.")
    app.pending.append(f"[I restored the files to checkpoint {result.checkpoint.id} "
                       f"({result.checkpoint.label}): your changes since are undone. Read "
                       "files again before editing them.]")  # fmt: skip
    return None


def _compact(app: App, arg: str) -> Result:
    from glasscoder.errors import UserFacingError

    if app.session is None:
        app.notice("Nothing to compact: no message has been sent in this session yet.")
        return None
    try:
        agent = app.ensure_agent("")
        with app.console.status("compacting…", spinner="dots"):
            result = agent.compact("asked", force=True)
    except UserFacingError as e:
        app.notice(f"glasscoder: {e}")
        return None
    if result is None:
        app.notice("Nothing to compact: the conversation is as short as it gets.")
    return None


def _diff(app: App, arg: str) -> Result:
    from glasscoder.agent.changes import session_diff

    if not app.files_changed:
        app.notice("No file has changed in this session.")
        return None
    diff = session_diff(app.workspace.root, sorted(app.files_changed))
    if diff is None:
        app.notice("Not a git repository, so there is no diff to show; changed: "
                   + ", ".join(sorted(app.files_changed)))  # fmt: skip
        return None
    app.screen.show_diff(diff or "(the changed files match git's version again)\n", None)
    return None


def _clear(app: App, arg: str) -> Result:
    app.drop_agent()
    app.session, app.files_changed, app.pending = None, set(), []
    app.context_used = 0
    app.notice("New session: the next message starts it.")
    return None


def _model(app: App, arg: str) -> Result:
    if not arg:
        app.notice(f"Model: {app.settings.model} ({app.destination()}). /model NAME switches "
                   "to another model the same endpoint serves.")  # fmt: skip
        return None
    if app.settings.endpoint is None:
        app.notice("The model runs in-process; start glasscoder with --model FILE.gguf (or "
                   "another --endpoint) to change it.")  # fmt: skip
        return None
    app.drop_agent()
    app.settings.model = arg
    app.notice(f"Model: {arg}; the next message uses it.")
    return None


def _approval(app: App, arg: str) -> Result:
    mode = app.agent.approval.mode if app.agent else app.settings.approval
    if not arg:
        app.notice(f"Approval mode: {mode}. /approval MODE sets it: " + ", ".join(MODES)
                   + " (README: Approval modes).")  # fmt: skip
        return None
    if arg not in MODES:
        app.notice(f"Unknown mode '{printable(arg)}'; one of {', '.join(MODES)}.")
        return None
    app.settings.approval = arg
    if app.agent is not None:
        if (arg == "plan") != (mode == "plan"):
            app.drop_agent()  # plan mode offers the model other tools: rebuilt next message
        else:
            app.agent.approval.mode = arg
    app.notice(f"Approval mode: {arg}.")
    return None


def _sessions(app: App, arg: str) -> Result:
    from glasscoder.agent.session import workspace_sessions

    found = workspace_sessions(app.workspace.root)
    if not found:
        app.notice("No saved session in this workspace yet.")
        return None
    for meta in found[:20]:
        app.console.print(Text(_session_line(meta)))
    return None


def _session_line(meta: dict[str, object]) -> str:
    task = str(meta.get("task") or "").strip().splitlines()
    return printable(f"{meta.get('id')}  {str(meta.get('updated', ''))[:16]}  "
                     f"{meta.get('status', '?')!s:8} {task[0][:60] if task else ''}")  # fmt: skip


def _resume(app: App, arg: str) -> Result:
    from glasscoder.interactive.pick import pick_session, replay

    sid = arg or pick_session(app.console, app.workspace.root)
    if not sid:
        return None
    from glasscoder.agent.session import Session
    from glasscoder.config import data_home
    from glasscoder.errors import UserFacingError

    try:
        session = Session.load(data_home() / "sessions", sid)
    except UserFacingError as e:
        app.notice(f"glasscoder: {e}")
        return None
    if session.meta.get("workspace") != str(app.workspace.root):
        app.notice(f"Session {sid} belongs to {session.meta.get('workspace')}; open it there.")
        return None
    app.drop_agent()
    app.session, app.pending = session, []
    app.files_changed = set(session.meta.get("files_changed") or [])
    replay(app.screen, session)
    return None


def _audit(app: App, arg: str) -> Result:
    from glasscoder.guard.audit import AuditError
    from glasscoder.guard.audit_report import summarize, summary_line

    if app.session is None or not app.session.audit_path.exists():
        app.notice(f"Nothing sent yet in this session; requests will go {app.destination()}.")
        return None
    try:
        app.notice(summary_line(summarize(app.session.audit_path)))
    except AuditError as e:
        app.notice(f"glasscoder: {e}")
    app.notice(f"Every request: glasscoder audit show {app.session.id}")
    return None


def _cost(app: App, arg: str) -> Result:
    usage = app.usage
    minutes = (time.monotonic() - app.started) / 60
    app.notice(f"{usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion tokens "
               f"in {app.turns} model turns; {minutes:.1f} min since start. A local model "
               "costs no money: only your machine's time.")  # fmt: skip
    return None


COMMANDS: dict[str, Command] = {
    "help": Command("commands and keys", _help),
    "diff": Command("this session's changes, as a diff", _diff),
    "undo": Command("take back the last changing turn (/undo N, /undo all, /undo redo)", _undo),
    "compact": Command("shorten the conversation now (stubs, then a summary)", _compact),
    "clear": Command("start a new session", _clear),
    "model": Command("show the model, or /model NAME to switch", _model),
    "approval": Command("show or set the approval mode (plan, ask, auto-edit, auto)", _approval),
    "sessions": Command("this workspace's sessions", _sessions),
    "resume": Command("continue a session (/resume ID, or pick one)", _resume),
    "audit": Command("what this session sent, and where", _audit),
    "cost": Command("tokens and time used", _cost),
    "exit": Command("leave (the session is saved)", _exit),
}
