"""`glasscoder audit verify|show|export` through the real command line entry point."""

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from glasscoder.agent.session import Session
from glasscoder.cli.main import main
from glasscoder.config import data_home
from glasscoder.guard.audit import AuditLog

URL = "http://127.0.0.1:8000/v1/chat/completions"


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run(xdg: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def invoke(*args: str) -> Run:
        monkeypatch.setattr(sys, "argv", ["glasscoder", *args])
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return Run(code, captured.out, captured.err)

    return invoke


def new_session(tmp_path: Path) -> tuple[Session, AuditLog]:
    session = Session.create(data_home() / "sessions", {"workspace": str(tmp_path)})
    return session, AuditLog(session.audit_path)


def chat(log: AuditLog, text: str, sent: int, received: int, **fields: object) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": text}]}
    seq = log.append("request", {"method": "POST", "url": URL, "bytes": sent, "body": body,
                                 **fields})["seq"]  # fmt: skip
    log.append("response", {"request_seq": seq, "status": 200, "bytes": received})


@pytest.fixture
def session(xdg: Path, tmp_path: Path) -> Session:
    session, log = new_session(tmp_path)
    log.append("notice", {"message": "commands run without a sandbox (--sandbox none)"})
    chat(log, "first question", 120, 40, redactions={"api_key": 1, "email": 2})
    chat(log, "second question", 200, 50)
    log.append("refused", {"method": "POST", "url": "https://evil.example/steal"})
    return session


# --- verify ---------------------------------------------------------------------------------


def test_verify_passes_then_names_an_edit(run, session: Session) -> None:
    assert run("audit", "verify", session.id).out == f"{session.id}: ok (6 records)\n"
    data = session.audit_path.read_bytes().replace(b"first question", b"first questioN")
    session.audit_path.write_bytes(data)
    result = run("audit", "verify", session.id)
    assert result.code == 1 and "FAILED at record 1: record 1 was changed" in result.out


@pytest.mark.parametrize("cut", [1, 3])
def test_verify_names_a_cut_tail(run, session: Session, cut: int) -> None:
    lines = session.audit_path.read_bytes().splitlines(keepends=True)
    session.audit_path.write_bytes(b"".join(lines[:-cut]))
    result = run("audit", "verify", session.id)
    assert result.code == 1
    assert f"FAILED at record {6 - cut}: the log ends after record {5 - cut}" in result.out


def test_verify_all_names_deleted_logs_and_sessions(run, session: Session, tmp_path) -> None:
    other, log = new_session(tmp_path)
    chat(log, "hello", 10, 10)
    assert run("audit", "verify").code == 0
    session.audit_path.unlink()
    shutil.rmtree(other.dir)
    result = run("audit", "verify")
    assert result.code == 1
    assert f"{session.id}: FAILED: There is no audit log" in result.out
    assert "had 6 records: it was deleted" in result.out
    assert f"{other.id}: FAILED: There is no audit log" in result.out
    assert "had 2 records: it was deleted" in result.out
    named = run("audit", "verify", other.id)
    assert named.code == 1 and "it was deleted" in named.out


def test_verify_all_names_a_head_file_that_names_no_log(run, session: Session) -> None:
    from glasscoder.guard.audit import heads_dir

    (heads_dir() / ("0" * 64 + ".json")).write_text("{torn")
    result = run("audit", "verify")
    assert result.code == 1 and f"{session.id}: ok (6 records)" in result.out
    assert f"{'0' * 64}.json: FAILED: this audit index entry cannot be read" in result.out
    assert run("audit", "verify", session.id).code == 0  # that log's own head is intact


def test_verify_refuses_a_key_readable_by_others(run, session: Session) -> None:
    (data_home() / "audit.key").chmod(0o640)
    result = run("audit", "verify", session.id)
    assert result.code == 1 and "can be read by others (mode 640)" in result.out


# --- show -----------------------------------------------------------------------------------


def test_show_lists_each_request_with_bytes_and_redactions(run, session: Session) -> None:
    result = run("audit", "show", session.id)
    assert result.code == 0
    lines = result.out.splitlines()
    assert f"#1 request POST {URL}: 120 bytes sent, 40 received; redacted: api_key 1, email 2" \
        in lines  # fmt: skip
    assert f"#3 request POST {URL}: 200 bytes sent, 50 received; nothing redacted" in lines
    assert "  [user] first question" in lines
    assert "#5 refused POST https://evil.example/steal: not the configured endpoint, nothing sent" \
        in lines  # fmt: skip


def test_show_json_is_one_object_a_request(run, session: Session) -> None:
    rows = [
        json.loads(line) for line in run("audit", "show", session.id, "--json").out.splitlines()
    ]
    assert [(r["kind"], r["seq"]) for r in rows] == [("request", 1), ("request", 3),
                                                     ("refused", 5)]  # fmt: skip
    first = rows[0]
    assert first["endpoint"] == URL and first["destination"] == "127.0.0.1:8000"
    assert (first["bytes_sent"], first["bytes_received"], first["status"]) == (120, 40, 200)
    assert first["redactions"] == {"api_key": 1, "email": 2} and first["in_process"] is False
    assert rows[2]["destination"] == "evil.example:443" and rows[2]["bytes_sent"] == 0
    raw = run("audit", "show", session.id, "--json", "--full").out.splitlines()
    assert [json.loads(line)["seq"] for line in raw] == [0, 1, 2, 3, 4, 5]


def test_show_marks_an_embedded_model_as_in_process(run, tmp_path: Path) -> None:
    session, log = new_session(tmp_path)
    body = {"model": "tiny.gguf", "messages": [{"role": "user", "content": "Say hi."}], "tools": []}
    seq = log.append("request", {"method": "EMBEDDED", "url": "/m/tiny.gguf", "bytes": 640,
                                 "prompt_sha256": "0" * 64, "prompt_tokens": 160,
                                 "body": body})["seq"]  # fmt: skip
    log.append("response", {"request_seq": seq, "status": "stop", "bytes": 3, "text": "Hi!"})
    text = run("audit", "show", session.id).out
    assert "#0 request EMBEDDED /m/tiny.gguf (in-process): 640 bytes sent, 3 received" in text
    (row,) = [json.loads(x) for x in run("audit", "show", session.id, "--json").out.splitlines()]
    assert row["in_process"] is True and row["status"] == "stop"


# --- export ---------------------------------------------------------------------------------


def test_export_every_sessions_records_with_its_id(run, session: Session, tmp_path) -> None:
    other, log = new_session(tmp_path)
    chat(log, "hello", 10, 10)
    result = run("audit", "export")
    assert result.code == 0
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert len(rows) == 8
    by_session = {sid: [r["seq"] for r in rows if r["session"] == sid]
                  for sid in (session.id, other.id)}  # fmt: skip
    assert by_session == {session.id: [0, 1, 2, 3, 4, 5], other.id: [0, 1]}
    original = json.loads(session.audit_path.read_bytes().splitlines()[1])
    (exported,) = [r for r in rows if r["session"] == session.id and r["seq"] == 1]
    assert {k: v for k, v in exported.items() if k != "session"} == original


def test_export_since_keeps_records_at_or_after(run, session: Session) -> None:
    records = [json.loads(x) for x in session.audit_path.read_text().splitlines()]
    records[0]["ts"], records[1]["ts"] = "2020-01-01T00:00:00.000Z", "2020-01-01T23:59:59.999Z"
    # Rewritten with other times: export reads the log, it does not check it.
    session.audit_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    day = [json.loads(x)["seq"] for x in run("audit", "export", "--since", "2020-01-02").out
           .splitlines()]  # fmt: skip
    assert day == [2, 3, 4, 5]
    moment = run("audit", "export", "--since", "2020-01-01T23:59:59.999+00:00").out
    assert [json.loads(x)["seq"] for x in moment.splitlines()] == [1, 2, 3, 4, 5]
    naive = run("audit", "export", "--since", "2020-01-01T12:00").out
    assert [json.loads(x)["seq"] for x in naive.splitlines()] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01", "31/01/2025", ""])
def test_export_bad_since_is_a_usage_error(run, session: Session, value: str) -> None:
    result = run("audit", "export", "--since", value)
    assert result.code == 2 and result.out == ""
    assert "--since takes an ISO date or date-time" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_export_names_a_damaged_log_and_keeps_the_rest(run, session, tmp_path) -> None:
    _, log = new_session(tmp_path)
    chat(log, "hello", 10, 10)
    with session.audit_path.open("ab") as f:
        f.write(b"{torn\n")
    result = run("audit", "export")
    assert result.code == 1 and f"session {session.id}: Record 6" in result.err
    assert len(result.out.splitlines()) == 8


# --- links and the sessions ledger ------------------------------------------------------------


def test_verify_fails_a_cut_log_whose_folder_was_linked_back(run, session: Session, tmp_path):
    away = tmp_path / "away"
    shutil.move(session.dir, away)
    log = away / "audit.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:2]))
    session.dir.symlink_to(away)
    for args in (("audit", "verify", session.id), ("audit", "verify")):
        result = run(*args)
        assert result.code == 1
        assert f"{session.id}: FAILED: {session.dir} is a symbolic link" in result.out


def test_a_session_removed_with_its_head_file_is_named_until_forgotten(
    run, session: Session, tmp_path
) -> None:
    from glasscoder.guard.audit import heads_dir

    kept, log = new_session(tmp_path)
    chat(log, "hello", 10, 10)
    before = set(heads_dir().iterdir())
    shutil.rmtree(session.dir)
    (removed,) = [f for f in before if json.loads(f.read_text())["log"].startswith(
        f"sessions/{session.id}/")]  # fmt: skip
    removed.unlink()
    result = run("audit", "verify")
    assert result.code == 1 and f"{kept.id}: ok (2 records)" in result.out
    assert f"{session.id}: FAILED: its folder and its head file are gone, but the sessions " \
           "ledger records" in result.out  # fmt: skip
    assert run("audit", "verify", session.id).code == 1
    forgot = run("audit", "forget", session.id)
    assert forgot.code == 0 and "forgotten" in forgot.out
    after = run("audit", "verify")
    assert after.code == 0 and session.id not in after.out


def test_forget_refuses_a_live_or_unknown_session(run, session: Session) -> None:
    live = run("audit", "forget", session.id)
    assert live.code == 2 and "still has its folder" in live.err
    assert run("audit", "verify", session.id).code == 0
    for name in ("20990101-000000-nothere", "..", "a/b"):
        unknown = run("audit", "forget", name)
        assert unknown.code == 2 and "No session" in unknown.err


def test_forget_drops_the_head_of_a_log_deleted_with_its_folder(run, session: Session) -> None:
    shutil.rmtree(session.dir)  # its head file remains: verify says it was deleted
    assert "it was deleted" in run("audit", "verify").out
    assert run("audit", "forget", session.id).code == 0
    from glasscoder.guard.audit import has_head

    assert not has_head(session.audit_path)
    result = run("audit", "verify")  # nothing left to check, and the ledger is intact
    assert result.code == 2 and "No audit logs" in result.err


def test_verify_names_a_ledger_cut_to_hide_a_session(run, session: Session, tmp_path) -> None:
    from glasscoder.guard.audit_ledger import ledger_path

    ledger = ledger_path()
    first_only = ledger.read_bytes().splitlines(keepends=True)[:1]
    _, log = new_session(tmp_path)
    chat(log, "hello", 10, 10)
    ledger.write_bytes(b"".join(first_only))
    result = run("audit", "verify")
    assert result.code == 1 and "sessions ledger: FAILED at record 1" in result.out
