"""The Model interface: messages and tool schemas in, one reply out.

Messages are OpenAI chat-completions dicts. Inside glasscoder an assistant message's
``tool_calls[i].function.arguments`` is a dict (the form the Qwen3-Coder chat template
renders); providers convert it to the wire form they need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from glasscoder.errors import ModelUnavailable

Message = dict[str, Any]


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # Set when the call could not be understood: the model is told, nothing runs.
    error: str | None = None

    def to_message_part(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Embedded models only: prompt tokens run through the model vs. kept from the KV cache.
    evaluated_tokens: int = 0
    reused_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.evaluated_tokens += other.evaluated_tokens
        self.reused_tokens += other.reused_tokens


@dataclass
class Reply:
    content: str  # the model's words with any tool-call markup taken out
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None

    def to_message(self) -> Message:
        msg: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_message_part() for c in self.tool_calls]
        return msg


class Model(Protocol):
    name: str

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
    ) -> Reply:
        """One model turn. ``on_text`` receives content as it streams, when streaming.

        A model that can stop a request part-way also has ``cap_time(seconds)``: the run's
        time left, which the next ``complete`` may not exceed (it raises OutOfTime). One that
        knows its context window says so with ``context_window() -> int | None``."""
        ...


class ModelError(ModelUnavailable):
    """The endpoint failed: unreachable, an HTTP error, or a reply cut off mid-stream."""


class OutOfTime(ModelError):
    """A request was stopped because the run's max_time ran out during it (not a failure of
    the endpoint: the run ends as failed, reason max_time)."""


class ContextTooLong(ModelError):
    """The conversation no longer fits the model's context window (a server's HTTP 400, the
    embedded model's own check): the agent compacts the history and tries once more."""
