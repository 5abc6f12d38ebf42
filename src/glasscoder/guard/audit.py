"""The tamper-evident audit log: what was sent to the model, and what came back.

One JSON object per line::

    {"seq": 0, "ts": "2025-01-02T03:04:05.678Z", "kind": "request", "prev": "000...0", ...data}

``seq`` counts from 0; ``prev`` is ``chain_hash`` of the previous record's line (its exact bytes,
without the newline), 64 zeros for the first record. Editing, removing or reordering any record
breaks the chain at that point, and ``verify`` names the first record that can no longer be trusted.

What the plain chain cannot catch, and where the fix goes:
- someone who rewrites a record and recomputes every later hash: make ``chain_hash`` keyed
  (HMAC-SHA256 with a key kept outside the log) - it is the one place the chain is computed;
- the last records being removed or the last record edited: keep ``AuditLog.head`` (the hash of
  the newest line) somewhere else and compare it on verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glasscoder.errors import UserFacingError

GENESIS = "0" * 64
RESERVED_KEYS = ("seq", "ts", "kind", "prev")
_READ_BLOCK = 64 * 1024


class AuditError(UserFacingError):
    """The audit log cannot be written or read; nothing is sent without it."""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int  # lines in the log, counting a damaged one
    first_bad: int | None  # index (== seq) of the first record that cannot be trusted
    reason: str


def chain_hash(line: bytes) -> str:
    """The link from one record to the next; the place a keyed (HMAC) chain goes."""
    return hashlib.sha256(line).hexdigest()


class AuditLog:
    """Append-only, hash-chained JSON lines; opening an existing log continues its chain."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # the transport may record from several threads
        self._next_seq, self._head = _resume_point(self.path)

    @property
    def head(self) -> str:
        """chain_hash of the newest line: keep it elsewhere to detect a truncated tail."""
        return self._head

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def append(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        clash = [k for k in RESERVED_KEYS if k in data]
        if clash:
            raise ValueError(f"audit data may not set {', '.join(clash)}")
        with self._lock:
            record = {"seq": self._next_seq, "ts": _now(), "kind": kind, "prev": self._head}
            record.update(data)
            line = _encode_line(record)
            self._write(line + b"\n")
            self._next_seq += 1
            self._head = chain_hash(line)
        return record

    def _write(self, data: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0o600: the log holds whole prompts, which may quote private code.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)  # a record that was sent must survive a crash right after
            finally:
                os.close(fd)
        except OSError as exc:
            raise AuditError(f"Cannot write the audit log {self.path}: {exc}") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _encode_line(record: dict[str, Any]) -> bytes:
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be UTF-8; escaped JSON keeps the record exact and valid.
        return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _resume_point(path: Path) -> tuple[int, str]:
    """The next seq and the head hash of an existing log (0 and GENESIS for a new one)."""
    if not path.exists() or path.stat().st_size == 0:
        return 0, GENESIS
    line = _last_line(path)
    record = _parse(line)
    if line is None or record is None or type(record.get("seq")) is not int:
        raise AuditError(
            f"The audit log {path} ends with a damaged record, so it cannot be continued. "
            "Run `glasscoder audit verify` and keep the file as evidence."
        )
    return record["seq"] + 1, chain_hash(line)


def _last_line(path: Path) -> bytes | None:
    """The last complete line without its newline, read from the end; None if the tail is torn."""
    with path.open("rb") as f:
        pos = f.seek(0, os.SEEK_END)
        buf = b""
        while pos > 0:
            step = min(_READ_BLOCK, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
            if not buf.endswith(b"\n"):
                return None
            cut = buf.rfind(b"\n", 0, len(buf) - 1)
            if cut != -1:
                return buf[cut + 1 : -1]
        return buf[:-1]


def _parse(line: bytes | None) -> dict[str, Any] | None:
    if line is None:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def iter_records(path: Path | str) -> Iterator[dict[str, Any]]:
    """Every record in order, for `audit show`; raises AuditError at a line that is not JSON."""
    with Path(path).open("rb") as f:
        for i, line in enumerate(f):
            record = _parse(line.rstrip(b"\n"))
            if record is None:
                raise AuditError(f"Record {i} of {path} is damaged; run `glasscoder audit verify`.")
            yield record


def verify(path: Path | str) -> VerifyResult:
    """Check the whole chain; the reason names what broke and where."""
    path = Path(path)
    if not path.is_file():
        return VerifyResult(False, 0, None, f"There is no audit log at {path}.")
    with path.open("rb") as f:
        problem = _first_problem(iter(f))
        f.seek(0)
        total = sum(1 for _ in f)
    if problem is None:
        return VerifyResult(True, total, None, f"{total} records, chain intact.")
    return VerifyResult(False, total, problem[0], problem[1])


def _first_problem(lines: Iterator[bytes]) -> tuple[int, str] | None:
    prev_line: bytes | None = None
    for i, raw in enumerate(lines):
        if not raw.endswith(b"\n"):
            return i, f"record {i} is incomplete: the log ends mid-record."
        line = raw[:-1]
        record = _parse(line)
        problem = _record_problem(i, record)
        if problem:
            return i, problem
        assert record is not None
        expected = GENESIS if prev_line is None else chain_hash(prev_line)
        if record["prev"] != expected:
            return _chain_break(i, line, next(lines, None))
        prev_line = line
    return None


def _record_problem(i: int, record: dict[str, Any] | None) -> str | None:
    if record is None:
        return f"record {i} is not a JSON object (changed or damaged)."
    seq = record.get("seq")
    if type(seq) is not int or seq != i:
        return f"record {i} has seq {seq!r}: records were removed, reordered or renumbered."
    if not all(isinstance(record.get(k), str) for k in ("ts", "kind", "prev")):
        return f"record {i} lacks its ts, kind or prev field."
    return None


def _chain_break(i: int, line: bytes, following: bytes | None) -> tuple[int, str]:
    """Record i's prev does not match record i-1; the next line tells which of the two changed."""
    if i == 0:
        return 0, "record 0 does not start a chain: the log's beginning was removed or changed."
    next_record = _parse(following.rstrip(b"\n")) if following else None
    if next_record is not None and next_record.get("prev") == chain_hash(line):
        return i - 1, f"record {i - 1} was changed: it no longer matches the hash in record {i}."
    if next_record is not None:
        return i, f"record {i} was changed: its prev does not match record {i - 1}."
    return i - 1, f"record {i - 1} or record {i} was changed: the chain breaks between them."


# --- Bodies -------------------------------------------------------------------------------
# A body is kept readable (parsed JSON, so `audit show` can print the messages; else text) but
# always exactly recoverable: body_bytes(record) returns the bytes that went over the wire.


def body_fields(body: bytes) -> dict[str, Any]:
    """Record fields for a body: bytes (length), sha256, body_form and body."""
    fields: dict[str, Any] = {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return fields | {"body_form": "base64", "body": base64.b64encode(body).decode("ascii")}
    parsed = _exact_json(text)
    if parsed is not None:
        return fields | {"body_form": "json", "body": parsed[0]}
    return fields | {"body_form": "text", "body": text}


def body_bytes(record: dict[str, Any]) -> bytes:
    """The exact bytes a record's body stands for."""
    form, body = record.get("body_form"), record.get("body")
    if form == "json":
        return _compact_json(body).encode("utf-8")
    if form == "base64":
        return base64.b64decode(body or "")
    return (body or "").encode("utf-8")


def _compact_json(value: Any) -> str:
    # The form HTTP clients send (httpx, the openai SDK): no spaces, UTF-8 kept as is.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _exact_json(text: str) -> tuple[Any] | None:
    """(parsed,) when text is exactly the compact JSON of what it parses to, else None."""
    if not text.startswith(("{", "[")):
        return None
    try:
        value = json.loads(text)
        return (value,) if _compact_json(value) == text else None
    except ValueError:
        return None
