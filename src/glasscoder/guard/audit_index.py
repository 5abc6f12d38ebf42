"""The audit index: each log's newest seq and head hash, kept apart from the log, one keyed
head file per log (``audit-heads/<sha256 of the log's name>.json`` in the data home).

Threat it answers: a hash chain cannot see its own end, so a cut tail, an edited last record,
an emptied or a deleted log all leave an intact chain. The head file remembers where the log
ended; its MAC (under the per-user key) binds seq and head to the log's name, so an entry cannot
be edited or copied to another log without the key. One small file per log, replaced whole
under the log's own lock, keeps an append's cost independent of how many logs exist.
A log is named by its path as written, and a log behind a symbolic link below the data home is
refused (``placement_problem``), so the head checked is always the one of the bytes read.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from glasscoder.config import data_home
from glasscoder.guard.audit_key import AuditError

# 2: one head file per log (format 1 was a single shared map, never released to users).
INDEX_FORMAT = 2


class _Default:
    """The type of DEFAULT_INDEX (a sentinel, since None means "no index")."""

    def __repr__(self) -> str:
        return "DEFAULT_INDEX"


# The data home's head files, for logs kept under the data home (sessions, the pull log); no
# index for a log elsewhere, so a log a test or a tool writes to a scratch folder leaves no trace.
DEFAULT_INDEX: Final = _Default()
IndexArg = Path | str | None | _Default  # a folder of head files, DEFAULT_INDEX or None


@dataclass(frozen=True)
class IndexEntry:
    seq: int  # of the newest record
    head: str  # chain_hash of the newest record's line


@dataclass(frozen=True)
class HeadSlot:
    file: Path  # the log's head file
    name: str  # the log's path as written, relative to the heads folder's parent, or absolute


def heads_dir() -> Path:
    return data_home() / "audit-heads"


def slot_for(log: Path, index: IndexArg) -> HeadSlot | None:
    """Where the head of log is kept, or None when it has no index.

    The name is the log's path as written, never resolved: resolving would let a session folder
    moved away and linked back be looked up under a name that has no head file, so its cut
    tail would pass. ``placement_problem`` refuses such a link instead.
    """
    if index is None:
        return None
    if isinstance(index, _Default):
        if not _lexical(log).is_relative_to(_lexical(data_home())):
            return None
        index = heads_dir()
    folder = Path(index)
    path, base = _lexical(log), _lexical(folder.parent)
    name = path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)
    return HeadSlot(folder / f"{_digest(name)}.json", name)


def placement_problem(log: Path, index: IndexArg) -> str | None:
    """Why a log kept under its index's folder cannot be trusted where it lies, None if it can:
    a symbolic link on the way down to it (the log itself, its session folder, ``sessions``),
    or a path that resolves outside that folder."""
    slot = slot_for(log, index)
    if slot is None or Path(slot.name).is_absolute():
        return None  # a log outside the data home: opened without following a final link
    base = _lexical(slot.file.parent.parent)
    current = base
    for part in Path(slot.name).parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break  # a missing log is for the caller to report
        except OSError as exc:
            return f"{current} cannot be checked ({exc.strerror})."
        if stat.S_ISLNK(mode):
            return (
                f"{current} is a symbolic link: an audit log and its folders must lie in {base} "
                "itself, so that the log checked is the one its head file describes."
            )
    if not Path(os.path.realpath(current)).is_relative_to(os.path.realpath(base)):
        return f"{log} resolves outside {base}."
    return None


def session_of(name: str) -> str | None:
    """The session id when name is a session's log (``sessions/ID/audit.jsonl``), else None."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "sessions" and parts[2] == "audit.jsonl":
        return parts[1] if parts[1] not in ("", ".", "..") else None
    return None


def _lexical(path: Path) -> Path:
    """Absolute, with . and .. folded by text alone (no symbolic link is followed)."""
    return Path(os.path.abspath(path))


def read_head(slot: HeadSlot, key: bytes) -> IndexEntry | None:
    """The log's entry, None if it has none; AuditError if it is not exactly as written."""
    try:
        fields = json.loads(slot.file.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AuditError(f"The audit index entry {slot.file} cannot be read ({exc}).") from None
    fields = fields if isinstance(fields, dict) else {}
    seq, head, mac = fields.get("seq"), fields.get("head"), fields.get("mac")
    if (
        fields.get("log") != slot.name
        or type(seq) is not int
        or not isinstance(head, str)
        or not isinstance(mac, str)
        or not hmac.compare_digest(mac, _entry_mac(key, slot.name, seq, head))
    ):
        raise AuditError(
            f"The audit index entry for {slot.name} was changed: its MAC does not match, "
            "so the log's end cannot be checked."
        )
    return IndexEntry(seq, head)


def write_head(slot: HeadSlot, key: bytes, entry: IndexEntry) -> None:
    """Replace the log's head file whole; the caller holds the log's lock."""
    data = encode_head(key, slot.name, entry)
    try:
        fd, tmp = tempfile.mkstemp(dir=slot.file.parent, prefix=f".{slot.file.name}.")
    except FileNotFoundError:
        slot.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=slot.file.parent, prefix=f".{slot.file.name}.")
    # No fsync of the folder: if a crash loses the rename, the head is one append behind the
    # log, which verify accepts (the log's own keyed chain covers the records past it).
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # never a renamed-in empty file after a crash
        os.replace(tmp, slot.file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode_head(key: bytes, name: str, entry: IndexEntry) -> bytes:
    """The bytes of a head file: {log, seq, head, mac}."""
    mac = _entry_mac(key, name, entry.seq, entry.head)
    fields = {"log": name, "seq": entry.seq, "head": entry.head, "mac": mac}
    return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def has_head(log: Path) -> bool:
    """Whether the data home's index holds a head file for log (which may no longer exist)."""
    slot = slot_for(log, DEFAULT_INDEX)
    return slot is not None and slot.file.exists()


def indexed_logs() -> list[Path]:
    """Every log under the data home with a head file, whether or not the log still exists."""
    home = data_home()
    return sorted(home / name for _, name in _scan() if name and not Path(name).is_absolute())


def unreadable_heads() -> list[Path]:
    """Head files whose log cannot be told: not JSON, or not named for the log they hold."""
    return [file for file, name in _scan() if name is None]


def _scan() -> Iterator[tuple[Path, str | None]]:
    try:
        files = sorted(heads_dir().glob("*.json"))
    except OSError:
        return
    for file in files:
        if file.name.startswith("."):
            continue  # a head being written
        try:
            name = json.loads(file.read_bytes()).get("log")
        except (OSError, ValueError, AttributeError):
            name = None
        yield file, name if isinstance(name, str) and file.stem == _digest(name) else None


def _digest(name: str) -> str:
    return hashlib.sha256(os.fsencode(name)).hexdigest()  # a path may hold undecodable bytes


def _entry_mac(key: bytes, name: str, seq: int, head: str) -> str:
    message = json.dumps([INDEX_FORMAT, name, seq, head], separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
