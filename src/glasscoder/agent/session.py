"""A session on disk: meta.json, the transcript (one message per JSONL line), the audit log.

The transcript is appended and fsynced message by message, so an interrupted session
resumes from exactly what was said.
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

from glasscoder.errors import UsageError
from glasscoder.models.base import Message

SESSION_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass
class Session:
    id: str
    dir: Path
    meta: dict[str, Any]
    messages: list[Message] = field(default_factory=list)

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
        session.save_meta()
        session.transcript_path.touch(mode=0o600)
        return session

    @classmethod
    def load(cls, sessions_dir: Path, sid: str) -> Session:
        if not SESSION_ID.match(sid):
            raise UsageError(f"'{sid}' is not a session id; `glasscoder sessions` lists them.")
        path = sessions_dir / sid
        try:
            meta = json.loads((path / "meta.json").read_text())
        except FileNotFoundError:
            raise UsageError(f"No session '{sid}' in {sessions_dir}.") from None
        except (OSError, json.JSONDecodeError) as e:
            raise UsageError(f"Session '{sid}' cannot be read ({e}).") from None
        session = cls(sid, path, meta)
        session.messages = _read_transcript(session.transcript_path)
        return session

    def append(self, message: Message) -> None:
        self.messages.append(message)
        line = json.dumps(message, ensure_ascii=False) + "\n"
        with self.transcript_path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def save_meta(self) -> None:
        self.meta["updated"] = _now()
        tmp = self.dir / "meta.json.tmp"
        tmp.write_text(json.dumps(self.meta, indent=2) + "\n")
        os.replace(tmp, self.dir / "meta.json")


def list_sessions(sessions_dir: Path) -> list[dict[str, Any]]:
    found = []
    for meta_path in sorted(sessions_dir.glob("*/meta.json")):
        try:
            found.append(json.loads(meta_path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return found


def _read_transcript(path: Path) -> list[Message]:
    messages = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            # Only the last line can be half-written (a crash mid-append); drop it.
            break
    return messages


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
