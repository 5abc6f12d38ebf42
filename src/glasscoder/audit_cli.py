"""`glasscoder audit verify|show`: check and read what was sent to the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from glasscoder.config import data_home
from glasscoder.errors import UsageError


def _sessions_dir() -> Path:
    return data_home() / "sessions"


def _audit_path(session_id: str) -> Path:
    from glasscoder.agent.session import Session

    return Session.load(_sessions_dir(), session_id).audit_path


def verify_command(session_id: str | None) -> int:
    from glasscoder.guard.audit import verify

    if session_id:
        paths = [(session_id, _audit_path(session_id))]
    else:
        paths = [(p.parent.name, p) for p in sorted(_sessions_dir().glob("*/audit.jsonl"))]
        if not paths:
            raise UsageError(f"No audit logs under {_sessions_dir()}.")
    bad = 0
    for sid, path in paths:
        result = verify(path)
        if result.ok:
            click.echo(f"{sid}: ok ({result.records} records)")
        else:
            bad += 1
            where = "" if result.first_bad is None else f" at record {result.first_bad}"
            click.echo(f"{sid}: FAILED{where}: {result.reason}")
    return 1 if bad else 0


def show_command(session_id: str, as_json: bool, full: bool) -> None:
    from glasscoder.guard.audit import iter_records

    path = _audit_path(session_id)
    if not path.exists():
        raise UsageError(f"Session {session_id} has no audit log (it never reached the model).")
    seen = 0  # messages already shown: each request repeats the history before it
    for record in iter_records(path):
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        elif record.get("kind") == "request":
            seen = _show_request(record, 0 if full else seen)
        elif record.get("kind") == "response":
            _show_response(record)
        else:
            click.echo(f"#{record.get('seq')} {record.get('kind')}: {_brief(record)}")


def _show_request(record: dict[str, Any], seen: int) -> int:
    body = record.get("body")
    size = record.get("bytes", "?")
    click.echo(f"#{record.get('seq')} request {record.get('method', 'POST')} {record.get('url')} "
               f"({size} bytes)")  # fmt: skip
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
