"""Keeping the conversation inside the model's context window.

Cheapest first: old tool outputs become stubs saying how to get them again (no model call);
if that is not enough, the model summarises the turns between the task and the recent ones
(a normal request: the same egress, redaction and audit). Always kept verbatim: the system
prompt, the task message (with its repo map and attached files), the latest message of the
person and the recent turns. Between compactions the prompt only grows, so a server's prefix
cache and the embedded model's KV cache keep working.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glasscoder.agent.session import apply_splices
from glasscoder.errors import ModelUnavailable
from glasscoder.models.base import Message, Usage

FILL = 0.80  # of the window the prompt may fill; the rest is for the reply
SMALLEST_WINDOW = 4096  # tokens: below FILL of this, the window is not looked up
EXACT_FROM = 0.60  # past this share of the window, the model's tokenizer counts (if it can)
FORCED = 0.50  # what a compaction after a context error (or /compact) aims for
KEEP_TURNS = 3  # the latest assistant turns, with their tool results, are kept verbatim
STUB_OVER = 300  # characters: shorter tool outputs are not worth a stub
STUB_MARK = "[Output removed to save context"
SUMMARY_MARK = "[Summary of earlier turns"
SUMMARY_PROMPT = (
    "You are summarising part of a coding session so it can go on in less context. Write a "
    "concise summary (at most 300 words) of what was done and learned: files read and what "
    "they contain that matters, changes made (file and what changed), commands run and their "
    "results, errors met, decisions, and what remains to do. Facts only; no preamble."
)

Splice = list[Any]  # [start, end, [messages]]
Summarise = Callable[[list[Message]], str]


class Gauge:
    """Tokens of a prompt from its characters, calibrated by what the model reports."""

    def __init__(self, chars_per_token: float = 3.5) -> None:
        self.chars_per_token = chars_per_token

    def tokens(self, messages: list[Message], extra_chars: int = 0) -> int:
        return int((size(messages) + extra_chars) / self.chars_per_token)

    def learn(self, chars: int, prompt_tokens: int) -> None:
        if prompt_tokens >= 50 and chars > 0:  # tiny or missing counts say nothing
            seen = chars / prompt_tokens
            self.chars_per_token = 0.5 * self.chars_per_token + 0.5 * seen


def size(messages: list[Message]) -> int:
    """Characters the messages take as sent: content, tool calls, a little per message."""
    total = 0
    for message in messages:
        total += 12 + len(str(message.get("content") or ""))
        for call in message.get("tool_calls") or []:
            total += len(json.dumps(call.get("function", call), ensure_ascii=False))
    return total


class Compactor:
    """One session's compaction: its window, its gauge, and the compactions themselves."""

    def __init__(self, model: Any, session: Any, schemas: list[dict[str, Any]],
                 window_setting: int | None = None) -> None:  # fmt: skip
        self.model, self.session = model, session
        self.schemas = schemas  # the tool schemas go with every request
        self.schema_chars = len(json.dumps(schemas))
        self.window_setting = window_setting
        self._window: int | None = None  # the model's answer, asked once (0: not known)
        self.gauge = Gauge()

    def learn(self, prompt_tokens: int) -> None:
        """Calibrate the gauge on the request just answered: call it before the reply is
        added to the conversation, which is then exactly what was sent."""
        self.gauge.learn(size(self.session.messages) + self.schema_chars, prompt_tokens)

    def context_window(self) -> int | None:
        """The window in tokens: the `context_window` setting, else what the model says."""
        if self.window_setting:
            return self.window_setting
        if self._window is None:
            ask = getattr(self.model, "context_window", None)
            self._window = (ask() if ask else None) or 0
        return self._window or None

    def known_window(self) -> int | None:
        """The window if it is known already (never asks the server: for a status line)."""
        return self.window_setting or self._window or None

    def context_used(self) -> int:
        """The next request's size in tokens, as the gauge estimates it."""
        return self.gauge.tokens(self.session.messages, self.schema_chars)

    def compact(self, reason: str, force: bool = False) -> Compaction | None:
        """Past FILL of the window (or forced), bring the conversation down to FORCED of it
        (of what it is now when the window is not known). The result is in the session (a
        compaction line in the transcript); None when nothing changed."""
        messages, before = self.session.messages, self.context_used()
        if not force and not self.window_setting and before <= SMALLEST_WINDOW * FILL:
            return None  # no window is this small: the server need not even be asked
        window = self.context_window()
        if not force and window is not None and before > window * EXACT_FROM:
            before = self._exact(self.session.messages) or before  # near the line: count it
        if not force and (window is None or before <= window * FILL):
            return None
        # Well below the trigger, so that the next compaction is many turns away: each one
        # changes the prompt's prefix, which a server's cache and the KV cache then miss.
        target = int((window or before) * FORCED)
        result = Compaction(reason, before)
        new = self._compacted(messages, target, result)
        changed = next((i for i, (a, b) in enumerate(zip(messages, new, strict=False))
                        if a != b), min(len(messages), len(new)))  # fmt: skip
        if changed == len(messages) == len(new):
            return None
        result.splices = [[changed, len(messages), new[changed:]]]
        result.tokens_after = self._tokens(new)
        self.session.compact(result.splices, result.note())
        return result

    def _compacted(self, messages: list[Message], target: int,
                   result: Compaction) -> list[Message]:  # fmt: skip
        end = recent_start(messages)
        stubs = stub_splices(messages, 2, end)
        new = apply_splices(messages, stubs)
        result.stubbed = len(stubs)
        if self._tokens(new) > target and end > 2:
            summary = self._summarise(new[2:end], result)
            if summary:
                new = apply_splices(new, [summary_splice(new, 2, end, summary)])
                result.summarised = end - 2
        if self._tokens(new) > target:  # the recent turns alone are too big: all but the last
            last_tool = max((i for i, m in enumerate(new) if m.get("role") == "tool"), default=0)
            more = stub_splices(new, 2, last_tool)
            new = apply_splices(new, more)
            result.stubbed += len(more)
        return new

    def _summarise(self, middle: list[Message], result: Compaction) -> str:
        """The model's summary of `middle` (a request like any other: audited, redacted)."""
        window = self.context_window() or 8192
        limit = int(window * FORCED * self.gauge.chars_per_token)
        request = [{"role": "system", "content": SUMMARY_PROMPT},
                   {"role": "user", "content": transcript_text(middle, limit)}]  # fmt: skip
        try:
            reply = self.model.complete(request, [])
        except ModelUnavailable:
            return ""  # the stubs must do
        result.usage.add(reply.usage)
        return reply.content.strip()

    def _tokens(self, messages: list[Message]) -> int:
        return self.gauge.tokens(messages, self.schema_chars)

    def _exact(self, messages: list[Message]) -> int | None:
        """The model's own token count, where its tokenizer is at hand (the embedded one)."""
        count = getattr(self.model, "count_tokens", None)
        return count(messages, self.schemas) if count is not None else None


@dataclass
class Compaction:
    """What one compaction did, for the transcript, the audit log and the person."""

    reason: str  # "window", "context error" or "asked"
    tokens_before: int
    tokens_after: int = 0
    stubbed: int = 0  # tool outputs replaced by stubs
    summarised: int = 0  # messages replaced by a summary
    splices: list[Splice] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)  # the summary request's

    def note(self) -> dict[str, Any]:
        return {"reason": self.reason, "tokens_before": self.tokens_before,
                "tokens_after": self.tokens_after, "stubbed": self.stubbed,
                "summarised": self.summarised}  # fmt: skip


def recent_start(messages: list[Message], keep_turns: int = KEEP_TURNS) -> int:
    """Where the part kept verbatim begins: the person's latest message, or the start of the
    latest `keep_turns` assistant turns, whichever comes first (never before index 2)."""
    assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    users = [i for i, m in enumerate(messages) if m.get("role") == "user" and i > 1
             and not str(m.get("content") or "").startswith(SUMMARY_MARK)]  # fmt: skip
    candidates = [assistants[-keep_turns]] if len(assistants) >= keep_turns else [2]
    if users:
        candidates.append(users[-1])
    return max(2, min(candidates))


def stub_splices(messages: list[Message], start: int, end: int) -> list[Splice]:
    """Each long tool output in messages[start:end] replaced by a stub naming the call."""
    calls = _calls_by_id(messages)
    splices: list[Splice] = []
    for i in range(start, end):
        message = messages[i]
        content = str(message.get("content") or "")
        if message.get("role") != "tool" or len(content) <= STUB_OVER:
            continue
        if content.startswith(STUB_MARK):
            continue
        name, brief = calls.get(str(message.get("tool_call_id")), ("a tool", ""))
        lines = content.count("\n") + 1
        stub = (f"{STUB_MARK}: {name}{' ' + brief if brief else ''} gave {lines} lines "
                f"({len(content):,} characters). Call the tool again if you need it.]")  # fmt: skip
        splices.append([i, i + 1, [{**message, "content": stub}]])
    return splices


def summary_splice(messages: list[Message], start: int, end: int, summary: str) -> Splice:
    """messages[start:end] replaced by the summary, the roles still alternating."""
    text = f"{SUMMARY_MARK}, written to save context]\n{summary.strip()}"
    if end < len(messages) and messages[end].get("role") == "user":
        return [start, end, [{"role": "assistant", "content": text}]]
    return [start, end, [{"role": "assistant", "content": "Earlier work, summarised:"},
                         {"role": "user", "content": text}]]  # fmt: skip


def transcript_text(messages: list[Message], limit: int) -> str:
    """The messages as plain text for the summary request, cut in the middle past `limit`."""
    parts = []
    for message in messages:
        role = message.get("role")
        content = str(message.get("content") or "")
        calls = [c.get("function", {}) for c in message.get("tool_calls") or []]
        calls_text = "".join(f"\n-> {c.get('name')} {str(c.get('arguments'))[:300]}"
                             for c in calls)  # fmt: skip
        parts.append(f"## {role}\n{content[:4000]}{calls_text}")
    text = "\n\n".join(parts)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n\n[... {len(text) - limit:,} characters left out ...]\n\n{text[-half:]}"


def _calls_by_id(messages: list[Message]) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            found[str(call.get("id"))] = (str(function.get("name")), _brief(function))
    return found


def _brief(function: dict[str, Any]) -> str:
    args = function.get("arguments")
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return ""
    if not isinstance(args, dict):
        return ""
    for key in ("path", "command", "pattern", "target", "name"):
        value = args.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().splitlines()[0][:120]
    return ""
