"""Agent-loop tests with a scripted model: they prove the loop and tools, not model quality."""

import json
from pathlib import Path
from typing import Any

from glasscoder.agent.loop import Agent, RunLimits
from glasscoder.agent.session import Session
from glasscoder.guard.approval import Approval
from glasscoder.models.scripted import ScriptedModel
from glasscoder.sandbox.none import NoSandbox
from glasscoder.tools.base import Observation, ToolContext
from glasscoder.tools.registry import default_tools
from glasscoder.workspace import Workspace
from tests.helpers import xml_call


def make_agent(
    root: Path, tmp_path: Path, replies: list, approval: str = "auto",
    sandbox: bool = True, limits: RunLimits | None = None, allow: list[str] | None = None,
) -> tuple[Agent, ScriptedModel, list[dict]]:  # fmt: skip
    model = ScriptedModel(replies)
    session = Session.create(tmp_path / "sessions", {"workspace": str(root)})
    session.append({"role": "system", "content": "You are a test agent."})
    ctx = ToolContext(Workspace(root), NoSandbox() if sandbox else None, "no sandbox: refused")
    events: list[dict] = []
    agent = Agent(model, default_tools(), ctx, Approval(approval, allow or []), session,
                  limits, events.append)  # fmt: skip
    return agent, model, events


FIX = [
    "Let me look at the code.\n" + xml_call("read_file", path="calc.py"),
    xml_call(
        "edit_file", path="calc.py", old_string="    return a - b", new_string="    return a + b"
    ),
    xml_call("run_shell", command="python -m pytest -q test_calc.py"),
    "Fixed `add`: it subtracted. The test passes now.",
]


def test_fixes_a_bug_end_to_end_in_a_real_repo(buggy_repo: Path, tmp_path: Path) -> None:
    agent, _model, events = make_agent(buggy_repo, tmp_path, FIX)
    outcome = agent.run("Make test_calc pass.")
    assert outcome.status == "done" and outcome.reason == "completed"
    assert outcome.turns == 4
    assert outcome.files_changed == ["calc.py"]
    assert (buggy_repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert "Fixed `add`" in outcome.result
    shell_result = [e for e in events if e["type"] == "tool_result"][-1]
    assert "1 passed" in shell_result["content"] and not shell_result["is_error"]


def test_history_is_append_only_and_saved(buggy_repo: Path, tmp_path: Path) -> None:
    agent, model, _ = make_agent(buggy_repo, tmp_path, FIX)
    agent.run("Make test_calc pass.")
    for before, after in zip(model.requests, model.requests[1:], strict=False):
        assert after[: len(before)] == before  # every request extends the one before
    saved = [json.loads(x) for x in agent.session.transcript_path.read_text().splitlines()]
    assert all(line.pop("_mac") for line in saved)  # each line chained (transcript_mac.py)
    assert saved == agent.session.messages
    assistant = [m for m in saved if m["role"] == "assistant" and m.get("tool_calls")]
    args = assistant[1]["tool_calls"][0]["function"]["arguments"]
    assert args == {"path": "calc.py", "old_string": "    return a - b",
                    "new_string": "    return a + b"}  # fmt: skip
    ids = [c["id"] for m in assistant for c in m["tool_calls"]]
    assert len(ids) == len(set(ids)), "tool call ids must be unique across the session"


def test_bad_calls_become_error_observations(buggy_repo: Path, tmp_path: Path) -> None:
    replies = [
        xml_call("reed_file", path="calc.py"),
        xml_call("read_file", path="../../etc/passwd"),
        xml_call("read_file", path="secrets.txt"),
        xml_call("read_file", path="calc.py", offset="not a number"),
        "Done.",
    ]
    agent, _, events = make_agent(buggy_repo, tmp_path, replies)
    outcome = agent.run("look around")
    results = [e for e in events if e["type"] == "tool_result"]
    assert [r["is_error"] for r in results] == [True, True, True, True]
    assert "read_file" in results[0]["content"]  # the unknown-tool message names real tools
    assert "outside" in results[1]["content"]
    assert "ignore" in results[2]["content"]
    assert "TOPSECRET" not in json.dumps(agent.session.messages)
    assert outcome.status == "done"


def test_repeated_call_is_warned_then_stopped(buggy_repo: Path, tmp_path: Path) -> None:
    agent, _, events = make_agent(buggy_repo, tmp_path, [xml_call("list_directory")] * 8)
    outcome = agent.run("loop")
    assert outcome.status == "failed" and outcome.reason == "repeated_call"
    results = [e["content"] for e in events if e["type"] == "tool_result"]
    assert len(results) == 5
    assert "exact call 3 times" in results[2] and "exact call" not in results[1]


def test_turn_and_token_limits(buggy_repo: Path, tmp_path: Path) -> None:
    calls = [xml_call("read_file", path="calc.py", offset=i + 1) for i in range(5)]
    agent, _, _ = make_agent(buggy_repo, tmp_path, calls, limits=RunLimits(max_turns=2))
    outcome = agent.run("read forever")
    assert (outcome.status, outcome.reason, outcome.turns) == ("failed", "max_turns", 2)
    agent, _, _ = make_agent(buggy_repo, tmp_path, calls, limits=RunLimits(max_tokens=1))
    assert agent.run("read forever").reason == "max_tokens"


def test_plan_mode_offers_and_runs_only_read_only_tools(buggy_repo: Path, tmp_path: Path) -> None:
    replies = [xml_call("write_file", path="new.py", content="x = 1"), "Plan: ..."]
    agent, _, events = make_agent(buggy_repo, tmp_path, replies, approval="plan")
    assert set(agent.tools) == {"read_file", "list_directory", "glob", "grep", "find_symbol",
                                "repo_map"}  # fmt: skip
    agent.run("plan it")
    result = next(e for e in events if e["type"] == "tool_result")
    assert result["is_error"] and "plan mode" in result["content"]
    assert not (buggy_repo / "new.py").exists()


def test_auto_edit_refuses_commands_unless_allowed(buggy_repo: Path, tmp_path: Path) -> None:
    replies = [xml_call("run_shell", command="touch pwned"),
               xml_call("run_shell", command="git status --short"), "ok"]  # fmt: skip
    agent, _, events = make_agent(buggy_repo, tmp_path, replies, approval="auto-edit",
                                  allow=["git status"])  # fmt: skip
    agent.run("try commands")
    first, second = [e for e in events if e["type"] == "tool_result"]
    assert first["is_error"] and "allowed: git status" in first["content"]
    assert not (buggy_repo / "pwned").exists()
    assert not second["is_error"]


def test_without_a_sandbox_commands_are_refused(buggy_repo: Path, tmp_path: Path) -> None:
    replies = [xml_call("run_shell", command="touch pwned"), "ok"]
    agent, _, events = make_agent(buggy_repo, tmp_path, replies, sandbox=False)
    agent.run("try")
    result = next(e for e in events if e["type"] == "tool_result")
    assert result["is_error"] and "no sandbox" in result["content"]
    assert not (buggy_repo / "pwned").exists()


def test_a_tool_bug_does_not_end_the_session(buggy_repo, tmp_path, monkeypatch) -> None:
    from glasscoder.tools.files import ReadFile

    def broken(self: Any, args: dict, ctx: ToolContext) -> Observation:
        raise RuntimeError("boom")

    monkeypatch.setattr(ReadFile, "run", broken)
    agent, _, events = make_agent(buggy_repo, tmp_path, [xml_call("read_file", path="a"), "ok"])
    assert agent.run("x").status == "done"
    assert "RuntimeError: boom" in next(e for e in events if e["type"] == "tool_result")["content"]


def test_interrupt_saves_and_resume_closes_dangling_calls(buggy_repo, tmp_path) -> None:
    agent, _model, _ = make_agent(buggy_repo, tmp_path, [xml_call("read_file", path="calc.py")])

    def interrupted(*args: Any, **kwargs: Any) -> Observation:
        raise KeyboardInterrupt

    agent.tools["read_file"].run = interrupted  # type: ignore[method-assign]
    outcome = agent.run("task")
    assert (outcome.status, outcome.reason) == ("failed", "interrupted")
    last = agent.session.messages[-1]
    assert last["role"] == "tool" and "interrupted" in last["content"]
    resumed = Session.load(tmp_path / "sessions", agent.session.id)
    assert resumed.messages == agent.session.messages
    model2 = ScriptedModel(["All done."])
    agent2 = Agent(model2, default_tools(), agent.ctx, Approval("auto"), resumed)
    assert agent2.run("continue please").status == "done"
    assert model2.requests[0][: len(agent.session.messages)] == agent.session.messages


def test_empty_or_cut_reply_is_nudged_once(buggy_repo: Path, tmp_path: Path) -> None:
    replies = [{"content": "", "finish_reason": "stop"}, "Finished."]
    agent, model, _ = make_agent(buggy_repo, tmp_path, replies)
    outcome = agent.run("x")
    assert outcome.result == "Finished." and outcome.turns == 2
    assert "empty or cut off" in model.requests[1][-1]["content"]


def test_model_failure_mid_task_keeps_turns_and_usage(buggy_repo: Path, tmp_path: Path) -> None:
    # The scripted model raises ModelError once it runs out of replies, as a dead endpoint would.
    agent, _, _ = make_agent(buggy_repo, tmp_path, [xml_call("read_file", path="calc.py")])
    outcome = agent.run("x")
    assert (outcome.status, outcome.reason, outcome.turns) == ("error", "model_error", 1)
    assert outcome.usage.prompt_tokens > 0 and "no more replies" in outcome.result


def test_ctrl_c_during_an_edit_lets_the_write_finish(buggy_repo, tmp_path, monkeypatch) -> None:
    import os
    import signal

    real_write = Workspace.write_text

    def write_then_interrupted(self: Workspace, path: str, text: str) -> bool:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while the edit is in progress
        return real_write(self, path, text)

    monkeypatch.setattr(Workspace, "write_text", write_then_interrupted)
    replies = [xml_call("write_file", path="new.py", content="x = 1"), "never reached"]
    agent, _, _ = make_agent(buggy_repo, tmp_path, replies)
    outcome = agent.run("write")
    assert (outcome.status, outcome.reason) == ("failed", "interrupted")
    assert (buggy_repo / "new.py").read_text() == "x = 1"  # the write finished whole
    assert agent.session.messages[-1]["role"] == "tool"  # and the history stays well-formed
    tool_message = agent.session.messages[-1]
    assert "Created new.py" in tool_message["content"]  # the model is told what happened


def test_sigterm_during_an_edit_lets_the_write_finish(buggy_repo, tmp_path, monkeypatch) -> None:
    import os
    import signal

    from glasscoder.agent.loop import terminate_as_interrupt

    real_write = Workspace.write_text

    def write_then_terminated(self: Workspace, path: str, text: str) -> bool:
        os.kill(os.getpid(), signal.SIGTERM)  # a service manager stops glasscoder mid-edit
        return real_write(self, path, text)

    monkeypatch.setattr(Workspace, "write_text", write_then_terminated)
    replies = [xml_call("write_file", path="new.py", content="x = 1"), "never reached"]
    agent, _, _ = make_agent(buggy_repo, tmp_path, replies)
    with terminate_as_interrupt():
        outcome = agent.run("write")
    assert (outcome.status, outcome.reason) == ("failed", "interrupted")
    assert outcome.result == "Interrupted by SIGTERM."
    assert (buggy_repo / "new.py").read_text() == "x = 1"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back after the run


def test_refusals_are_listed_in_the_outcome(buggy_repo: Path, tmp_path: Path) -> None:
    """Refused by the mode (plan: an edit), by having no sandbox (a command), or not at all."""
    edit = xml_call("write_file", path="new.py", content="x = 1\n")
    agent, _, _ = make_agent(buggy_repo, tmp_path, [edit, "Done."], approval="plan")
    assert agent.run("Add new.py.").refused == [{
        "tool": "write_file", "call": "new.py",
        "reason": "write_file is not available in plan mode (read-only)"}]  # fmt: skip
    shell = xml_call("run_shell", command="python -m pytest -q")
    agent, _, _ = make_agent(buggy_repo, tmp_path / "b", [shell, "Tests pass."], sandbox=False)
    assert agent.run("Run the tests.").refused == [
        {"tool": "run_shell", "call": "python -m pytest -q", "reason": "no sandbox: refused"}
    ]
    agent, _, _ = make_agent(buggy_repo, tmp_path / "c", FIX)
    assert agent.run("Make test_calc pass.").refused == []
