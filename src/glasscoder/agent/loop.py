"""The agent loop: ask the model, run the tools it calls, repeat until it answers without one.

The conversation lives in `Session.messages` and only ever grows (a server's prefix cache is
hit every turn); every message is on disk before the next step.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from glasscoder import textcut
from glasscoder.agent.changes import ChangeTracker, is_generated
from glasscoder.agent.checkpoints import CheckpointError, Checkpoints
from glasscoder.agent.compaction import (
    Compaction,
    Compactor,
)
from glasscoder.agent.session import Session
from glasscoder.agent.undo import turn_label
from glasscoder.errors import ModelUnavailable
from glasscoder.guard.approval import Answer, Approval, Request, command_prefix
from glasscoder.models.base import ContextTooLong, Model, OutOfTime, Reply, ToolCall, Usage
from glasscoder.tools.base import Observation, Tool, ToolContext, ToolError, schema_for
from glasscoder.workspace import WorkspaceError

Event = dict[str, Any]
REPEAT_WARN = 3  # identical calls in a row before the model is told
REPEAT_STOP = 5  # ... and before the task is stopped


@dataclass
class RunLimits:
    max_turns: int = 50
    max_time: float = 1800.0
    max_tokens: int = 2_000_000


@dataclass
class Outcome:
    status: str  # "done" | "failed" | "error"
    reason: (
        str  # completed, max_turns, max_time, max_tokens, repeated_call, interrupted, model_error
    )
    result: str
    turns: int
    usage: Usage
    files_changed: list[str] = field(default_factory=list)
    # Calls refused in this run (approval mode, a placeholder, no sandbox), each {"tool", "call",
    # "reason"}: a result can never claim that refused work (tests, say) was done unnoticed.
    refused: list[dict[str, str]] = field(default_factory=list)


class Agent:
    def __init__(
        self,
        model: Model,
        tools: list[Tool],
        ctx: ToolContext,
        approval: Approval,
        session: Session,
        limits: RunLimits | None = None,
        emit: Callable[[Event], None] | None = None,
        task_context: Callable[[str], str] | None = None,  # e.g. the repo map for a task
        ask: Callable[[Request], Answer] | None = None,  # None: headless, nobody to ask
        context_window: int | None = None,  # the setting; None: the model's own, if it says
        checkpoints: Checkpoints | None = None,  # None: no checkpoints, no undo
    ) -> None:
        self.ask = ask
        self.checkpoints = checkpoints
        self.model, self.ctx, self.approval, self.session = model, ctx, approval, session
        self.task_context = task_context
        self.limits = limits or RunLimits()
        self.emit = emit or (lambda event: None)
        self.tools = {t.name: t for t in tools if approval.offers(t)}
        self.hidden = {t.name for t in tools} - self.tools.keys()
        self.schemas = [schema_for(t) for t in self.tools.values()]
        self.compactor = Compactor(model, session, self.schemas, context_window)
        self._last_call: tuple[str, str] | None = None
        self._repeats = 0
        self._seen_ids: set[str] = set()
        self._held_signal: int | None = None  # SIGINT or SIGTERM held during an edit
        self.refused: list[dict[str, str]] = []

    def run(self, task: str | None) -> Outcome:
        """Work on `task` (None: continue the conversation as it stands) until done or a limit."""
        self._close_dangling_calls("not run: the session was interrupted")
        last = self.session.messages[-1] if self.session.messages else {}
        if not task and last.get("role") == "assistant":
            task = _CONTINUE_TASK  # a resumed session whose last turn had ended
        if task:
            self.session.append({"role": "user", "content": self._with_context(task)})
        tracker = ChangeTracker(self.ctx.workspace.root)
        state = _RunState(time.monotonic())
        try:
            outcome = self._loop(state)
        except KeyboardInterrupt as e:
            by = "SIGTERM" if isinstance(e, Terminated) else "the user"
            self._close_dangling_calls(f"not run: interrupted by {by}")
            outcome = state.outcome("failed", "interrupted", f"Interrupted by {by}.")
        except OutOfTime as e:  # max_time ran out during a request
            outcome = state.outcome("failed", "max_time", str(e))
        except ModelUnavailable as e:  # turns and usage so far still count
            outcome = state.outcome("error", "model_error", str(e))
        outcome.files_changed = sorted(
            path for path in state.changed | tracker.changed()
            if not is_generated(path) and not self.ctx.workspace.is_ignored(path)
        )  # fmt: skip
        outcome.refused = list(self.refused)
        return outcome

    def _loop(self, state: _RunState) -> Outcome:
        nudged = False
        while True:
            limit = self._limit_hit(state)
            if limit:
                return state.outcome(
                    "failed", limit, f"Stopped: {limit.replace('_', ' ')} reached."
                )
            reply = self.step(state)
            if reply.tool_calls:
                if self._repeats >= REPEAT_STOP:
                    return state.outcome(
                        "failed", "repeated_call", "Stopped: the model repeated the same tool call."
                    )
                continue
            if reply.finish_reason == "length" or (not reply.content.strip() and not nudged):
                nudged = True
                self.session.append({"role": "user", "content": _CONTINUE})
                continue
            return state.outcome("done", "completed", reply.content.strip())

    def step(self, state: _RunState) -> Reply:
        """One turn: one model call, then every tool call it asked for."""
        self.compact("window", state)
        try:
            reply = self._request(state)
        except ContextTooLong:  # the window was smaller than known, or unknown: once more
            if self.compact("context error", state, force=True) is None:
                raise
            reply = self._request(state)
        self.compactor.learn(reply.usage.prompt_tokens)
        state.turns += 1
        state.usage.add(reply.usage)
        self._give_ids(reply.tool_calls, state.turns)
        stored = self.session.append(reply.to_message())
        self._checkpoint(reply.tool_calls, state.turns)
        self.emit({"type": "assistant", "turn": state.turns, **stored,
                   "usage": {"prompt_tokens": reply.usage.prompt_tokens,
                             "completion_tokens": reply.usage.completion_tokens}})  # fmt: skip
        cut_off = reply.finish_reason == "length"  # a call in it may be half written
        for call in reply.tool_calls:
            self.emit({"type": "tool_start", "tool_call_id": call.id, "name": call.name,
                       "arguments": call.arguments})  # fmt: skip
            began = time.monotonic()
            obs = Observation(_CUT_OFF, is_error=True) if cut_off else self._execute(call)
            state.changed.update(obs.files_changed)
            content = ("Error: " if obs.is_error else "") + obs.text
            stored = self.session.append(
                {"role": "tool", "tool_call_id": call.id, "content": content}
            )
            self.emit(
                {"type": "tool_result", "tool_call_id": call.id, "name": call.name,
                 "is_error": obs.is_error, "content": stored["content"],
                 "seconds": round(time.monotonic() - began, 3),
                 "files_changed": obs.files_changed}
            )  # fmt: skip
            if self._held_signal is not None:  # Ctrl-C during an edit: done and on record
                held, self._held_signal = self._held_signal, None
                raise Terminated if held == signal.SIGTERM else KeyboardInterrupt
        return reply

    def _checkpoint(self, calls: list[ToolCall], turn: int) -> None:
        """Before a turn that may change files (an edit, a command), the files as they are."""
        changing = [c.name for c in calls
                    if c.name not in self.tools or not self.tools[c.name].read_only]  # fmt: skip
        if self.checkpoints is None or not changing:
            return
        label = turn_label(self.session.id, turn, ", ".join(dict.fromkeys(changing)))
        try:
            taken = self.checkpoints.snapshot(label)
        except (CheckpointError, OSError) as e:  # no undo for this turn; the work goes on
            self.emit({"type": "checkpoint", "error": f"no checkpoint for this turn: {e}"})
            return
        self.emit({"type": "checkpoint", "id": taken.id, "label": label,
                   "skipped": len(taken.skipped)})  # fmt: skip

    def _request(self, state: _RunState) -> Reply:
        cap_time = getattr(self.model, "cap_time", None)
        if cap_time is not None:  # max_time holds during a request too
            cap_time(self.limits.max_time - (time.monotonic() - state.started))
        return self.model.complete(
            self.session.messages,
            self.schemas,
            on_text=lambda t: self.emit({"type": "text", "text": t}),
        )

    def compact(self, reason: str, state: _RunState | None = None,
                force: bool = False) -> Compaction | None:  # fmt: skip
        """Fit the conversation in the window now (see Compactor.compact); the summary
        request's tokens count toward the run's usage."""
        result = self.compactor.compact(reason, force)
        if result is not None:
            if state is not None:
                state.usage.add(result.usage)
            self.emit({"type": "compaction", **result.note()})
        return result

    def _execute(self, call: ToolCall) -> Observation:
        tool = self.tools.get(call.name)
        if call.name in self.hidden:
            return self._refuse(call, f"{call.name} is not available in {self.approval.mode} "
                                "mode (read-only).")  # fmt: skip
        if tool is None:
            return Observation(call.error or self._unknown_tool(call.name), is_error=True)
        if call.error:
            return Observation(call.error, is_error=True)
        command = self._command_line(tool, call.arguments)
        decision = self.approval.decide(tool, command, self.ctx.sandbox is not None)
        refusal, ctx = decision.reason if decision.verdict == "refuse" else None, self.ctx
        if decision.verdict == "ask":
            refusal, ctx = self._asked(call, command, decision.reason)
        args = call.arguments
        if not refusal and self.ctx.placeholders is not None:
            args, refusal = self.ctx.placeholders.screen(tool, args)
        if refusal:
            return self._refuse(call, refusal)
        obs = self._run_tool(tool, args, ctx)
        refused_by_sandbox = ctx.sandbox_refusal and obs.text == ctx.sandbox_refusal
        if tool.runs_commands and obs.is_error and refused_by_sandbox:
            self._note_refusal(call, obs.text)
        return self._note_repeats(call, obs)

    def _command_line(self, tool: Tool, args: dict[str, Any]) -> str:
        """What a command tool would run: run_shell says it; run_tests works it out."""
        if not tool.runs_commands:
            return ""
        derive = getattr(tool, "command_line", None)
        try:
            return str(derive(args, self.ctx)) if derive else str(args.get("command", ""))
        except (ToolError, WorkspaceError):
            return ""  # the tool itself reports the bad call when it runs

    def _asked(self, call: ToolCall, command: str, why: str) -> tuple[str | None, ToolContext]:
        """(refusal or None, the context to run with) once the person answered, or nobody
        could (headless: refused with the reason the mode gives)."""
        args = call.arguments if isinstance(call.arguments, dict) else {}
        if self.ask is None:
            message = self.approval.refusal_without_asking(why)
            return message or self.ctx.sandbox_refusal or "Not allowed.", self.ctx
        what = command or str(args.get("path", ""))
        prefix = command_prefix(command) if command else ""
        answer = self.ask(Request(call.name, what, why, prefix, args))
        if answer.choice == "no":
            said = f" They said: {answer.reason.strip()}" if answer.reason.strip() else ""
            return f"The user declined this {call.name} call.{said}", self.ctx
        if answer.choice == "session":
            self.approval.allow_for_session(prefix, why)
        if why == "no sandbox":  # the person's yes to this one command running unconfined
            from glasscoder.sandbox.none import NoSandbox

            return None, dataclasses.replace(self.ctx, sandbox=NoSandbox())
        return None, self.ctx

    def _refuse(self, call: ToolCall, reason: str) -> Observation:
        self._note_refusal(call, reason)
        return Observation(reason, is_error=True)

    def _note_refusal(self, call: ToolCall, reason: str) -> None:
        args = call.arguments if isinstance(call.arguments, dict) else {}
        what = next((str(args[k]) for k in ("command", "path", "target") if args.get(k)), "")
        first = reason.split(". ")[0].rstrip(".")
        self.refused.append({"tool": call.name, "call": _short(what), "reason": _short(first)})

    def _run_tool(self, tool: Tool, args: dict[str, Any], ctx: ToolContext) -> Observation:
        try:
            # An edit in progress is finished before Ctrl-C takes effect.
            with _deferred_interrupt(not tool.read_only and not tool.runs_commands) as held:
                try:
                    return tool.run(args, ctx)
                finally:
                    self._held_signal = held[0] if held else None
        except (ToolError, WorkspaceError) as e:
            return Observation(_short_error(str(e)), is_error=True)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # a tool's own bug must not end the session
            return Observation(_short_error(f"{tool.name} failed: {type(e).__name__}: {e}"),
                               is_error=True)  # fmt: skip

    def _note_repeats(self, call: ToolCall, obs: Observation) -> Observation:
        key = (call.name, json.dumps(call.arguments, sort_keys=True, default=str))
        self._repeats = self._repeats + 1 if key == self._last_call else 1
        self._last_call = key
        if self._repeats >= REPEAT_WARN:
            obs.text += (
                f"\n\n[You have made this exact call {self._repeats} times in a row. "
                "Repeating it will not change the result; try something different.]"
            )
        return obs

    def _with_context(self, task: str) -> str:
        """The session's first task gets the task context appended (the system prompt stays
        fixed); later tasks go as they are."""
        messages = self.session.messages
        if self.task_context is None or any(m.get("role") == "user" for m in messages):
            return task
        extra = self.task_context(task)
        return f"{task}\n\n{extra}" if extra else task

    def _unknown_tool(self, name: str) -> str:
        return f"Unknown tool '{name}'. Available tools: {', '.join(self.tools)}."

    def _give_ids(self, calls: list[ToolCall], turn: int) -> None:
        """Make call ids unique across the session (text-parsed calls restart at call_0)."""
        for i, call in enumerate(calls):
            if not call.id or call.id in self._seen_ids:
                call.id = f"call_{len(self.session.messages)}_{i}"
            self._seen_ids.add(call.id)

    def _limit_hit(self, state: _RunState) -> str | None:
        if state.turns >= self.limits.max_turns:
            return "max_turns"
        if time.monotonic() - state.started >= self.limits.max_time:
            return "max_time"
        if state.usage.prompt_tokens + state.usage.completion_tokens >= self.limits.max_tokens:
            return "max_tokens"
        return None

    def _close_dangling_calls(self, why: str) -> None:
        """Answer tool calls left without a result, so the history stays well-formed."""
        messages = self.session.messages
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].get("role") == "assistant":
                answered = {m.get("tool_call_id") for m in messages[i + 1 :]}
                for part in messages[i].get("tool_calls") or []:
                    if part["id"] not in answered:
                        self.session.append(
                            {"role": "tool", "tool_call_id": part["id"], "content": f"Error: {why}"}
                        )
                return


def _short_error(text: str) -> str:
    """An error for the model, its middle cut when long: whatever argument a message echoes
    (a 100,000-character path), the model gets its start and end, not all of it again."""
    if len(text) <= _ERROR_CHARS:
        return text
    start, end = textcut.head(text, _ERROR_CHARS // 2), textcut.tail(text, _ERROR_CHARS // 2)
    return f"{start} [... {len(text) - len(start) - len(end):,} characters cut ...] {end}"


_ERROR_CHARS = 2000
_CUT_OFF = (
    "Not run: your reply was cut off by the output token limit before this call was complete. "
    "Send the call again; for a long file, write a first part with write_file and add the "
    "rest with edit_file."
)
_CONTINUE_TASK = "Continue with the task."
_CONTINUE = (
    "Your last reply was empty or cut off. Continue the task; when it is done, reply with a "
    "short summary and no tool call."
)


@dataclass
class _RunState:
    started: float
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    changed: set[str] = field(default_factory=set)

    def outcome(self, status: str, reason: str, result: str) -> Outcome:
        return Outcome(status, reason, result, self.turns, self.usage)


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken like Ctrl-C: the run stops as interrupted, its session saved."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated in the main thread, as SIGINT raises
    KeyboardInterrupt, so the same save path runs (a service manager's stop, `kill`)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals cannot be handled here
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextmanager
def _deferred_interrupt(enabled: bool) -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM while the block runs; yields the list of signals held."""
    held: list[int] = []
    previous = _hold_signals(held) if enabled else {}
    try:
        yield held
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _hold_signals(held: list[int]) -> dict[int, Any]:
    """Record SIGINT and SIGTERM instead of acting on them; returns the replaced handlers."""
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            handler = signal.getsignal(signum)
            if handler is None:  # set outside Python: it could not be put back
                continue
            signal.signal(signum, lambda number, frame: held.append(number))
            previous[signum] = handler
        except ValueError:  # not the main thread: nothing to defer
            break
    return previous


def _short(text: str, limit: int = 200) -> str:
    line = text.splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
