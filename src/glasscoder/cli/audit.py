"""`glasscoder audit verify|show|export|forget`: check, read and hand on what was sent to the
model, and acknowledge a session removed on purpose."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from glasscoder.config import data_home
from glasscoder.errors import UsageError


def _sessions_dir() -> Path:
    return data_home() / "sessions"


def _audit_path(session_id: str) -> Path:
    from glasscoder.agent.session import Session

    try:
        return Session.load(_sessions_dir(), session_id, verify=False).audit_path
    except UsageError:
        # A session folder removed whole is still remembered by its head file or the ledger.
        kept = _remembered_log(session_id)
        if kept is not None:
            return kept
        raise


def _remembered_log(session_id: str) -> Path | None:
    """The log path of a session the index or the sessions ledger still knows of."""
    from glasscoder.guard.audit import has_head, session_of
    from glasscoder.guard.audit_ledger import ledger_sessions

    if session_of(f"sessions/{session_id}/audit.jsonl") != session_id:
        return None  # not one folder name: never looked up
    kept = _sessions_dir() / session_id / "audit.jsonl"
    return kept if has_head(kept) or session_id in ledger_sessions()[0] else None


def _all_session_logs() -> list[tuple[str, Path]]:
    """Every session's log, every log the index knows of under sessions/ and every session the
    ledger records as created (even deleted)."""
    from glasscoder.guard.audit import indexed_logs
    from glasscoder.guard.audit_ledger import ledger_sessions

    found = set(_sessions_dir().glob("*/audit.jsonl"))
    found.update(p for p in indexed_logs() if p.parent.parent == _sessions_dir())
    ledger = ledger_sessions()[0]
    found.update(_sessions_dir() / sid / "audit.jsonl" for sid, kind in ledger.items()
                 if kind == "created")  # fmt: skip
    return [(p.parent.name, p) for p in sorted(found)]


def verify_command(session_id: str | None) -> int:
    if session_id:
        paths = [(session_id, _audit_path(session_id))]
        bad = 0
    else:
        paths = _all_session_logs()
        bad = _report_unreadable_heads() + _verify_ledger()
        if not paths and not bad:
            raise UsageError(f"No audit logs under {_sessions_dir()}.")
    for sid, path in paths:
        bad += _verify_one(sid, path)
    return 1 if bad else 0


def _verify_one(sid: str, path: Path) -> int:
    """Print one session's verdict; 1 when it failed."""
    from glasscoder.guard.audit import has_head, verify

    result = verify(path)
    if result.ok:
        click.echo(f"{sid}: ok ({result.records} records)")
        return 0
    reason = result.reason
    if not os.path.lexists(path.parent) and not has_head(path):
        reason = (
            "its folder and its head file are gone, but the sessions ledger records that it "
            f"was created. If you removed it on purpose: glasscoder audit forget {sid}"
        )
    where = "" if result.first_bad is None else f" at record {result.first_bad}"
    click.echo(f"{sid}: FAILED{where}: {reason}")
    return 1


def _verify_ledger() -> int:
    """Check the sessions ledger's own chain and end (when it exists or its head file does)."""
    from glasscoder.guard.audit import has_head, verify
    from glasscoder.guard.audit_ledger import ledger_path

    path = ledger_path()
    if not os.path.lexists(path) and not has_head(path):
        return 0  # no session was created since the ledger came to be
    result = verify(path)
    if result.ok:
        return 0
    where = "" if result.first_bad is None else f" at record {result.first_bad}"
    click.echo(f"sessions ledger: FAILED{where}: {result.reason}")
    return 1


def forget_command(session_id: str) -> None:
    """Record in the sessions ledger that a session was removed on purpose, and drop its head
    file, so `audit verify` stops reporting it. Its folder must already be gone."""
    from glasscoder.guard.audit import DEFAULT_INDEX, audit_key, slot_for
    from glasscoder.guard.audit_ledger import record_forgotten

    path = _remembered_log(session_id)
    if path is not None and os.path.lexists(path.parent):
        raise UsageError(
            f"Session {session_id} still has its folder; remove {path.parent} first, then "
            "forget it."
        )
    if path is None:
        raise UsageError(f"No session {session_id} is remembered by the audit index or ledger.")
    slot = slot_for(path, DEFAULT_INDEX)
    assert slot is not None  # a path under sessions/ always has one
    record_forgotten(slot.name, audit_key(create=False))
    slot.file.unlink(missing_ok=True)
    click.echo(f"{session_id}: forgotten; `audit verify` no longer looks for it.")


def _report_unreadable_heads() -> int:
    """Head files that name no log (damaged, or copied under another log's name): the log they
    guarded cannot be told, so each is reported on its own."""
    from glasscoder.guard.audit import unreadable_heads

    files = unreadable_heads()
    for file in files:
        click.echo(f"{file.name}: FAILED: this audit index entry cannot be read or is not named "
                   "for the log it holds, so that log's end cannot be checked.")  # fmt: skip
    return len(files)


# --- show -----------------------------------------------------------------------------------


def show_command(session_id: str, as_json: bool, full: bool) -> None:
    """Request by request: endpoint, bytes both ways, redactions; --json one object a request
    (with --full, the raw records)."""
    from glasscoder.guard.audit import iter_records

    path = _audit_path(session_id)
    if not path.exists():
        raise UsageError(f"Session {session_id} has no audit log (it never reached the model).")
    replies = _replies(path)
    seen = 0  # messages already shown: each request repeats the history before it
    for record in iter_records(path):
        kind = record.get("kind")
        if as_json:
            row = record if full else _row(record, replies)
            if row is not None:
                click.echo(_json_line(row))
        elif kind == "request":
            seen = _show_request(record, replies, 0 if full else seen)
        elif kind == "response":
            _show_response(record)
        elif kind == "refused":
            click.echo(f"#{record.get('seq')} refused {record.get('method')} {record.get('url')}: "
                       "not the configured endpoint, nothing sent")  # fmt: skip
        else:
            click.echo(f"#{record.get('seq')} {kind}: {_brief(record)}")


def _replies(path: Path) -> dict[int, dict[str, Any]]:
    """Each request's response record (without its body), by the request's seq."""
    from glasscoder.guard.audit import iter_records

    found: dict[int, dict[str, Any]] = {}
    for record in iter_records(path):
        seq = record.get("request_seq")
        if record.get("kind") == "response" and type(seq) is int:
            found[seq] = {"bytes": record.get("bytes"), "status": record.get("status")}
    return found


def _row(record: dict[str, Any], replies: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """A request or refused attempt as one JSON object; None for other records."""
    from glasscoder.guard.audit_report import IN_PROCESS, destination, redaction_counts

    kind = record.get("kind")
    if kind not in ("request", "refused"):
        return None
    seq = record.get("seq")
    reply = replies.get(seq, {}) if kind == "request" and type(seq) is int else {}
    return {
        "seq": seq,
        "ts": record.get("ts"),
        "kind": kind,
        "method": record.get("method"),
        "endpoint": record.get("url"),
        "destination": destination(record),
        "in_process": destination(record) == IN_PROCESS,
        "bytes_sent": record.get("bytes", 0) if kind == "request" else 0,
        "bytes_received": reply.get("bytes"),
        "status": reply.get("status"),
        "redactions": redaction_counts(record),
    }


def _show_request(record: dict[str, Any], replies: dict[int, dict[str, Any]], seen: int) -> int:
    row = _row(record, replies)
    assert row is not None
    place = " (in-process)" if row["in_process"] else ""
    received = "no reply" if row["bytes_received"] is None else f"{row['bytes_received']} received"
    redacted = ", ".join(f"{k} {n}" for k, n in sorted(row["redactions"].items()))
    click.echo(f"#{row['seq']} request {row['method']} {row['endpoint']}{place}: "
               f"{row['bytes_sent']} bytes sent, {received}; "
               f"{'redacted: ' + redacted if redacted else 'nothing redacted'}")  # fmt: skip
    body = record.get("body")
    if not isinstance(body, dict):
        click.echo(_indent(str(body)))
        return seen
    messages = body.get("messages") or []
    if seen:
        click.echo(f"  ... {seen} earlier messages, as shown above")
    for msg in messages[seen:]:
        click.echo(_indent(_render_message(msg)))
    if body.get("tools") and not seen:
        names = [t.get("function", {}).get("name") for t in body["tools"]]
        click.echo(f"  tools: {', '.join(str(n) for n in names)}")
    return len(messages)


def _show_response(record: dict[str, Any]) -> None:
    click.echo(f"#{record.get('seq')} response {record.get('status', '')} "
               f"({record.get('bytes', '?')} bytes)")  # fmt: skip


def _render_message(msg: dict[str, Any]) -> str:
    role = msg.get("role", "?")
    text = msg.get("content") or ""
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False)
    calls = msg.get("tool_calls") or []
    lines = [f"[{role}] {text}"]
    for call in calls:
        fn = call.get("function", {})
        lines.append(f"  -> {fn.get('name')}({fn.get('arguments')})")
    return "\n".join(lines)


def _brief(record: dict[str, Any]) -> str:
    rest = {k: v for k, v in record.items() if k not in ("seq", "ts", "kind", "prev")}
    return json.dumps(rest, ensure_ascii=False)[:200]


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


# --- export ---------------------------------------------------------------------------------


def export_command(since: str | None) -> int:
    """Every session's records as JSON lines, each with its session id; exit 1 if a log was
    damaged (what could be read is still exported, and the damage named on stderr)."""
    from glasscoder.guard.audit import AuditError, iter_records

    cutoff = parse_since(since) if since is not None else None
    damaged = 0
    for sid, path in _all_session_logs():
        if not path.exists():
            continue  # `audit verify` reports a deleted log; there is nothing to export
        try:
            for record in iter_records(path):
                if cutoff is None or _not_before(record, cutoff):
                    click.echo(_json_line({"session": sid, **record}))
        except AuditError as exc:
            damaged += 1
            click.echo(f"glasscoder: session {sid}: {exc}", err=True)
    return 1 if damaged else 0


def parse_since(value: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC unless it names its offset)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"--since takes an ISO date or date-time, e.g. 2025-01-31 or 2025-01-31T09:30:00Z; "
            f"'{value}' is neither."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _not_before(record: dict[str, Any], cutoff: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(str(record.get("ts")))
    except ValueError:
        return True  # a record whose time cannot be read is exported rather than lost
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) >= cutoff


def _json_line(value: dict[str, Any]) -> str:
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate kept from the log: escaped, still exact
        return json.dumps(value, ensure_ascii=True)
    return text
