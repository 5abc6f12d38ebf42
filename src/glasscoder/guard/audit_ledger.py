"""The sessions ledger: one keyed record per session log created, in the data home.

Threat it answers: a head file shows a deleted log, but a session deleted together with its
head file would leave no trace. The ledger (``sessions-ledger.jsonl``) is itself an audit log,
keyed, chained and with its own head file, holding a ``created`` record when a session's log
gets its first record and a ``forgotten`` record when the person removes a session on purpose
(``audit forget``). ``audit verify`` checks every session the ledger names and has not been told
to forget. What it cannot answer: an older copy of the ledger put back with its head file.
"""

from __future__ import annotations

from pathlib import Path

from glasscoder.config import data_home
from glasscoder.guard.audit import AuditError, AuditLog, iter_records, session_of

LEDGER_NAME = "sessions-ledger.jsonl"


def ledger_path() -> Path:
    return data_home() / LEDGER_NAME


def record_created(name: str, key: bytes) -> None:
    """Note that the session log name (``sessions/ID/audit.jsonl``) was created."""
    AuditLog(ledger_path(), key).append("created", {"log": name})


def record_forgotten(name: str, key: bytes) -> None:
    """Note that the person removed the session log name on purpose."""
    AuditLog(ledger_path(), key).append("forgotten", {"log": name})


def ledger_sessions() -> tuple[dict[str, str], str | None]:
    """{session id: "created" or "forgotten"} as the ledger last says, and why it could not be
    read to its end (None when it could, or when there is no ledger). Verifying the ledger's
    chain is `verify`'s job; this only reads it."""
    found: dict[str, str] = {}
    try:
        for record in iter_records(ledger_path()):
            name, kind = record.get("log"), record.get("kind")
            session = session_of(name) if isinstance(name, str) else None
            if session is not None and kind in ("created", "forgotten"):
                found[session] = kind
    except FileNotFoundError:
        return found, None
    except (OSError, AuditError) as exc:
        return found, str(exc)
    return found, None


def record_chained(session_id: str, key: bytes) -> None:
    """Note that the session's transcript is chained from its start, so that one found later
    without MACs and head was stripped, not saved before chains (agent/transcript_mac.py)."""
    name = f"sessions/{session_id}/audit.jsonl"
    AuditLog(ledger_path(), key).append("transcript_chained", {"log": name})


def chained_transcripts() -> tuple[set[str], str | None]:
    """The sessions whose transcripts the ledger says are chained, and why it could not be read
    to its end (None when it could, or when there is no ledger)."""
    found: set[str] = set()
    try:
        for record in iter_records(ledger_path()):
            name = record.get("log")
            session = session_of(name) if isinstance(name, str) else None
            if session is not None and record.get("kind") == "transcript_chained":
                found.add(session)
    except FileNotFoundError:
        return found, None
    except (OSError, AuditError) as exc:
        return found, str(exc)
    return found, None
