"""A session on disk: meta.json, the transcript (one message per JSONL line), the audit log.

The transcript is appended and fsynced message by message, so an interrupted session
resumes from exactly what was said; each line is chained under the audit key
(``transcript_mac.py``) and checked before a resume replays it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glasscoder.agent.transcript_mac import (
    MAC_FIELD,
    TranscriptChain,
    encode,
    is_chained,
    read_regular,
    refuse_if_stripped,
)
from glasscoder.errors import UsageError
from glasscoder.guard.audit_key import audit_key
from glasscoder.guard.audit_ledger import record_chained
from glasscoder.models.base import Message
from glasscoder.safetext import scrub

COMPACTION = "compaction"  # a transcript line that replaces parts of what came before it
Splice = list[Any]  # [start, end, [messages]]: messages[start:end] replaced
SESSION_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass
class Session:
    id: str
    dir: Path
    meta: dict[str, Any]
    messages: list[Message] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # for the person, e.g. an unchecked resume
    # None for a session made before transcripts were chained: it stays unchained.
    chain: TranscriptChain | None = field(default=None, repr=False)

    @property
    def transcript_path(self) -> Path:
        return self.dir / "transcript.jsonl"

    @property
    def audit_path(self) -> Path:
        return self.dir / "audit.jsonl"

    @classmethod
    def create(cls, sessions_dir: Path, meta: dict[str, Any]) -> Session:
        sid = new_session_id()
        path = sessions_dir / sid
        path.mkdir(parents=True, mode=0o700)
        session = cls(sid, path, {"id": sid, "created": _now(), **meta})
        session.chain = TranscriptChain(path, sid, audit_key())
        session.save_meta()
        session.transcript_path.touch(mode=0o600)
        session.chain.write_head()  # count 0: from now on a missing head is a removed one
        record_chained(sid, session.chain.key)  # and a stripped chain is not an old session
        return session

    @classmethod
    def load(cls, sessions_dir: Path, sid: str, verify: bool = True) -> Session:
        """The session on disk; verify false reads the transcript without checking its chain
        (for the audit commands, which check the audit log, not the conversation)."""
        if not SESSION_ID.match(sid):
            raise UsageError(f"'{sid}' is not a session id; `glasscoder sessions` lists them.")
        path = sessions_dir / sid
        try:
            meta = json.loads(read_regular(path / "meta.json"))
        except FileNotFoundError:
            raise UsageError(f"No session '{sid}' in {sessions_dir}.") from None
        except (OSError, ValueError) as e:
            raise UsageError(f"Session '{sid}' cannot be read ({e}).") from None
        if not isinstance(meta, dict) or not isinstance(meta.get("workspace"), str):
            raise UsageError(f"Session '{sid}' cannot be read (its meta.json is damaged).")
        session = cls(sid, path, meta)
        try:
            lines, torn = _read_transcript(session.transcript_path)
        except (OSError, ValueError) as e:
            raise UsageError(f"Session '{sid}' cannot be resumed: {e}.") from None
        if not verify:
            for line in lines:
                line.pop(MAC_FIELD, None)
        elif is_chained(path, lines):
            session.chain = TranscriptChain(path, sid, audit_key())
            session.chain.verify(lines)  # takes the MACs out of the lines
        else:
            refuse_if_stripped(sid)
            session.warnings.append(
                f"session {sid} was saved before transcripts carried an integrity check; "
                "its transcript is resumed unchecked."
            )
        if torn is not None and verify:  # cut only once the rest proved sound: evidence
            with session.transcript_path.open("r+b") as f:
                f.truncate(torn)
        try:
            session.messages = _replay(lines)
        except ValueError as e:
            raise UsageError(f"Session '{sid}' cannot be resumed: {e}.") from None
        return session

    def append(self, message: Message) -> Message:
        """Store message (made JSON-safe: see safetext.scrub) and return what was stored."""
        message = scrub(message)
        self.messages.append(message)
        self._write_line(message)
        return message

    def _write_line(self, record: dict[str, Any]) -> None:
        line = encode(record)
        if self.chain is not None:
            line = self.chain.seal(line)
        with self.transcript_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.chain is not None:
            self.chain.write_head()

    def compact(self, splices: list[Splice], note: dict[str, Any]) -> None:
        """Replace parts of the conversation (agent/compaction.py): applied to `messages` and
        written as one "compaction" line, which a resume applies in turn; the lines before it
        stay as they were, so the transcript keeps every message ever sent."""
        self.messages = apply_splices(self.messages, splices)
        self._write_line(scrub({"role": COMPACTION, "splices": splices, "note": note}))

    def save_meta(self) -> None:
        self.meta["updated"] = _now()
        tmp = self.dir / "meta.json.tmp"
        tmp.write_text(json.dumps(self.meta, indent=2) + "\n")
        os.replace(tmp, self.dir / "meta.json")


def list_sessions(sessions_dir: Path) -> list[dict[str, Any]]:
    found = []
    for meta_path in sorted(sessions_dir.glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict):
            found.append(meta)
    return found


def apply_splices(messages: list[Message], splices: list[Splice]) -> list[Message]:
    """`messages` with each [start, end, replacement] applied, the highest start first (so
    one splice's indices never shift another's)."""
    result = list(messages)
    for start, end, replacement in sorted(splices, key=lambda s: s[0], reverse=True):
        result[start:end] = replacement
    return result


def workspace_sessions(root: Path, sessions_dir: Path | None = None) -> list[dict[str, Any]]:
    """The agent sessions (not reviews) of one workspace, the latest updated first."""
    if sessions_dir is None:
        from glasscoder.config import data_home

        sessions_dir = data_home() / "sessions"
    found = [m for m in list_sessions(sessions_dir)
             if m.get("workspace") == str(root) and m.get("kind", "agent") == "agent"
             and isinstance(m.get("id"), str) and SESSION_ID.match(m["id"])]  # fmt: skip
    return sorted(found, key=lambda m: (str(m.get("updated", "")), m["id"]), reverse=True)


def latest_session(root: Path) -> str | None:
    """The id `-c/--continue` takes: this workspace's most recently updated session."""
    found = workspace_sessions(root)
    return found[0]["id"] if found else None


def _read_transcript(path: Path) -> tuple[list[Message], int | None]:
    """The messages on disk, and where a half-written last line (a crash mid-append) begins:
    the file's length to cut it to, None when there is none.

    Cutting it matters: the next append would otherwise continue that broken line, and the
    message it holds would be lost at the following resume. Damage anywhere else raises
    ValueError rather than silently dropping what follows it.
    """
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return [], None
    complete = data[: data.rfind(b"\n") + 1]
    lines = complete.decode("utf-8").splitlines()
    torn = len(complete) if len(complete) < len(data) else None
    return [_message(line, number) for number, line in enumerate(lines, 1)], torn


def _replay(records: list[Message]) -> list[Message]:
    """The conversation as it stands: the messages, with each compaction line applied."""
    messages: list[Message] = []
    for number, record in enumerate(records, 1):
        if record.get("role") == COMPACTION:
            messages = apply_splices(messages, _splices(record, number, len(messages)))
        else:
            messages.append(record)
    return messages


def _message(line: str, number: int) -> Message:
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # only a damaged line nests that deep: appends bound it
        message = None
    if not _well_formed(message):
        raise ValueError(f"line {number} of its transcript is damaged")
    return message


def _splices(record: dict[str, Any], number: int, count: int) -> list[Splice]:
    splices = record.get("splices")
    ok = isinstance(splices, list) and all(
        isinstance(s, list) and len(s) == 3 and type(s[0]) is int and type(s[1]) is int
        and 0 <= s[0] <= s[1] <= count and isinstance(s[2], list)
        and all(_well_formed(m) and m.get("role") != COMPACTION for m in s[2])
        for s in splices
    )  # fmt: skip
    if not ok:
        raise ValueError(f"line {number} of its transcript is damaged")
    return splices


def _well_formed(message: Any) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        return False
    calls = message.get("tool_calls") or []
    return isinstance(calls, list) and all(
        isinstance(c, dict) and isinstance(c.get("id"), str) for c in calls
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
