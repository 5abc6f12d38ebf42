"""The agent's side: find_symbol and repo_map as tools, and the map in the first turn."""

from pathlib import Path

from glasscoder.agent.loop import Agent
from glasscoder.agent.session import Session
from glasscoder.guard.approval import Approval
from glasscoder.models.scripted import ScriptedModel
from glasscoder.repomap.build import MAP_HEADER, first_turn_map
from glasscoder.tools.base import ToolContext
from glasscoder.tools.registry import default_tools
from glasscoder.tools.symbols import FindSymbol, RepoMap
from glasscoder.workspace import Workspace
from tests.helpers import xml_call

SYSTEM = "You are a test agent."
TASK = "Fix compute_invoice_total."


def make_agent(root: Path, tmp_path: Path, replies: list, approval: str = "auto", tokens=500):
    model = ScriptedModel(replies)
    session = Session.create(tmp_path / "sessions", {"workspace": str(root)})
    session.append({"role": "system", "content": SYSTEM})
    workspace = Workspace(root)
    notices: list[str] = []
    intro = first_turn_map(workspace, tokens, notices.append, 0)  # 0: waits, however long
    ctx = ToolContext(workspace, None)
    agent = Agent(model, default_tools(), ctx, Approval(approval, []), session, task_context=intro)
    return agent, model, notices


def test_first_task_carries_the_map_and_the_system_prompt_stays_fixed(repo, tmp_path) -> None:
    agent, model, notices = make_agent(repo, tmp_path, ["Done."])
    agent.run(TASK)
    system, user = model.requests[0][0], model.requests[0][1]
    assert system == {"role": "system", "content": SYSTEM}
    assert user["content"].startswith(TASK + "\n\n" + MAP_HEADER)
    signature = "billing/invoice.py:\n  4: def compute_invoice_total(lines, table: TaxTable):"
    assert signature in user["content"]
    assert len(user["content"]) - len(TASK) < 500 * 4 + len(MAP_HEADER) + 10 and not notices


def test_a_later_task_in_the_same_session_gets_no_second_map(repo, tmp_path) -> None:
    agent, model, _ = make_agent(repo, tmp_path, ["Done.", "Done again."])
    agent.run(TASK)
    agent.run("Now rename it.")
    last_user = [m for m in model.requests[1] if m["role"] == "user"][-1]
    assert last_user["content"] == "Now rename it."
    assert model.requests[1][: len(model.requests[0])] == model.requests[0]  # append-only


def test_map_tokens_zero_sends_the_task_alone(repo, tmp_path) -> None:
    agent, model, _ = make_agent(repo, tmp_path, ["Done."], tokens=0)
    agent.run(TASK)
    assert model.requests[0][1]["content"] == TASK


def call(tool: str, **args) -> dict:
    return {"content": "", "tool_calls": [{"name": tool, "arguments": args}]}


def test_find_symbol_and_repo_map_in_plan_mode(repo, tmp_path) -> None:
    replies = [
        call("find_symbol", name="TaxTable"),
        call("find_symbol", name="taxtab"),
        call("find_symbol", name="nothing_like_this"),
        xml_call("repo_map", focus=["ui/theme.py"], tokens=200),
        xml_call("repo_map", focus=["../outside.py"]),
        "Found it.",
    ]
    agent, _, _ = make_agent(repo, tmp_path, replies, approval="plan", tokens=0)
    assert {"find_symbol", "repo_map"} <= set(agent.tools)  # read-only: offered in plan mode
    agent.run("Where is the tax table?")
    results = [m["content"] for m in agent.session.messages if m["role"] == "tool"]
    assert results[0] == "billing/tax.py:1: class TaxTable:"
    assert results[1] == "billing/tax.py:1: class TaxTable:"  # any case, part of the name
    assert results[2].startswith("No definition named 'nothing_like_this'")
    assert results[3].startswith("ui/theme.py:\n") and "ui/widgets.py:" in results[3]
    assert results[4].startswith("Error: ")


def test_tools_are_read_only_and_small() -> None:
    for tool in (FindSymbol(), RepoMap()):
        assert tool.read_only and not tool.runs_commands
        assert len(tool.description) < 120


def test_headless_run_sends_the_map_in_the_first_user_message(buggy_repo, xdg) -> None:
    from tests.fakes.openai_server import FakeOpenAIServer
    from tests.repomap.test_map_cli import glasscoder

    def first_user_message(*extra: str) -> tuple[str, list[str]]:
        with FakeOpenAIServer(["Nothing to do."]) as srv:
            proc = glasscoder("-p", "Make test_calc pass.", "--endpoint", srv.base_url,
                              *extra, cwd=buggy_repo)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        body = srv.requests[0].json
        tools = [t["function"]["name"] for t in body["tools"]]
        return body["messages"][1]["content"], tools

    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("map_time = 0\n")  # the map however slow the machine; test_budget.py: less
    content, tools = first_user_message()
    assert content.startswith("Make test_calc pass.\n\n" + MAP_HEADER)
    assert "calc.py:\n  1: def add(a, b):" in content and "test_add" in content
    assert "TOPSECRET" not in content  # secrets.txt is git-ignored
    assert {"find_symbol", "repo_map"} <= set(tools)
    config.write_text("map_tokens = 0\n")
    content, _ = first_user_message()
    assert content == "Make test_calc pass."


def test_negative_map_tokens_is_refused(tmp_path, xdg) -> None:
    import pytest

    from glasscoder.config import load_settings
    from glasscoder.errors import UsageError

    with pytest.raises(UsageError, match="map_tokens must be 0"):
        load_settings(tmp_path, {"map_tokens": -1})
    assert load_settings(tmp_path, {"map_tokens": "0"}).map_tokens == 0
