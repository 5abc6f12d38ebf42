"""A session's audit log in one line: requests, bytes, where they went, redactions, refusals."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from glasscoder.guard.audit import iter_records

IN_PROCESS = "the in-process model"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AuditSummary:
    requests: int  # requests that left (a connection was made)
    bytes_sent: int
    bytes_received: int
    destinations: list[str]  # host:port (or IN_PROCESS) of the requests sent, first seen first
    refused: list[str]  # host:port of each refused attempt, in order; nothing was sent to them
    redactions: dict[str, int]  # kind -> how many values were replaced, over all requests
    # Commands' own network, through the sandbox's allow-list proxy ("net" records).
    command_net: list[str] = field(default_factory=list)  # host:port reached, first seen first
    command_net_refused: int = 0  # connections the proxy refused
    # Requests that never left: the connection failed (an "error" record with "sent": false).
    unsent: int = 0


def destination(record: dict[str, Any]) -> str:
    """Where a request or refused record was (to be) sent: host:port, or the in-process model."""
    if record.get("method") == "EMBEDDED":
        return IN_PROCESS
    try:
        parts = urlsplit(str(record.get("url") or ""))
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number: show the URL as it was written
        return str(record.get("url"))
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def redaction_counts(record: dict[str, Any]) -> dict[str, int]:
    """A request's redactions field, ignoring anything that is not a kind and a count."""
    raw = record.get("redactions")
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if type(v) is int and v > 0}


def summarize(path: Path, start: int = 0) -> AuditSummary:
    """Summarise the log's records from seq start on (a resumed run passes where it began).

    A log that does not exist summarises as nothing sent; a damaged line raises AuditError.
    A request whose connection failed is taken back out: its bytes never left.
    """
    requests = sent = received = unsent = 0
    request_bytes: dict[Any, tuple[int, str]] = {}  # seq -> (bytes, destination)
    destinations: dict[str, None] = {}  # an ordered set
    refused: list[str] = []
    redactions: Counter[str] = Counter()
    net: dict[str, None] = {}
    net_refused = 0
    records = iter_records(path) if Path(path).exists() else iter(())
    for record in records:
        seq = record.get("seq")
        if type(seq) is int and seq < start:
            continue
        kind = record.get("kind")
        if kind == "request":
            requests += 1
            sent += _count(record.get("bytes"))
            request_bytes[seq] = (_count(record.get("bytes")), destination(record))
            redactions.update(redaction_counts(record))
        elif (
            kind == "error"
            and record.get("sent") is False
            and record.get("request_seq") in request_bytes
        ):
            requests, unsent = requests - 1, unsent + 1
            sent -= request_bytes.pop(record.get("request_seq"))[0]
        elif kind == "response":
            received += _count(record.get("bytes"))
        elif kind == "refused":
            refused.append(destination(record))
        elif kind == "net" and record.get("event") == "allowed":
            net[f"{record.get('host')}:{record.get('port')}"] = None
        elif kind == "net" and record.get("event") == "refused":
            net_refused += 1
    for _, where in request_bytes.values():  # in order: dicts keep it
        destinations[where] = None
    return AuditSummary(
        requests, sent, received, list(destinations), refused, dict(sorted(redactions.items())),
        list(net), net_refused, unsent,
    )  # fmt: skip


def summary_line(s: AuditSummary) -> str:
    """The line printed when a session ends."""
    if s.requests:
        where = ", ".join(s.destinations)
        sent = (f"audit: {_plural(s.requests, 'request')}, {s.bytes_sent:,} bytes sent to "
                f"{where} ({s.bytes_received:,} received)")  # fmt: skip
    else:
        sent = "audit: no requests, nothing sent"
    if s.unsent:
        sent += f" ({_plural(s.unsent, 'request')} not sent: the connection failed)"
    redacted = ", ".join(f"{kind} {n}" for kind, n in s.redactions.items())
    parts = [sent, f"redacted: {redacted}" if redacted else "nothing redacted"]
    if s.refused:
        counts = Counter(s.refused)
        where = ", ".join(f"{d} ({n})" if n > 1 else d for d, n in counts.items())
        parts.append(f"{_plural(len(s.refused), 'request')} refused, to {where}")
    if s.command_net or s.command_net_refused:
        reached = ", ".join(s.command_net) or "nothing"
        parts.append(f"commands reached {reached} through the allow-list"
                     f" ({s.command_net_refused} refused)")  # fmt: skip
    if not s.refused:
        parts.append("no other destination")
    return "; ".join(parts) + "."


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
