"""The audit log: a keyed chain plus an index of each log's end (one head file per log), so
edits, deletions, reorderings, cut tails and deleted logs are all named; the key stays private."""

import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasscoder.config import data_home
from glasscoder.guard.audit import (
    GENESIS,
    AuditError,
    AuditLog,
    audit_key,
    body_bytes,
    body_fields,
    chain_hash,
    heads_dir,
    indexed_logs,
    iter_records,
    key_path,
    unreadable_heads,
    verify,
)


@pytest.fixture(autouse=True)
def home(xdg: Path) -> Path:
    """Every test gets its own data home, so its own key and index."""
    return data_home()


@pytest.fixture
def path(home: Path) -> Path:
    """A log where sessions keep theirs, so the data home's index guards it."""
    return home / "sessions" / "20250101-000000-abcdef" / "audit.jsonl"


def write_log(path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(path)
    for i in range(n):
        log.append("request", {"n": i, "note": f"message {i} with ünïcode"})
    return log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new_lines: list[bytes]) -> None:
    path.write_bytes(b"".join(new_lines))


def encode(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def name_of(path: Path) -> str:
    return path.relative_to(data_home()).as_posix()


def head_file(path: Path, folder: Path | None = None) -> Path:
    """Where docs/audit.md says a log's head is kept: named by the SHA-256 of its name."""
    name = hashlib.sha256(name_of(path).encode()).hexdigest()
    return (folder or heads_dir()) / f"{name}.json"


def head_of(path: Path) -> dict:
    return json.loads(head_file(path).read_text())


# --- The keyed chain ----------------------------------------------------------------------


def test_records_are_chained_with_the_users_key(path: Path) -> None:
    write_log(path, 3)
    raw = lines(path)
    records = [json.loads(line) for line in raw]
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert records[0]["prev"] == GENESIS
    key = audit_key(create=False)
    for before, record in zip(raw, records[1:], strict=False):
        line = before.rstrip(b"\n")
        assert record["prev"] == hmac.new(key, line, hashlib.sha256).hexdigest()
        assert record["prev"] != hashlib.sha256(line).hexdigest()
    assert records[1]["kind"] == "request" and records[1]["note"] == "message 1 with ünïcode"
    assert records[0]["ts"].endswith("Z")


def test_intact_log_verifies_against_the_index(path: Path) -> None:
    write_log(path, 5)
    result = verify(path)
    assert result.ok and result.records == 5 and result.first_bad is None
    assert "matches the audit index" in result.reason
    entry = head_of(path)
    assert entry["log"] == "sessions/20250101-000000-abcdef/audit.jsonl"
    assert entry["seq"] == 4 and entry["head"] == AuditLog(path).head


def test_an_edit_with_plain_sha256_links_recomputed_is_caught(path: Path) -> None:
    # What defeated the unkeyed chain: change a record, then recompute every later link.
    write_log(path, 4)
    records = [json.loads(line) for line in lines(path)]
    records[1]["note"] = "forged"
    prev, forged = GENESIS, []
    for record in records:
        record["prev"] = prev
        forged.append(encode(record))
        prev = hashlib.sha256(forged[-1].rstrip(b"\n")).hexdigest()
    rewrite(path, forged)
    result = verify(path)
    assert not result.ok and result.first_bad == 0
    assert "without the audit key" in result.reason


def test_a_log_checked_with_another_key_fails(path: Path) -> None:
    write_log(path, 3)
    assert not verify(path, key=b"k" * 32).ok


def test_empty_log_verifies_and_missing_log_does_not(path: Path) -> None:
    AuditLog(path)  # makes the key; the file appears with the first record
    assert not path.exists()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    assert verify(path).ok
    missing = verify(path.with_name("other.jsonl"))
    assert not missing.ok and "no audit log" in missing.reason and missing.first_bad is None


def test_one_changed_byte_names_the_record(path: Path) -> None:
    write_log(path, 5)
    raw = lines(path)
    raw[2] = raw[2].replace(b"message 2", b"messagE 2")
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 2
    assert "record 2" in result.reason


def test_changed_prev_field_names_that_record(path: Path) -> None:
    write_log(path, 5)
    raw = lines(path)
    record = json.loads(raw[3])
    record["prev"] = "f" * 64
    raw[3] = encode(record)
    rewrite(path, raw)
    assert verify(path).first_bad == 3


def test_deleted_record_is_named(path: Path) -> None:
    write_log(path, 5)
    raw = lines(path)
    del raw[2]
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 2 and result.records == 4
    assert "removed" in result.reason


def test_deleted_first_record_is_named(path: Path) -> None:
    write_log(path, 3)
    rewrite(path, lines(path)[1:])
    assert verify(path).first_bad == 0


def test_swapped_records_are_named(path: Path) -> None:
    write_log(path, 5)
    raw = lines(path)
    raw[1], raw[2] = raw[2], raw[1]
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 1


def test_renumbered_swap_still_breaks_the_chain(path: Path) -> None:
    # Swap two records and fix their seq fields: only the hashes can tell.
    write_log(path, 5)
    records = [json.loads(line) for line in lines(path)]
    records[1], records[2] = records[2], records[1]
    records[1]["seq"], records[2]["seq"] = 1, 2
    rewrite(path, [encode(r) for r in records])
    result = verify(path)
    assert not result.ok and result.first_bad == 1


def test_broken_json_line_is_named(path: Path) -> None:
    write_log(path, 5)
    raw = lines(path)
    raw[3] = raw[3][:20] + b"\n"
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 3
    assert "not a JSON object" in result.reason


def test_wrong_seq_is_named(path: Path) -> None:
    write_log(path, 5)
    raw = lines(path)
    raw[4] = raw[4].replace(b'"seq":4', b'"seq":7', 1)
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 4 and "seq 7" in result.reason


def test_torn_last_record_is_named_and_not_continued(path: Path) -> None:
    write_log(path, 3)
    path.write_bytes(path.read_bytes()[:-10])  # a crash mid-write: no final newline
    result = verify(path)
    assert not result.ok and result.first_bad == 2 and "incomplete" in result.reason
    with pytest.raises(AuditError, match="damaged"):
        AuditLog(path)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_change_is_caught_at_its_record(path: Path, data: st.DataObject) -> None:
    # The last record too: the index holds its hash.
    path.unlink(missing_ok=True)
    shutil.rmtree(heads_dir(), ignore_errors=True)
    write_log(path, 4)
    raw = lines(path)
    index = data.draw(st.integers(0, len(raw) - 1), label="record")
    pos = data.draw(st.integers(0, len(raw[index]) - 1), label="byte")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index][pos]), label="value")
    raw[index] = raw[index][:pos] + bytes([new]) + raw[index][pos + 1 :]
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok
    assert result.first_bad == index, result.reason


# --- The end of the log: the index ----------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 3])
def test_cut_tail_is_named_though_what_is_left_is_intact(path: Path, cut: int) -> None:
    write_log(path, 6)
    rewrite(path, lines(path)[:-cut])
    result = verify(path)
    assert not result.ok and result.records == 6 - cut and result.first_bad == 6 - cut
    assert f"records {6 - cut} to 5 were removed" in result.reason


def test_emptied_log_is_named(path: Path) -> None:
    write_log(path, 2)
    path.write_bytes(b"")
    result = verify(path)
    assert not result.ok and result.first_bad == 0 and "ends empty" in result.reason


def test_edited_last_record_is_named(path: Path) -> None:
    write_log(path, 3)
    raw = lines(path)
    raw[2] = raw[2].replace(b"message 2", b"message 9")
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 2 and "index" in result.reason


def test_deleted_log_is_named(path: Path) -> None:
    write_log(path, 3)
    path.unlink()
    result = verify(path)
    assert not result.ok and result.first_bad is None and result.records == 0
    assert "had 3 records: it was deleted" in result.reason


@pytest.mark.parametrize("change", ["seq", "head", "mac", "removed"])
def test_edited_index_is_named(path: Path, change: str) -> None:
    write_log(path, 3)
    entry = head_of(path)
    if change == "removed":
        head_file(path).unlink()
    else:
        entry[change] = 1 if change == "seq" else "0" * 64
        head_file(path).write_text(json.dumps(entry))
    result = verify(path)
    assert not result.ok
    assert ("no entry" if change == "removed" else "entry for sessions/") in result.reason


def test_an_entry_moved_to_another_log_does_not_verify(home: Path, path: Path) -> None:
    write_log(path, 2)
    other = home / "sessions" / "20250101-000000-fedcba" / "audit.jsonl"
    other.parent.mkdir(parents=True)
    other.write_bytes(path.read_bytes())
    shutil.copy(head_file(path), head_file(other))
    assert "MAC does not match" in verify(other).reason
    moved = head_of(other) | {"log": name_of(other)}  # renamed too: the MAC still binds the name
    head_file(other).write_text(json.dumps(moved))
    assert "MAC does not match" in verify(other).reason


def test_damaged_index_fails_verify_and_stops_writing(path: Path) -> None:
    log = write_log(path, 2)
    head_file(path).write_text("{not json")
    assert not verify(path).ok and "cannot be read" in verify(path).reason
    with pytest.raises(AuditError, match="audit index"):
        log.append("request", {})


def test_a_cut_or_deleted_log_is_not_continued(path: Path) -> None:
    write_log(path, 4)
    rewrite(path, lines(path)[:-1])
    with pytest.raises(AuditError, match="cut, deleted or changed"):
        AuditLog(path)
    path.unlink()
    with pytest.raises(AuditError, match="cut, deleted or changed"):
        AuditLog(path)
    assert "deleted" in verify(path).reason  # the evidence is still in the index


def test_log_ahead_of_the_index_verifies(path: Path) -> None:
    # A crash between the log's fsync and the index update: the extra record is keyed anyway.
    write_log(path, 2)
    AuditLog(path, index=None).append("response", {})
    result = verify(path)
    assert result.ok and result.records == 3 and "1 written after" in result.reason


def test_log_outside_the_data_home_uses_only_an_index_it_is_given(tmp_path: Path) -> None:
    loose = tmp_path / "audit.jsonl"
    write_log(loose, 2)
    assert not heads_dir().exists() and verify(loose).ok
    own = tmp_path / "heads"
    kept = tmp_path / "kept.jsonl"
    write_log(kept, 2).append("notice", {})
    log = AuditLog(kept, index=own)
    log.append("notice", {})
    (head,) = own.iterdir()  # named for the log's path relative to the folder's parent
    assert head.name == hashlib.sha256(b"kept.jsonl").hexdigest() + ".json"
    assert json.loads(head.read_text())["seq"] == 3
    rewrite(kept, lines(kept)[:-1])
    assert verify(kept).ok and not verify(kept, index=own).ok


def test_an_append_replaces_only_its_own_head_file(home: Path, path: Path) -> None:
    # What keeps an append's cost flat however many sessions exist: no shared file is rewritten.
    others = [home / "sessions" / f"20250101-00000{i}-other" / "audit.jsonl" for i in (1, 2)]
    for other in others:
        write_log(other, 2)
    log = write_log(path, 1)
    before = {p: (head_file(p).stat().st_ino, head_file(p).read_bytes()) for p in others}
    ours = head_file(path).stat().st_ino
    log.append("response", {})
    assert {p: (head_file(p).stat().st_ino, head_file(p).read_bytes()) for p in others} == before
    assert head_file(path).stat().st_ino != ours and head_of(path)["seq"] == 1
    ledger = home / "sessions-ledger.jsonl"  # a session's first record is noted there, once
    expected = [path, *others, ledger]
    assert sorted(heads_dir().iterdir()) == sorted(head_file(p) for p in expected)


def test_a_changed_head_stops_an_open_log_and_is_kept(home: Path, path: Path) -> None:
    other = home / "sessions" / "20250101-000000-fedcba" / "audit.jsonl"
    write_log(other, 2)
    log = write_log(path, 2)
    shutil.copy(head_file(other), head_file(path))
    with pytest.raises(AuditError, match="MAC does not match"):
        log.append("request", {})
    assert head_of(path)["log"] == name_of(other) and len(lines(path)) == 2


def test_heads_outlive_their_log_folders_and_odd_ones_are_named(home: Path, path: Path) -> None:
    other = home / "sessions" / "20250101-000000-fedcba" / "audit.jsonl"
    write_log(path, 1)
    write_log(other, 1)
    shutil.rmtree(other.parent)
    known = sorted([path, other, home / "sessions-ledger.jsonl"])
    assert indexed_logs() == known and unreadable_heads() == []
    damaged = heads_dir() / ("0" * 64 + ".json")
    damaged.write_text("{not json")
    misnamed = heads_dir() / ("1" * 64 + ".json")
    shutil.copy(head_file(path), misnamed)  # holds a real head, under another log's name
    assert unreadable_heads() == [damaged, misnamed]
    assert indexed_logs() == known


# --- Writers that share a log ---------------------------------------------------------------


def test_resume_continues_the_chain_and_the_index(path: Path) -> None:
    first = write_log(path, 2)
    resumed = AuditLog(path)
    assert resumed.next_seq == 2 and resumed.head == first.head
    record = resumed.append("response", {"status": 200})
    assert record["seq"] == 2
    assert record["prev"] == chain_hash(lines(path)[1].rstrip(b"\n"), audit_key())
    assert head_of(path)["seq"] == 2
    assert verify(path).ok and verify(path).records == 3


def test_two_logs_on_one_file_take_turns(path: Path) -> None:
    a, b = AuditLog(path), AuditLog(path)
    seqs = [log.append("notice", {"by": name})["seq"]
            for log, name in [(a, "a"), (b, "b"), (a, "a"), (b, "b")]]  # fmt: skip
    assert seqs == [0, 1, 2, 3]
    assert verify(path).ok and b.head == AuditLog(path).head


def test_concurrent_appends_from_two_threads(path: Path) -> None:
    shared = AuditLog(path)
    start = threading.Barrier(3)

    def write(log: AuditLog, name: str) -> None:
        start.wait()
        for i in range(40):
            log.append("notice", {"by": name, "i": i})

    threads = [threading.Thread(target=write, args=(shared, "t1")),
               threading.Thread(target=write, args=(shared, "t2")),
               threading.Thread(target=write, args=(AuditLog(path), "t3"))]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify(path)
    assert result.ok and result.records == 120, result.reason
    assert sorted(r["seq"] for r in iter_records(path)) == list(range(120))


WRITER = """
import sys, time
from pathlib import Path
from glasscoder.guard.audit import AuditLog
log, go = AuditLog(sys.argv[1]), Path(sys.argv[3])
Path(sys.argv[3] + "." + sys.argv[2]).touch()  # ready
while not go.exists():
    time.sleep(0.005)
for i in range(100):
    log.append("notice", {"by": sys.argv[2], "i": i})
"""


def test_concurrent_appends_from_two_processes(path: Path, tmp_path: Path) -> None:
    # Separate processes share nothing but the files: the log's and the index's locks.
    audit_key()  # one key for both, as after any earlier run
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(go)],
                              env=os.environ) for name in ("p1", "p2")]  # fmt: skip
    while not all((tmp_path / f"go.{name}").exists() for name in ("p1", "p2")):
        assert all(p.poll() is None for p in procs), "a writer died before starting"
        time.sleep(0.005)
    go.touch()  # both start appending at once
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    result = verify(path)
    assert result.ok and result.records == 200, result.reason
    assert head_of(path)["seq"] == 199


def test_resume_reads_a_last_record_larger_than_one_block(path: Path) -> None:
    log = AuditLog(path)
    log.append("request", {"body": "x" * 200_000})
    log.append("request", {"body": "y" * 150_000})
    assert AuditLog(path).head == log.head
    AuditLog(path).append("response", {})
    assert verify(path).ok


def test_reserved_keys_cannot_be_overwritten(path: Path) -> None:
    log = AuditLog(path)
    with pytest.raises(ValueError, match="prev"):
        log.append("request", {"prev": GENESIS})


def test_log_and_index_are_private_to_their_owner(path: Path) -> None:
    write_log(path, 1)
    for file in (path, head_file(path), heads_dir()):
        assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0


# --- The key --------------------------------------------------------------------------------


def test_key_is_made_once_private_and_kept(home: Path) -> None:
    assert not key_path().exists()
    with pytest.raises(AuditError, match="no audit key"):
        audit_key(create=False)
    key = audit_key()
    assert len(key) == 32 and key_path().parent == home
    assert stat.S_IMODE(key_path().stat().st_mode) == 0o600
    assert audit_key() == key == audit_key(create=False)
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_key_made_by_racing_threads_is_one_key() -> None:
    keys: list[bytes] = []
    start = threading.Barrier(4)

    def make() -> None:
        start.wait()
        keys.append(audit_key())

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 4 and len(set(keys)) == 1


def test_key_readable_by_others_is_refused(path: Path) -> None:
    write_log(path, 1)
    key_path().chmod(0o644)
    with pytest.raises(AuditError, match=r"can be read by others .*chmod 600"):
        AuditLog(path)
    result = verify(path)
    assert not result.ok and "mode 644" in result.reason
    key_path().chmod(0o600)
    assert verify(path).ok


@pytest.mark.parametrize("content", [b"", b"short", b"x" * 33])
def test_key_of_the_wrong_size_is_refused(content: bytes) -> None:
    key_path().parent.mkdir(parents=True)
    fd = os.open(key_path(), os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(AuditError, match="damaged"):
        audit_key()


def test_key_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.key"
    target.write_bytes(b"k" * 32)
    target.chmod(0o600)
    key_path().parent.mkdir(parents=True)
    key_path().symlink_to(target)
    with pytest.raises(AuditError, match="Cannot read the audit key"):
        audit_key()


# --- Reading --------------------------------------------------------------------------------


def test_iter_records_reads_back_every_record(path: Path) -> None:
    write_log(path, 3)
    assert [r["n"] for r in iter_records(path)] == [0, 1, 2]
    raw = lines(path)
    raw[1] = b"not json\n"
    rewrite(path, raw)
    with pytest.raises(AuditError, match="Record 1"):
        list(iter_records(path))


@pytest.mark.parametrize(
    ("body", "form"),
    [
        (b'{"model":"m","messages":[{"role":"user","content":"h\xc3\xa9"}]}', "json"),
        (b'{"model": "m"}', "text"),  # not the compact form: kept as text to stay exact
        (b"data: {}\n\ndata: [DONE]\n\n", "text"),
        (b"\xff\xfe\x00binary", "base64"),
        (b"", "text"),
    ],
)
def test_bodies_are_readable_and_exact(body: bytes, form: str) -> None:
    fields = body_fields(body)
    assert fields["body_form"] == form
    assert fields["bytes"] == len(body)
    assert fields["sha256"] == hashlib.sha256(body).hexdigest()
    record = json.loads(json.dumps(fields))  # through a log line and back
    assert body_bytes(record) == body


def test_json_body_is_kept_parsed(tmp_path: Path) -> None:
    fields = body_fields(b'{"messages":[{"role":"user","content":"hi"}]}')
    assert fields["body"]["messages"][0]["content"] == "hi"


# --- Symbolic links: the log checked is the log its head file describes ------------------------


def test_a_session_folder_moved_away_and_linked_back_fails(path: Path, tmp_path: Path) -> None:
    write_log(path, 5)
    away = tmp_path / "away"
    shutil.move(path.parent, away)
    rewrite(away / "audit.jsonl", lines(away / "audit.jsonl")[:3])  # the tail cut where it lies
    path.parent.symlink_to(away)
    result = verify(path)
    assert not result.ok and "is a symbolic link" in result.reason
    assert str(path.parent) in result.reason
    with pytest.raises(AuditError, match="symbolic link"):
        AuditLog(path)  # nor is it continued there


def test_a_linked_log_or_sessions_folder_fails_even_when_intact(home: Path, path: Path) -> None:
    write_log(path, 3)
    inside = home / "elsewhere.jsonl"  # inside the data home, chain intact: still refused
    shutil.move(path, inside)
    path.symlink_to(inside)
    assert "symbolic link" in verify(path).reason and not verify(path).ok
    with pytest.raises(AuditError, match="symbolic link"):
        list(iter_records(path))
    path.unlink()
    shutil.move(inside, path)
    assert verify(path).ok
    sessions = home / "sessions"
    shutil.move(sessions, home / "real-sessions")
    sessions.symlink_to(home / "real-sessions")
    result = verify(path)
    assert not result.ok and f"{sessions} is a symbolic link" in result.reason


def test_a_log_outside_the_data_home_is_never_opened_through_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    log = AuditLog(real, index=None)
    log.append("notice", {})
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with pytest.raises(AuditError, match="symbolic link"):
        AuditLog(link, index=None)
    assert not verify(link, index=None).ok and verify(real, index=None).ok
    assert len(lines(real)) == 1  # nothing was appended through the link


def test_heads_are_named_by_the_path_as_written(xdg: Path, monkeypatch, tmp_path: Path) -> None:
    # A data home reached through a link (a home folder on another disk) is fine: only links
    # below it are refused, and head files keep the name relative to it, unresolved.
    real = tmp_path / "real-data"
    real.mkdir()
    (tmp_path / "linked-data").symlink_to(real)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "linked-data"))
    log_path = data_home() / "sessions" / "20250101-000000-aaaaaa" / "audit.jsonl"
    write_log(log_path, 2)
    assert head_of(log_path)["log"] == "sessions/20250101-000000-aaaaaa/audit.jsonl"
    assert verify(log_path).ok
    rewrite(log_path, lines(log_path)[:1])
    assert "records 1 to 1 were removed" in verify(log_path).reason


# --- The sessions ledger --------------------------------------------------------------------


def test_each_session_log_is_noted_once_in_the_ledger(home: Path, path: Path) -> None:
    from glasscoder.guard.audit_ledger import ledger_path, ledger_sessions

    write_log(path, 2)
    AuditLog(path).append("notice", {})  # resumed: not a new session
    other = home / "sessions" / "20250101-000001-other" / "audit.jsonl"
    write_log(other, 1)
    AuditLog(home / "models" / "pulls.jsonl").append("pull", {})  # not a session
    records = list(iter_records(ledger_path()))
    assert [(r["kind"], r["log"]) for r in records] == [
        ("created", name_of(path)),
        ("created", name_of(other)),
    ]
    assert ledger_sessions() == ({path.parent.name: "created", other.parent.name: "created"}, None)
    assert verify(ledger_path()).ok


def test_a_cut_ledger_fails_its_own_verify(home: Path, path: Path) -> None:
    from glasscoder.guard.audit_ledger import ledger_path

    write_log(path, 1)
    write_log(home / "sessions" / "20250101-000001-other" / "audit.jsonl", 1)
    ledger = ledger_path()
    rewrite(ledger, lines(ledger)[:1])  # the newest session's line removed to hide it
    result = verify(ledger)
    assert not result.ok and "were removed" in result.reason
