"""A model that replays recorded replies in order: deterministic agent-loop tests.

It proves the loop and the tools; it proves nothing about how a real model behaves.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glasscoder.models.base import Message, ModelError, Reply, ToolCall, Usage
from glasscoder.models.toolcalls import coerce_arguments, parse_text_tool_calls, schemas_of

# A reply is raw model text (tool calls as Qwen3-Coder XML or Hermes JSON inside it), or a dict
# {"content": str, "tool_calls": [{"name": str, "arguments": dict | str}], "finish_reason": str}.
ScriptedReply = str | dict[str, Any]


class ScriptedModel:
    name = "scripted"

    def __init__(self, replies: list[ScriptedReply]) -> None:
        self.replies = list(replies)
        self.requests: list[list[Message]] = []  # the history as each call received it

    @classmethod
    def from_file(cls, path: Path) -> ScriptedModel:
        return cls(json.loads(path.read_text()))

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
    ) -> Reply:
        self.requests.append(copy.deepcopy(messages))
        if not self.replies:
            raise ModelError("The scripted model has no more replies.")
        item = self.replies.pop(0)
        schemas = schemas_of(tools)
        reply = _from_text(item, schemas) if isinstance(item, str) else _from_dict(item, schemas)
        if on_text and reply.content:
            on_text(reply.content)
        return reply


def _from_text(text: str, schemas: dict[str, Any]) -> Reply:
    parsed = parse_text_tool_calls(text, schemas)
    return Reply(parsed.text, parsed.calls, Usage(len(text) // 4, len(text) // 4), "stop")


def _from_dict(item: dict[str, Any], schemas: dict[str, Any]) -> Reply:
    calls = []
    for i, call in enumerate(item.get("tool_calls") or []):
        args, error = coerce_arguments(call["name"], call.get("arguments"), schemas)
        calls.append(ToolCall(call.get("id") or f"call_{i}", call["name"], args, error))
    content = item.get("content") or ""
    usage = Usage(**item["usage"]) if "usage" in item else Usage(10, max(1, len(content) // 4))
    return Reply(content, calls, usage, item.get("finish_reason", "stop"))
