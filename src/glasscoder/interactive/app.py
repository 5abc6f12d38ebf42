"""One interactive session: read a line, run it (a message, a `!command`, a slash command),
show what happens, until /exit, Ctrl-D or a second Ctrl-C at the prompt.

The session on disk is created with the first message, so opening glasscoder and leaving
leaves nothing behind; the model is built then too, while the prompt is already up.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from glasscoder.agent.loop import Agent, Outcome, Terminated, terminate_as_interrupt
from glasscoder.agent.session import Session
from glasscoder.cli import run as wiring
from glasscoder.cli.output import refused_line
from glasscoder.config import Settings, data_home
from glasscoder.errors import UserFacingError
from glasscoder.guard.approval import Answer, Request
from glasscoder.guard.audit import AuditLog
from glasscoder.interactive import mentions
from glasscoder.interactive.ask import ask_host, ask_person
from glasscoder.interactive.prompt import PROMPT, InputCompleter, make_prompt
from glasscoder.interactive.screen import Screen
from glasscoder.models.base import Usage
from glasscoder.safetext import printable
from glasscoder.workspace import Workspace

SECOND_CTRL_C = "Press Ctrl-C again (or Ctrl-D) to exit."


class App:
    def __init__(self, settings: Settings, workspace: Workspace, console: Console,
                 color: str, session: Session | None = None) -> None:  # fmt: skip
        from glasscoder.interactive.commands import COMMANDS

        self.settings, self.workspace, self.console = settings, workspace, console
        self.session = session
        self.agent: Agent | None = None
        self.audit: AuditLog | None = None
        self.proxy: Any = None
        self.started = time.monotonic()
        self.usage = Usage()
        self.turns = 0
        self.context_used = 0  # the last request's prompt and reply, in tokens
        self.files_changed: set[str] = set(session.meta.get("files_changed") or []) if session \
            else set()  # fmt: skip
        self.pending: list[str] = []  # `!command` output going with the next message
        self.sandbox_name = "…"
        self.terminated = False  # SIGTERM came: the session is saved and the loop ends
        self._sdk_started = False
        self._asking = threading.Lock()  # a tool call's and a command's network question
        self.screen = Screen(console, workspace, self.status_text)
        self.input = make_prompt(
            data_home() / "history",
            InputCompleter({name: c.help for name, c in COMMANDS.items()}, workspace),
            self.status_text,
            color,
        )
        threading.Thread(target=self._learn_sandbox, daemon=True).start()

    # --- the loop -------------------------------------------------------------------------

    def loop(self, first: str | None) -> int:
        """Until /exit, Ctrl-D, a second Ctrl-C at the prompt (0) or SIGTERM (1)."""
        with terminate_as_interrupt():  # SIGTERM: the terminal restored, the session saved
            try:
                self._read_and_run(first)
            except Terminated:
                self.terminated = True
        self.close()
        return 1 if self.terminated else 0

    def _read_and_run(self, first: str | None) -> None:
        from glasscoder.interactive.commands import run_command

        if first:
            self.screen.show_user(first)
            self.send(first)
        interrupts = 0
        while not self.terminated:
            try:
                line = self.input.prompt(PROMPT, pre_run=self._after_first_prompt)
            except Terminated:
                raise
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts >= 2:
                    break
                self.console.print(Text(SECOND_CTRL_C, style="dim"))
                continue
            except EOFError:
                break
            interrupts = 0
            if not line.strip():
                continue
            if line.startswith("/") and run_command(self, line) == "exit":
                break
            if line.startswith("/"):
                continue
            if line.startswith("!"):
                self.shell(line[1:].strip())
                continue
            self.send(line)

    def send(self, text: str) -> None:
        """One message to the agent, shown as it works; Ctrl-C ends the turn, not the session."""
        message, notes = mentions.expand(text, self.workspace)
        for note in notes:
            self.notice(note)
        try:
            agent = self.ensure_agent(text)
        except UserFacingError as e:
            self.notice(f"glasscoder: {e}")
            return
        except Terminated:
            raise
        except KeyboardInterrupt:
            self.notice("Interrupted while starting the model.")
            return
        if self.pending:  # only now: a model that failed to start leaves them for next time
            message = "\n\n".join([*self.pending, message])
            self.pending = []
        self.screen.waiting()
        try:
            outcome = agent.run(message)
        except KeyboardInterrupt as e:  # before the agent's own loop took over (the map's wait)
            by = "SIGTERM" if isinstance(e, Terminated) else "the user"
            outcome = Outcome("failed", "interrupted", f"Interrupted by {by}.", 0, Usage())
        finally:
            self.screen.end_turn()
        self._after_turn(agent, outcome)

    def _after_turn(self, agent: Agent, outcome: Outcome) -> None:
        self.usage.add(outcome.usage)
        self.turns += outcome.turns
        self.files_changed.update(outcome.files_changed)
        outcome.files_changed = sorted(self.files_changed)
        session = agent.session
        if outcome.reason == "interrupted":
            self._close_interrupted(session)
            self.terminated = "SIGTERM" in outcome.result
            if not self.terminated:
                self.notice("Interrupted. The session goes on: type your next message.")
        elif outcome.status != "done":
            self.notice(f"glasscoder: {outcome.result}")
        if outcome.refused:
            self.notice(refused_line(outcome.refused))
        wiring.record_outcome(session, outcome)

    def _close_interrupted(self, session: Session) -> None:
        """A turn cut before any reply leaves the user's message last; a note from the
        assistant keeps the roles alternating for the next message."""
        if session.messages and session.messages[-1].get("role") == "user":
            session.append({"role": "assistant", "content": "[Interrupted by the user.]"})

    # --- building the agent ---------------------------------------------------------------

    def ensure_agent(self, task: str) -> Agent:
        if self.agent is not None:
            return self.agent
        sessions_dir = data_home() / "sessions"
        if self.session is None:
            self.session = wiring.new_session(sessions_dir, self.workspace, self.settings, task)
        self.audit = wiring.open_audit(self.session, self.settings)
        with self.console.status("starting the model…", spinner="dots"):
            self.agent = wiring.build_agent(self.settings, self.workspace, self.session,
                                            self.audit, self, ask=self.ask)  # fmt: skip
        self.proxy = wiring.net_proxy(self.settings, self.agent, self.audit, self,
                                      ask=self.ask_network)  # fmt: skip
        return self.agent

    def drop_agent(self) -> None:
        """Close the model, checkpoints and proxy; the next message builds them again (a new
        model, session or mode)."""
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        if self.agent is not None:
            wiring.close_agent(self.agent)  # the model's worker, the checkpoints' cache
        self.agent = None

    def close(self) -> None:
        self.drop_agent()
        if self.session is not None and any(m.get("role") == "user"
                                            for m in self.session.messages):  # fmt: skip
            self.console.print(Text(f"Session {self.session.id} saved; continue it with "
                                    "glasscoder -c", style="dim"))  # fmt: skip

    # --- what the agent calls back ---------------------------------------------------------

    def notice(self, message: str) -> None:
        self.screen.notice(message)

    def event(self, event: dict[str, Any]) -> None:
        if event["type"] == "assistant" and isinstance(event.get("usage"), dict):
            usage = event["usage"]
            self.context_used = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        self.screen.event(event)

    def ask(self, request: Request) -> Answer:
        with self._asking:
            self.screen.pause()
            if request.why == "edit":
                self.screen.show_diff(self.screen.edit_preview(request.tool, request.arguments))
            try:
                return ask_person(self.console, request)
            finally:
                self.screen.waiting()

    def ask_network(self, host: str, port: int) -> str:
        """A sandboxed command wants a host the allow-list does not name (asked from the
        proxy's thread while the command waits): "once", "session" or "no"."""
        with self._asking:
            self.screen.pause()
            try:
                return ask_host(self.console, host, port)
            except (KeyboardInterrupt, EOFError):
                return "no"
            finally:
                self.screen.resume()

    # --- `!command` -----------------------------------------------------------------------

    def shell(self, command: str) -> None:
        """The person's own command, in the session's sandbox; its output goes to the model
        with the next message."""
        from glasscoder.tools.shell import RunShell

        if not command:
            self.notice("Type a command after the !, e.g. !git status")
            return
        try:
            ctx = self.agent.ctx if self.agent else None
            ctx = ctx or wiring.tool_context(self.settings, self.workspace)
        except UserFacingError as e:  # say, --sandbox bwrap where bwrap is missing
            self.notice(f"glasscoder: {e}")
            return
        if ctx.sandbox is None:
            self.notice("No sandbox is available, so !commands do not run; run it in another "
                        "terminal (`glasscoder sandbox check` says why).")  # fmt: skip
            return
        # A Text, not a str: rich would read a str as markup ("[/x]" raises).
        with self.console.status(Text(printable(command)[:70]), spinner="dots"):
            try:
                observation = RunShell().run({"command": command}, ctx)
            except Terminated:
                raise
            except KeyboardInterrupt:
                self.notice("Interrupted.")
                return
            except UserFacingError as e:
                self.notice(f"glasscoder: {e}")
                return
        self.screen.show_output(observation.text)
        self.pending.append(f"I ran `{command}` myself. Its output:\n```\n{observation.text}\n```")
        self.console.print(Text("(the output goes to the model with your next message)",
                                style="dim"))  # fmt: skip

    # --- the status line ------------------------------------------------------------------

    def status_text(self) -> str:
        settings = self.settings
        model = Path(settings.model).name if settings.endpoint is None else settings.model
        window = settings.context_size if settings.endpoint is None else None
        if self.agent is not None:
            window = self.agent.compactor.known_window() or window
        used = _tokens(self.context_used) + (f"/{_tokens(window)}" if window else "")
        total = self.usage.prompt_tokens + self.usage.completion_tokens
        mode = self.agent.approval.mode if self.agent else settings.approval
        return printable(
            f"{model} · context {used} · {_tokens(total)} tokens this session · "
            f"sandbox: {self.sandbox_name} · {self.destination()} · {mode}"
        )

    def destination(self) -> str:
        if self.settings.endpoint is None:
            return "model in-process (nothing leaves)"
        from urllib.parse import urlsplit  # not guard.egress: its HTTP client slows the start

        try:
            parts = urlsplit(self.settings.endpoint)
            return f"→ {parts.hostname}:{parts.port or {'https': 443}.get(parts.scheme, 80)}"
        except ValueError:
            return f"→ {self.settings.endpoint}"

    def _after_first_prompt(self) -> None:
        """Once the prompt is up: load the model SDK in the background (~0.4 s), so the first
        message does not wait for it, without slowing the start (it holds the GIL a while)."""
        if self._sdk_started or self.settings.endpoint is None:
            return
        self._sdk_started = True

        def load() -> None:
            time.sleep(0.2)  # pre_run comes just before the first draw: let that happen first
            from glasscoder.models.openai_compat import import_sdk

            import_sdk()

        threading.Thread(target=load, daemon=True).start()

    def _learn_sandbox(self) -> None:
        try:
            choice = wiring.sandbox_choice(self.settings, self.workspace.root)
        except UserFacingError:  # the first message or !command says why, as one line
            self.sandbox_name = "unavailable"
            return
        self.sandbox_name = choice.name if choice.sandbox is not None else "none available"


def _tokens(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)
