"""The transcript's integrity: a keyed chain over its lines and a keyed head file.

``--resume`` replays the transcript to the model, so an edited transcript would put words in
the model's history. Each line therefore carries ``"_mac"``: HMAC-SHA256 under the per-user
audit key (``guard/audit_key.py``) over the session id, the previous line's MAC and the message
as stored. ``transcript.head`` holds the line count and the last MAC, itself under the key, so a
cut tail or deleted lines show too. Without the key neither can be recomputed. Format and limits:
docs/audit.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glasscoder.errors import UsageError
from glasscoder.guard.audit_ledger import chained_transcripts
from glasscoder.models.base import Message

MAC_FIELD = "_mac"
HEAD_FILE = "transcript.head"
GENESIS = "0" * 64


def encode(message: Message) -> str:
    """A message as the transcript stores it (and as its MAC covers it)."""
    return json.dumps(message, ensure_ascii=False, allow_nan=False)


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\n".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class TranscriptChain:
    """Where the chain stands: lines written and the last line's MAC."""

    dir: Path
    session_id: str
    key: bytes
    count: int = 0
    last: str = GENESIS

    def seal(self, body: str) -> str:
        """The line to write for an encoded message, advancing the chain."""
        mac = _mac(self.key, "glasscoder-transcript", self.session_id, self.last, body)
        self.count, self.last = self.count + 1, mac
        return f'{body[:-1]}{", " if body != "{}" else ""}"{MAC_FIELD}": "{mac}"}}'

    def write_head(self) -> None:
        """transcript.head replaced whole: the count and last MAC, and a MAC over both."""
        mac = self._head_mac(self.count, self.last)
        head = {"count": self.count, "last": self.last, "mac": mac}
        tmp = self.dir / f"{HEAD_FILE}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(head) + "\n")
            f.flush()
            os.fsync(f.fileno())  # else a power cut can leave an empty head: a refused resume
        os.replace(tmp, self.dir / HEAD_FILE)

    def _head_mac(self, count: int, last: str) -> str:
        return _mac(self.key, "glasscoder-transcript-head", self.session_id, str(count), last)

    def verify(self, lines: list[Any]) -> None:
        """UsageError naming the first line that breaks the chain, or a cut end.

        lines are the parsed lines, each a dict still holding its MAC field (popped here)."""
        macs = []
        for number, message in enumerate(lines, 1):
            mac = message.pop(MAC_FIELD, None)
            if mac != _mac(self.key, "glasscoder-transcript", self.session_id, self.last,
                           encode(message)):  # fmt: skip
                raise _tampered(self.session_id, f"line {number} of its transcript was changed, "
                                "inserted, or follows a removed line")  # fmt: skip
            self.count, self.last = number, mac
            macs.append(mac)
        count, last = self._read_head()
        # More lines than the head counts: only a crash between a line and its head does that.
        if count > len(macs) or (count and macs[count - 1] != last):
            raise _tampered(self.session_id, f"its transcript ends at line {len(macs)} but held "
                            f"{count} lines: its end was cut")  # fmt: skip

    def _read_head(self) -> tuple[int, str]:
        try:
            head = json.loads(read_regular(self.dir / HEAD_FILE))
            count, last = head["count"], str(head["last"])
            ok = type(count) is int and hmac.compare_digest(
                str(head["mac"]), self._head_mac(count, last)
            )
        except (OSError, ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise _tampered(self.session_id, f"its {HEAD_FILE} is missing or was changed")
        return count, last


def read_regular(path: Path) -> bytes:
    """A session file's bytes; OSError for anything but a regular file (reading a FIFO put in
    its place would block the resume forever)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return f.read()


def is_chained(session_dir: Path, lines: list[Any]) -> bool:
    """Whether a transcript was written with the chain (made before it: no head, no MAC)."""
    if (session_dir / HEAD_FILE).exists():
        return True
    return any(isinstance(m, dict) and MAC_FIELD in m for m in lines)


def refuse_if_stripped(session_id: str) -> None:
    """UsageError when a transcript found without its chain was created with one: the sessions
    ledger, keyed, says which were (guard/audit_ledger.py)."""
    chained, unreadable = chained_transcripts()
    if unreadable is not None:
        raise _tampered(session_id, f"it has no integrity check and the sessions ledger that "
                        f"would say why cannot be read ({unreadable})")  # fmt: skip
    if session_id in chained:
        raise _tampered(session_id, f"its transcript's MACs and {HEAD_FILE} were removed")


def _tampered(session_id: str, what: str) -> UsageError:
    return UsageError(
        f"Session {session_id} cannot be resumed: {what}, so it cannot be trusted. "
        "Start a new session instead (run glasscoder without --resume); keep the session "
        "folder as evidence."
    )
