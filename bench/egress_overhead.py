"""What redaction and the audit log add to each model request, as a share of its total time.

A 20-turn session against the loopback fake server: each turn re-sends the whole history
(system prompt, tool schemas, one ~6 KB source file with two secrets per turn) through the real
egress path, in three configurations measured in the same run, interleaved:

- bare: the egress transport without redaction or audit (the anchor);
- audit: plus the keyed, hash-chained audit log (fsynced per record);
- audit + redaction: plus the session's Redactor over every string of the body.

The fake server answers at once, so the share printed is an upper bound: a real model spends
seconds per request where this one spends about a millisecond.

Run: .venv/bin/python bench/egress_overhead.py [--turns 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes

from tests.fakes.openai_server import FakeOpenAIServer

from glasscoder.guard.audit import AuditLog
from glasscoder.guard.body_redaction import redact_body
from glasscoder.guard.egress import BodyRedactor, make_http_client, no_redaction
from glasscoder.guard.redact import Redactor

SOURCE = Path(__file__).resolve().parent.parent / "src" / "glasscoder" / "workspace.py"


def session_bodies(turns: int) -> list[bytes]:
    """The request body of every turn: the history grows by one tool call and result a turn."""
    code = SOURCE.read_text()[:6000]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a coding agent. " * 40},
        {"role": "user", "content": "Fix the failing test."},
    ]
    bodies = []
    for turn in range(turns):
        key = "AKIA" + secrets.token_hex(8).upper()
        result = f"{code}\nAWS_ACCESS_KEY_ID = '{key}'\npassword = '{secrets.token_urlsafe(12)}'\n"
        arguments = json.dumps({"path": f"m{turn}.py"})
        call = {"id": f"c{turn}", "type": "function",
                "function": {"name": "read_file", "arguments": arguments}}  # fmt: skip
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{turn}", "content": result},
        ]
        body = {"model": "m", "messages": messages, "stream": False}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return bodies


def run_session(
    url: str, bodies: list[bytes], audit: AuditLog | None, redact: BodyRedactor
) -> list[float]:
    times = []
    with make_http_client(url, audit, timeout=30, redact=redact) as client:
        for body in bodies:
            started = time.perf_counter()
            response = client.post(f"{url}/chat/completions", content=body,
                                   headers={"content-type": "application/json"})  # fmt: skip
            response.read()
            times.append(time.perf_counter() - started)
    return times


def configurations(tmp: Path) -> dict[str, Callable[[int], tuple[AuditLog | None, BodyRedactor]]]:
    def audit(i: int) -> AuditLog:
        return AuditLog(tmp / f"audit-{i}-{os.urandom(4).hex()}.jsonl")

    return {
        "bare": lambda i: (None, no_redaction),
        "audit": lambda i: (audit(i), no_redaction),
        "audit + redaction": lambda i: (audit(i), partial(redact_body, redactor=_redactor())),
    }


def _redactor() -> Redactor:
    redactor = Redactor()
    redactor.warm()
    return redactor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    bodies = session_bodies(opts.turns)
    sent = sum(len(b) for b in bodies)
    print(f"{opts.turns} requests a session, {sent / 1e6:.2f} MB sent; {opts.rounds} rounds")
    _redactor().redact("warm-up: load the scanning library before timing")
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(["ok"] * 10_000) as srv:
        setups = configurations(Path(tmp))
        per_request: dict[str, list[float]] = {name: [] for name in setups}
        for i in range(opts.rounds):
            for name, setup in setups.items():  # interleaved: drift hits all alike
                audit, redact = setup(i)
                per_request[name] += run_session(srv.base_url, bodies, audit, redact)
    bare = statistics.median(per_request["bare"])
    for name, times in per_request.items():
        median = statistics.median(times)
        share = (median - bare) / median if median else 0.0
        print(f"{name:18} median {median * 1000:7.2f} ms/request  "
              f"ratio to bare {median / bare:5.2f}  overhead share {share:6.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
