"""The audit log's chain: intact logs verify; edits, deletions, reorderings and damage are named."""

import hashlib
import json
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasscoder.guard.audit import (
    GENESIS,
    AuditError,
    AuditLog,
    body_bytes,
    body_fields,
    iter_records,
    verify,
)


def write_log(path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(path)
    for i in range(n):
        log.append("request", {"n": i, "note": f"message {i} with ünïcode"})
    return log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new_lines: list[bytes]) -> None:
    path.write_bytes(b"".join(new_lines))


def test_records_are_chained_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    raw = lines(path)
    records = [json.loads(line) for line in raw]
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert records[0]["prev"] == GENESIS
    for before, record in zip(raw, records[1:], strict=False):
        assert record["prev"] == hashlib.sha256(before.rstrip(b"\n")).hexdigest()
    assert records[1]["kind"] == "request" and records[1]["note"] == "message 1 with ünïcode"
    assert records[0]["ts"].endswith("Z")


def test_intact_log_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    result = verify(path)
    assert result.ok and result.records == 5 and result.first_bad is None


def test_empty_log_verifies_and_missing_log_does_not(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert verify(tmp_path / "empty.jsonl").ok
    missing = verify(tmp_path / "missing.jsonl")
    assert not missing.ok and "no audit log" in missing.reason


def test_one_changed_byte_names_the_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    raw = lines(path)
    raw[2] = raw[2].replace(b"message 2", b"messagE 2")
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 2
    assert "record 2" in result.reason


def test_changed_prev_field_names_that_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    raw = lines(path)
    record = json.loads(raw[3])
    record["prev"] = "f" * 64
    raw[3] = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    rewrite(path, raw)
    assert verify(path).first_bad == 3


def test_deleted_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    raw = lines(path)
    del raw[2]
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 2 and result.records == 4
    assert "removed" in result.reason


def test_deleted_first_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    rewrite(path, lines(path)[1:])
    assert verify(path).first_bad == 0


def test_swapped_records_are_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    raw = lines(path)
    raw[1], raw[2] = raw[2], raw[1]
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 1


def test_renumbered_swap_still_breaks_the_chain(tmp_path: Path) -> None:
    # Swap two records and fix their seq fields: only the hashes can tell.
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    records = [json.loads(line) for line in lines(path)]
    records[1], records[2] = records[2], records[1]
    records[1]["seq"], records[2]["seq"] = 1, 2
    rewrite(path, [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                   for r in records])  # fmt: skip
    result = verify(path)
    assert not result.ok and result.first_bad == 1


def test_broken_json_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    raw = lines(path)
    raw[3] = raw[3][:20] + b"\n"
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 3
    assert "not a JSON object" in result.reason


def test_wrong_seq_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    raw = lines(path)
    raw[4] = raw[4].replace(b'"seq":4', b'"seq":7', 1)
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok and result.first_bad == 4 and "seq 7" in result.reason


def test_torn_last_record_is_named_and_not_continued(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    path.write_bytes(path.read_bytes()[:-10])  # a crash mid-write: no final newline
    result = verify(path)
    assert not result.ok and result.first_bad == 2 and "incomplete" in result.reason
    with pytest.raises(AuditError, match="damaged"):
        AuditLog(path)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_byte_change_is_caught_at_its_record(
    tmp_path: Path, data: st.DataObject
) -> None:
    # Every record but the last: the last one is guarded by a head hash kept elsewhere (later).
    path = tmp_path / "prop.jsonl"
    path.unlink(missing_ok=True)
    write_log(path, 4)
    raw = lines(path)
    index = data.draw(st.integers(0, len(raw) - 2), label="record")
    pos = data.draw(st.integers(0, len(raw[index]) - 1), label="byte")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index][pos]), label="value")
    raw[index] = raw[index][:pos] + bytes([new]) + raw[index][pos + 1 :]
    rewrite(path, raw)
    result = verify(path)
    assert not result.ok
    assert result.first_bad == index, result.reason


def test_resume_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first = write_log(path, 2)
    resumed = AuditLog(path)
    assert resumed.next_seq == 2 and resumed.head == first.head
    record = resumed.append("response", {"status": 200})
    assert record["seq"] == 2
    assert record["prev"] == hashlib.sha256(lines(path)[1].rstrip(b"\n")).hexdigest()
    assert verify(path).ok and verify(path).records == 3


def test_resume_reads_a_last_record_larger_than_one_block(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append("request", {"body": "x" * 200_000})
    log.append("request", {"body": "y" * 150_000})
    assert AuditLog(path).head == log.head
    AuditLog(path).append("response", {})
    assert verify(path).ok


def test_reserved_keys_cannot_be_overwritten(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(ValueError, match="prev"):
        log.append("request", {"prev": GENESIS})


def test_log_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "audit.jsonl"
    write_log(path, 1)
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_iter_records_reads_back_every_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
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
