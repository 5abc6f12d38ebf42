"""Session storage: what a crash, a damaged file or un-encodable text does to a transcript."""

import json
import os
import threading
from pathlib import Path

import pytest

from glasscoder.agent.session import Session
from glasscoder.errors import UsageError


@pytest.fixture
def session(tmp_path: Path) -> Session:
    session = Session.create(tmp_path, {"workspace": str(tmp_path), "task": "t"})
    session.append({"role": "system", "content": "sys"})
    session.append({"role": "user", "content": "first"})
    return session


def test_a_torn_last_line_is_cut_so_the_next_turn_survives(session: Session) -> None:
    with session.transcript_path.open("a") as f:
        f.write('{"role": "assistant", "cont')  # the crash came mid-append
    resumed = Session.load(session.dir.parent, session.id)
    assert [m["content"] for m in resumed.messages] == ["sys", "first"]
    resumed.append({"role": "user", "content": "second"})
    # Before the fix "second" was glued to the torn line and lost at the next resume.
    again = Session.load(session.dir.parent, session.id)
    assert [m["content"] for m in again.messages] == ["sys", "first", "second"]


@pytest.mark.parametrize(
    "line",
    ["{not json", "[1, 2]", '{"content": "no role"}',
     '{"role": "assistant", "tool_calls": [{"type": "function"}]}'],
    ids=["not-json", "not-an-object", "no-role", "call-without-id"],
)  # fmt: skip
def test_a_damaged_line_is_a_usage_error_not_silent_loss(session: Session, line: str) -> None:
    text = session.transcript_path.read_text()
    session.transcript_path.write_text(text + line + "\n" + '{"role": "user", "content": "x"}\n')
    with pytest.raises(UsageError, match="line 3 of its transcript is damaged"):
        Session.load(session.dir.parent, session.id)


@pytest.mark.parametrize("meta", [b"[]", b"{}", b'{"workspace": 3}', b"\xff"])
def test_a_damaged_meta_is_a_usage_error(session: Session, meta: bytes) -> None:
    (session.dir / "meta.json").write_bytes(meta)
    with pytest.raises(UsageError, match="cannot be read"):
        Session.load(session.dir.parent, session.id)


def test_append_stores_json_safe_text_and_returns_it(session: Session) -> None:
    # A non-UTF-8 file name (surrogateescape) and a JSON "1e999" reach messages as is.
    stored = session.append(
        {"role": "tool", "content": "a.py\n\udcff.py", "extra": {"offset": float("inf")}}
    )
    assert stored == {"role": "tool", "content": "a.py\n\ufffd.py", "extra": {"offset": "inf"}}
    last = json.loads(session.transcript_path.read_bytes().splitlines()[-1].decode("utf-8"))
    assert last.pop("_mac") and last == stored
    assert Session.load(session.dir.parent, session.id).messages[-1] == stored


# --- the transcript's keyed chain: --resume refuses an edited transcript ----------------------


def _lines(session: Session) -> list[bytes]:
    return session.transcript_path.read_bytes().splitlines(keepends=True)


def _resume_refused(session: Session, match: str) -> None:
    with pytest.raises(UsageError, match=match) as refused:
        Session.load(session.dir.parent, session.id)
    assert "without --resume" in str(refused.value)


def test_one_changed_byte_in_a_line_is_refused_naming_the_line(session: Session) -> None:
    lines = _lines(session)
    lines[1] = lines[1].replace(b"first", b"firsT")
    session.transcript_path.write_bytes(b"".join(lines))
    _resume_refused(session, "line 2 of its transcript was changed")


def test_a_deleted_line_is_refused(session: Session) -> None:
    session.append({"role": "assistant", "content": "third"})
    lines = _lines(session)
    session.transcript_path.write_bytes(lines[0] + lines[2])
    _resume_refused(session, "line 2 of its transcript")


def test_a_cut_tail_is_refused(session: Session) -> None:
    session.transcript_path.write_bytes(_lines(session)[0])
    _resume_refused(session, "ends at line 1 but held 2 lines")


def test_a_removed_or_forged_head_file_is_refused(session: Session) -> None:
    head = session.dir / "transcript.head"
    fields = json.loads(head.read_text())
    head.write_text(json.dumps({**fields, "count": 1}))
    _resume_refused(session, "transcript.head is missing or was changed")
    head.unlink()
    _resume_refused(session, "transcript.head is missing or was changed")


def test_a_line_without_its_mac_is_refused(session: Session) -> None:
    lines = _lines(session)
    message = json.loads(lines[1])
    del message["_mac"]
    session.transcript_path.write_bytes(lines[0] + json.dumps(message).encode() + b"\n")
    _resume_refused(session, "line 2 of its transcript")


def test_a_transcript_copied_from_another_session_is_refused(session: Session) -> None:
    other = Session.create(session.dir.parent, {"workspace": str(session.dir), "task": "t"})
    for name in ("transcript.jsonl", "transcript.head"):
        (other.dir / name).write_bytes((session.dir / name).read_bytes())
    _resume_refused(other, "line 1 of its transcript")


def test_a_resumed_session_continues_the_chain(session: Session) -> None:
    resumed = Session.load(session.dir.parent, session.id)
    assert resumed.warnings == []
    resumed.append({"role": "assistant", "content": "more"})
    again = Session.load(session.dir.parent, session.id)
    assert [m["content"] for m in again.messages] == ["sys", "first", "more"]
    assert all("_mac" not in m for m in again.messages)


def test_a_session_saved_before_the_chain_resumes_with_a_warning(tmp_path: Path) -> None:
    old = tmp_path / "20250101-000000-abcdef"  # as an earlier version left it: no chain at all
    old.mkdir()
    (old / "meta.json").write_text(json.dumps({"id": old.name, "workspace": str(tmp_path)}))
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": "first"}]
    (old / "transcript.jsonl").write_text("".join(json.dumps(m) + "\n" for m in messages))
    resumed = Session.load(tmp_path, old.name)
    assert [m["content"] for m in resumed.messages] == ["sys", "first"]
    assert "resumed unchecked" in resumed.warnings[0]
    resumed.append({"role": "user", "content": "later"})  # it stays unchained
    assert len(Session.load(tmp_path, old.name).messages) == 3


def test_a_chained_session_stripped_to_look_old_is_refused(session: Session) -> None:
    lines = [json.loads(line) for line in _lines(session)]
    for message in lines:
        del message["_mac"]
    lines[1]["content"] = "forged"
    session.transcript_path.write_text("".join(json.dumps(m) + "\n" for m in lines))
    (session.dir / "transcript.head").unlink()
    _resume_refused(session, "its transcript's MACs and transcript.head were removed")


@pytest.mark.parametrize(
    ("name", "said"),
    [("transcript.head", "transcript.head is missing or was changed"),
     ("transcript.jsonl", "transcript.jsonl is not a regular file"),
     ("meta.json", "meta.json is not a regular file")],
)  # fmt: skip
def test_a_fifo_in_place_of_a_session_file_is_refused_not_waited_on(
    session: Session, name: str, said: str
) -> None:
    (session.dir / name).unlink()
    os.mkfifo(session.dir / name)  # no writer will ever come: a read would wait forever
    raised: list[BaseException] = []

    def load() -> None:
        try:
            Session.load(session.dir.parent, session.id)
        except BaseException as exc:
            raised.append(exc)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(60)
    assert not loader.is_alive(), "the resume blocked on the FIFO"
    [error] = raised
    assert isinstance(error, UsageError) and said in str(error)


def test_a_refused_resume_leaves_the_transcript_as_it_was(session: Session) -> None:
    lines = _lines(session)
    damaged = lines[0] + lines[1].replace(b"first", b"forged") + b'{"role": "assistant", "co'
    session.transcript_path.write_bytes(damaged)  # an edit, and a torn last line
    _resume_refused(session, "line 2 of its transcript")
    assert session.transcript_path.read_bytes() == damaged  # kept whole, as evidence
