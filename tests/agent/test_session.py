"""Session storage: what a crash, a damaged file or un-encodable text does to a transcript."""

import json
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
    last = session.transcript_path.read_bytes().splitlines()[-1]
    assert json.loads(last.decode("utf-8")) == stored
    assert Session.load(session.dir.parent, session.id).messages[-1] == stored
