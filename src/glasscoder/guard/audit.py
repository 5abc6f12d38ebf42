"""The tamper-evident audit log: what was sent to the model, and what came back.

One JSON object per line::

    {"seq": 0, "ts": "2025-01-02T03:04:05.678Z", "kind": "request", "prev": "000...0", ...data}

``seq`` counts from 0; ``prev`` is ``chain_hash`` of the previous record's line (its exact bytes,
without the newline) under the per-user key (``audit_key.py``), 64 zeros for the first record.

Threat it answers: a changed, removed, inserted or reordered record. Rewriting a record and
recomputing the later links needs the key. What a chain cannot see, its own end, is checked
against the log's head file (``audit_index.py``), written after every append; ``verify``
compares both. This module also holds the log's readers and the body helpers, and re-exports
the key's and the index's names so callers import everything audit from here.
docs/audit.md describes the format for people and compliance tooling.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import hashlib
import hmac
import json
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from glasscoder.guard.audit_index import (
    DEFAULT_INDEX,
    INDEX_FORMAT,
    HeadSlot,
    IndexArg,
    IndexEntry,
    has_head,
    heads_dir,
    indexed_logs,
    placement_problem,
    read_head,
    session_of,
    slot_for,
    unreadable_heads,
    write_head,
)
from glasscoder.guard.audit_key import KEY_BYTES, AuditError, audit_key, key_path
from glasscoder.nesting import KEEP_DEPTH, loads_bounded

__all__ = [
    "DEFAULT_INDEX",
    "GENESIS",
    "INDEX_FORMAT",
    "KEY_BYTES",
    "RESERVED_KEYS",
    "AuditError",
    "AuditLog",
    "IndexArg",
    "IndexEntry",
    "VerifyResult",
    "audit_key",
    "body_bytes",
    "body_fields",
    "chain_hash",
    "has_head",
    "heads_dir",
    "indexed_logs",
    "iter_records",
    "key_path",
    "placement_problem",
    "session_of",
    "unreadable_heads",
    "verify",
]

GENESIS = "0" * 64
RESERVED_KEYS = ("seq", "ts", "kind", "prev")
_READ_BLOCK = 64 * 1024


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    records: int  # lines in the log, counting a damaged one
    first_bad: int | None  # index (== seq) of the first record that cannot be trusted
    reason: str


def chain_hash(line: bytes, key: bytes | None = None) -> str:
    """The link from one record to the next: HMAC-SHA256 under key (plain SHA-256 without)."""
    if key is None:
        return hashlib.sha256(line).hexdigest()
    return hmac.new(key, line, hashlib.sha256).hexdigest()


# --- Writing --------------------------------------------------------------------------------


class AuditLog:
    """Append-only, keyed-chain JSON lines; opening an existing log continues its chain.

    key None means the per-user key (``audit_key()``); index is the folder of head files that
    keeps each log's newest seq and head (``DEFAULT_INDEX``: the data home's, for logs under the
    data home; None: no index).
    """

    def __init__(
        self, path: Path | str, key: bytes | None = None, index: IndexArg = DEFAULT_INDEX
    ) -> None:
        self.path = Path(path)
        self._key = audit_key() if key is None else key
        self._slot: HeadSlot | None = slot_for(self.path, index)
        misplaced = placement_problem(self.path, index)
        if misplaced:
            raise AuditError(f"The audit log {self.path} cannot be written: {misplaced}")
        # A session's log also gets a line in the sessions ledger when it is created, so that
        # removing the session together with its head file still shows (audit_ledger.py).
        self._ledger = bool(index is DEFAULT_INDEX and self._slot and session_of(self._slot.name))
        self._lock = threading.Lock()  # the transport may record from several threads
        self._next_seq, self._head, self._size = 0, GENESIS, 0
        self._catch_up()

    @property
    def head(self) -> str:
        """chain_hash of the newest line (also kept in the index, to detect a cut tail)."""
        return self._head

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def append(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        clash = [k for k in RESERVED_KEYS if k in data]
        if clash:
            raise ValueError(f"audit data may not set {', '.join(clash)}")
        with self._lock:
            try:
                return self._append_locked(kind, data)
            except OSError as exc:
                raise AuditError(f"Cannot write the audit log {self.path}: {exc}") from exc

    def _append_locked(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # 0o600: the log holds whole prompts, which may quote private code.
        fd = _open_log(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # another AuditLog on this file waits its turn
            if os.fstat(fd).st_size != self._size:
                self._catch_up()  # it wrote since we last did: continue after its records
            else:
                self._check_end()  # a changed or damaged head is evidence: never written over
            record = {"seq": self._next_seq, "ts": _now(), "kind": kind, "prev": self._head}
            record.update(data)
            line = _encode_line(record)
            _write_all(fd, line + b"\n")
            os.fsync(fd)  # a record that was sent must survive a crash right after
            self._next_seq += 1
            self._head = chain_hash(line, self._key)
            self._size += len(line) + 1
            if self._slot is not None:  # under the log's lock: heads of one log never race
                write_head(self._slot, self._key, IndexEntry(record["seq"], self._head))
            if record["seq"] == 0 and self._ledger and self._slot is not None:
                from glasscoder.guard.audit_ledger import record_created  # it writes an AuditLog

                record_created(self._slot.name, self._key)
        finally:
            os.close(fd)
        return record

    def _catch_up(self) -> None:
        """Continue from the log's last record, unless the index shows it was cut or changed."""
        self._next_seq, self._head, self._size = _resume_point(self.path, self._key)
        self._check_end()

    def _check_end(self) -> None:
        """AuditError unless the log's end is where its head file says, or past it."""
        entry = None if self._slot is None else read_head(self._slot, self._key)
        last = self._next_seq - 1
        if entry is not None and (
            entry.seq > last or (entry.seq == last and entry.head != self._head)
        ):
            raise AuditError(
                f"The audit log {self.path} no longer matches the audit index (which says it "
                f"ends at record {entry.seq}): it was cut, deleted or changed, so it cannot be "
                "continued. Run `glasscoder audit verify` and keep the file as evidence."
            )


def _open_log(path: Path, flags: int = os.O_RDONLY) -> int:
    """A descriptor on the log itself: a symbolic link in its place is refused, never followed
    (the head file checked is the one named for this path, so the bytes must be this path's)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise AuditError(
            f"The audit log {path} is a symbolic link; glasscoder does not follow it. "
            "Run `glasscoder audit verify` and keep the file as evidence."
        ) from None


def _read_log(path: Path) -> BinaryIO:
    return os.fdopen(_open_log(path), "rb")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _encode_line(record: dict[str, Any]) -> bytes:
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be UTF-8; escaped JSON keeps the record exact and valid.
        return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _resume_point(path: Path, key: bytes) -> tuple[int, str, int]:
    """The next seq, the head hash and the size of an existing log (0, GENESIS, 0 if new)."""
    try:
        f = _read_log(path)
    except FileNotFoundError:
        return 0, GENESIS, 0
    with f:
        size = os.fstat(f.fileno()).st_size
        line = _last_line(f) if size else None
    if size == 0:
        return 0, GENESIS, 0
    record = _parse(line)
    if line is None or record is None or type(record.get("seq")) is not int:
        raise AuditError(
            f"The audit log {path} ends with a damaged record, so it cannot be continued. "
            "Run `glasscoder audit verify` and keep the file as evidence."
        )
    return record["seq"] + 1, chain_hash(line, key), size


def _last_line(f: BinaryIO) -> bytes | None:
    """The last complete line without its newline, read from the end; None if the tail is torn."""
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
    except (ValueError, RecursionError):  # appends bound a body's depth: only damage nests so
        return None
    return value if isinstance(value, dict) else None


def iter_records(path: Path | str) -> Iterator[dict[str, Any]]:
    """Every record in order, for `audit show`; raises AuditError at a line that is not JSON."""
    with _read_log(Path(path)) as f:
        for i, line in enumerate(f):
            record = _parse(line.rstrip(b"\n"))
            if record is None:
                raise AuditError(f"Record {i} of {path} is damaged; run `glasscoder audit verify`.")
            yield record


# --- Checking -------------------------------------------------------------------------------


def verify(
    path: Path | str, key: bytes | None = None, index: IndexArg = DEFAULT_INDEX
) -> VerifyResult:
    """Check the whole chain and the log's end against the index; the reason names what broke."""
    path = Path(path)
    slot = slot_for(path, index)
    misplaced = placement_problem(path, index)
    if misplaced:
        return VerifyResult(False, 0, None, misplaced)
    try:
        key = audit_key(create=False) if key is None else key
        entry = None if slot is None else read_head(slot, key)
        return _verify_file(path, key, slot, entry)
    except AuditError as exc:
        return VerifyResult(False, _count_lines(path), None, str(exc))


def _verify_file(
    path: Path, key: bytes, slot: HeadSlot | None, entry: IndexEntry | None
) -> VerifyResult:
    if os.path.islink(path):
        return VerifyResult(False, 0, None, f"{path} is a symbolic link; it is not followed.")
    if not _is_plain_file(path):
        if entry is not None:
            deleted = f"but the audit index says it had {entry.seq + 1} records: it was deleted."
            return VerifyResult(False, 0, None, f"There is no audit log at {path}, {deleted}")
        return VerifyResult(False, 0, None, f"There is no audit log at {path}.")
    total = _count_lines(path)
    with _read_log(path) as f:
        problem = _first_problem(iter(f), key, entry)
    if problem is None and slot is not None and entry is None and total:
        problem = None, "the audit index has no entry for this log, so a cut tail would not show."
    if problem is not None:
        return VerifyResult(False, total, problem[0], problem[1])
    return VerifyResult(True, total, None, _intact(total, entry))


def _intact(total: int, entry: IndexEntry | None) -> str:
    if entry is None:
        return f"{total} records, chain intact."
    behind = total - 1 - entry.seq
    extra = f" ({behind} written after its last update)" if behind else ""
    return f"{total} records, chain intact, end matches the audit index{extra}."


def _is_plain_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _count_lines(path: Path) -> int:
    try:
        with _read_log(path) as f:
            return sum(1 for _ in f)
    except (OSError, AuditError):
        return 0


def _first_problem(
    lines: Iterator[bytes], key: bytes, entry: IndexEntry | None
) -> tuple[int | None, str] | None:
    prev_line: bytes | None = None
    count = 0
    for i, raw in enumerate(lines):
        count = i + 1
        if not raw.endswith(b"\n"):
            return i, f"record {i} is incomplete: the log ends mid-record."
        line = raw[:-1]
        record = _parse(line)
        problem = _record_problem(i, record)
        if problem:
            return i, problem
        assert record is not None
        indexed = entry.head if entry is not None and entry.seq == i else None
        if record["prev"] != (GENESIS if prev_line is None else chain_hash(prev_line, key)):
            reference = indexed or _prev_of(next(lines, None))
            return _chain_break(i, line, record["prev"], prev_line, reference, key)
        if indexed is not None and chain_hash(line, key) != indexed:
            return i, f"record {i} was changed: it no longer matches the head kept in the index."
        prev_line = line
    if entry is not None and entry.seq >= count:
        last = f"after record {count - 1}" if count else "empty"
        return count, (f"the log ends {last}, but the audit index says it had {entry.seq + 1} "
                       f"records: records {count} to {entry.seq} were removed.")  # fmt: skip
    return None


def _prev_of(raw: bytes | None) -> str | None:
    record = _parse(raw.rstrip(b"\n")) if raw else None
    prev = record.get("prev") if record else None
    return prev if isinstance(prev, str) else None


def _record_problem(i: int, record: dict[str, Any] | None) -> str | None:
    if record is None:
        return f"record {i} is not a JSON object (changed or damaged)."
    seq = record.get("seq")
    if type(seq) is not int or seq != i:
        return f"record {i} has seq {seq!r}: records were removed, reordered or renumbered."
    if not all(isinstance(record.get(k), str) for k in ("ts", "kind", "prev")):
        return f"record {i} lacks its ts, kind or prev field."
    return None


def _chain_break(
    i: int, line: bytes, prev: str, prev_line: bytes | None, reference: str | None, key: bytes
) -> tuple[int, str]:
    """Record i's prev does not match record i-1; reference (record i's hash as the next record
    or the index holds it) tells which of the two changed."""
    if i == 0:
        return 0, "record 0 does not start a chain: the log's beginning was removed or changed."
    assert prev_line is not None
    if prev == chain_hash(prev_line):
        return i - 1, (f"record {i} links to record {i - 1} without the audit key (plain "
                       f"SHA-256): the log was rewritten from record {i - 1} on, or written "
                       "by a glasscoder older than the keyed chain.")  # fmt: skip
    if reference == chain_hash(line, key):
        return i - 1, f"record {i - 1} was changed: it no longer matches the hash in record {i}."
    if reference is not None:
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
        # Deeper than KEEP_DEPTH (a server's reply can be anything), it is kept as text: a
        # parsed copy could not be encoded or read back.
        value = loads_bounded(text, KEEP_DEPTH)
        return (value,) if _compact_json(value) == text else None
    except ValueError:
        return None
