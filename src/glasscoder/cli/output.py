"""What headless runs print: text for people, json and stream-json for programs."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from glasscoder.agent.loop import Event, Outcome
from glasscoder.models.base import Usage
from glasscoder.safetext import printable, scrub


def result_object(
    outcome: Outcome, session_id: str, egress: dict[str, Any] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "result",
        "status": outcome.status,
        "reason": outcome.reason,
        "session_id": session_id,
        "turns": outcome.turns,
        "usage": _usage_object(outcome.usage),
        "files_changed": outcome.files_changed,
        "refused": outcome.refused,
        "result": outcome.result,
    }
    if egress is not None:  # what left the machine in this run, from the audit log
        obj["egress"] = egress
    if outcome.status == "error":  # the endpoint failed: say how, there are no final words
        obj["error"], obj["result"] = outcome.result, ""
    return obj


def refused_line(refused: list[dict[str, str]], shown: int = 3) -> str:
    """One line naming the refused calls, so a result cannot pass for work that never ran."""
    calls = [f"{r['tool']} {r['call']}".strip() + f" ({r['reason']})" for r in refused[:shown]]
    more = f"; and {len(refused) - shown} more" if len(refused) > shown else ""
    return (f"glasscoder: {len(refused)} tool call(s) refused, so their work did not happen: "
            f"{'; '.join(calls)}{more}")  # fmt: skip


def compaction_line(event: dict[str, Any]) -> str:
    """One line on a compaction: why, what was done, the size before and after."""
    done = [f"{event['stubbed']} tool output(s) stubbed"] if event.get("stubbed") else []
    if event.get("summarised"):
        done.append(f"{event['summarised']} message(s) summarised")
    before, after = event.get("tokens_before", 0), event.get("tokens_after", 0)
    return (f"glasscoder: context compacted ({event.get('reason')}): "
            f"{', '.join(done) or 'nothing'}; ~{before:,} -> ~{after:,} tokens")  # fmt: skip


def _usage_object(usage: Usage) -> dict[str, int]:
    obj = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    # Only embedded models count KV-cache use; servers' results keep their two keys. The pair
    # goes together so a first turn's reused_tokens of 0 is shown, not left to be guessed.
    if usage.evaluated_tokens or usage.reused_tokens:
        obj["evaluated_tokens"] = usage.evaluated_tokens
        obj["reused_tokens"] = usage.reused_tokens
    return obj


class TextOutput:
    """Model words on stdout as they stream; tool activity on stderr.

    Everything printed goes through safetext.printable: model text and file names may carry
    terminal escape sequences.
    """

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        # Looked up now, not at import: the streams may have been replaced since.
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self._turn_text = ""
        self._shown = 0
        self._streamed = False

    def notice(self, message: str) -> None:
        print(printable(message), file=self.err, flush=True)

    def event(self, event: Event) -> None:
        kind = event["type"]
        if kind == "text":
            self._streamed = True
            self._turn_text += event["text"]
            self._show(self._turn_text)  # providers gate out tool-call markup (textgate.py)
        elif kind == "assistant":
            if not self._streamed:
                self._show(event.get("content") or "")
            if self._shown:
                self.out.write("\n")
                self.out.flush()
            self._turn_text, self._shown, self._streamed = "", 0, False
            for call in event.get("tool_calls") or []:
                self.notice(f"> {call['function']['name']} {_brief(call['function']['arguments'])}")
        elif kind == "compaction":
            self.notice(compaction_line(event))
        elif kind == "checkpoint" and event.get("error"):
            self.notice(f"glasscoder: {event['error']}")
        elif kind == "tool_result" and event["is_error"]:
            self.notice(f"  {event['content'].splitlines()[0][:200] if event['content'] else ''}")

    def final(
        self, outcome: Outcome, session_id: str, egress: dict[str, Any] | None = None
    ) -> None:
        if outcome.status != "done":
            self.notice(f"glasscoder: {outcome.result}")
        if outcome.status != "done":
            self.notice(f"Resume with: glasscoder --resume {session_id}")
        if outcome.refused:
            self.notice(refused_line(outcome.refused))
        changed = ", ".join(outcome.files_changed) or "none"
        self.notice(
            f"[session {session_id} | {outcome.status} | {outcome.turns} turns | "
            f"{outcome.usage.prompt_tokens}+{outcome.usage.completion_tokens} tokens | "
            f"changed: {changed}]"
        )

    def _show(self, text: str) -> None:
        if len(text) > self._shown:
            self.out.write(printable(text[self._shown :]))
            self.out.flush()
            self._shown = len(text)


class JsonOutput:
    """One JSON object at the end."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        # Looked up now, not at import: the streams may have been replaced since.
        self.out, self.err = out or sys.stdout, err or sys.stderr

    def notice(self, message: str) -> None:
        print(printable(message), file=self.err, flush=True)

    def event(self, event: Event) -> None:
        pass

    def final(
        self, outcome: Outcome, session_id: str, egress: dict[str, Any] | None = None
    ) -> None:
        self.out.write(_json_line(result_object(outcome, session_id, egress), ascii_only=True))
        self.out.flush()


class StreamJsonOutput(JsonOutput):
    """One JSON event per line, as things happen."""

    def notice(self, message: str) -> None:
        self._line({"type": "notice", "message": message})

    def event(self, event: Event) -> None:
        # Whole messages only (deltas would flood the stream); a call's start is in the
        # assistant message already.
        if event["type"] not in ("text", "tool_start"):
            self._line(event)

    def _line(self, obj: dict[str, Any]) -> None:
        self.out.write(_json_line(obj, ascii_only=False))
        self.out.flush()


def make_output(fmt: str) -> TextOutput | JsonOutput:
    return {"text": TextOutput, "json": JsonOutput, "stream-json": StreamJsonOutput}[fmt]()


def _json_line(obj: dict[str, Any], ascii_only: bool) -> str:
    """One line of strict JSON, whatever text obj holds (see safetext.scrub)."""
    return json.dumps(scrub(obj), ensure_ascii=ascii_only, allow_nan=False) + "\n"


def _brief(args: Any) -> str:
    if not isinstance(args, dict):
        return ""
    for key in ("path", "command", "pattern"):
        if key in args:
            return str(args[key]).splitlines()[0][:120] if str(args[key]) else ""
    return ""
