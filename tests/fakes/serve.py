"""The fake OpenAI server as its own process, for tests that drive the real program from a
terminal: `python -m tests.fakes.serve REPLIES.json PORT_FILE`.

REPLIES.json is a list; each item a string (the reply's content) or an object with
"content", "tool_calls" ([{"name", "arguments"}]), "delay" or "trickle" (seconds). Or an
object {"replies": [...], "summary": "..."}: requests without tools (a compaction's summary)
get that answer and leave the list alone. The port
is written to PORT_FILE once the server listens; the requests received are written, as a JSON
list of bodies, to PORT_FILE + ".requests" after each one.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall


def _reply(item: object) -> str | FakeReply:
    if isinstance(item, str):
        return item
    assert isinstance(item, dict)
    calls = [FakeToolCall(c["name"], c["arguments"]) for c in item.get("tool_calls", [])]
    return FakeReply(content=item.get("content", ""), tool_calls=calls,
                     delay=item.get("delay", 0.0), trickle=item.get("trickle"))  # fmt: skip


def main(replies_path: str, port_file: str) -> None:
    script = json.loads(Path(replies_path).read_text())
    summary = script.get("summary") if isinstance(script, dict) else None
    items = script["replies"] if isinstance(script, dict) else script
    with FakeOpenAIServer([_reply(item) for item in items], summary_reply=summary) as server:
        Path(port_file).write_text(str(server.port))
        seen = 0
        while True:
            if len(server.requests) != seen:
                seen = len(server.requests)
                bodies = [r.json for r in server.requests]
                Path(port_file + ".requests").write_text(json.dumps(bodies))
            time.sleep(0.05)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
