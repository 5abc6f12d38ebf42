"""The first turn's time budget for the map: a build still running is left behind, not waited
for, and its result goes to the tools, never into the message already sent."""

import threading
import time
from pathlib import Path

import pytest

from glasscoder.agent.loop import Agent
from glasscoder.agent.session import Session
from glasscoder.guard.approval import Approval
from glasscoder.models.scripted import ScriptedModel
from glasscoder.repomap.build import MAP_HEADER, find, first_turn_map, shared_index
from glasscoder.repomap.index import RepoIndex
from glasscoder.tools.base import ToolContext
from glasscoder.tools.registry import default_tools
from glasscoder.workspace import Workspace
from tests.repomap.conftest import write

TASK = "Fix compute_invoice_total."
NOT_READY = (
    "glasscoder: repo map not ready in 0.01 s; "
    "building it in the background for find_symbol/repo_map"
)


def make_agent(root: Path, tmp_path: Path, replies: list, wait_s: float, notice=None):
    model = ScriptedModel(replies)
    session = Session.create(tmp_path / "sessions", {"workspace": str(root)})
    session.append({"role": "system", "content": "You are a test agent."})
    notices: list[str] = []

    def note(text: str) -> None:
        notices.append(text)
        if notice is not None:
            notice(text)

    workspace = Workspace(root)
    intro = first_turn_map(workspace, 500, note, wait_s)
    agent = Agent(model, default_tools(), ToolContext(workspace, None), Approval("auto", []),
                  session, task_context=intro)  # fmt: skip
    return agent, model, notices


@pytest.fixture
def gated_update(monkeypatch):
    """Every index update first waits for the gate; records which index objects were updated."""
    gate, updated = threading.Event(), []
    real_update = RepoIndex.update

    def update(self: RepoIndex):
        updated.append(self)
        assert gate.wait(timeout=60), "the test never opened the gate"
        return real_update(self)

    monkeypatch.setattr(RepoIndex, "update", update)
    return gate, updated


def test_a_slow_build_leaves_the_map_out_and_the_tools_use_it_later(
    repo, tmp_path, xdg, gated_update
) -> None:
    gate, updated = gated_update
    replies = [
        {"content": "", "tool_calls": [{"name": "find_symbol", "arguments": {"name": "TaxTable"}}]},
        "Found it.",
    ]
    # The gate opens only once the first turn has given up waiting: the build cannot finish first.
    agent, model, notices = make_agent(repo, tmp_path, replies, 0.01, lambda _: gate.set())
    agent.run(TASK)
    assert notices == [NOT_READY]
    assert model.requests[0][1] == {"role": "user", "content": TASK}
    tool_result = [m["content"] for m in agent.session.messages if m["role"] == "tool"]
    assert tool_result == ["billing/tax.py:1: class TaxTable:"]
    # One index: the tool waited for the background build and then used the same object.
    assert len(updated) == 2 and updated[0] is updated[1]
    assert updated[0].parses == 5  # each file parsed once, by the background build
    # Append-only: the map that finished later is nowhere in the history.
    assert model.requests[1][: len(model.requests[0])] == model.requests[0]
    assert not any(MAP_HEADER in str(m.get("content")) for m in agent.session.messages)


def test_a_build_within_the_budget_puts_the_map_in(repo, tmp_path, xdg) -> None:
    agent, model, notices = make_agent(repo, tmp_path, ["Done."], 120.0)
    agent.run(TASK)
    assert model.requests[0][1]["content"].startswith(TASK + "\n\n" + MAP_HEADER)
    assert "def compute_invoice_total(" in model.requests[0][1]["content"] and not notices


def test_map_time_zero_waits_for_the_build(repo, tmp_path, xdg, gated_update) -> None:
    gate, _ = gated_update
    # A zero-second budget taken literally would give up at once, long before this opens it.
    opener = threading.Thread(target=lambda: (time.sleep(0.3), gate.set()), daemon=True)
    opener.start()
    agent, model, notices = make_agent(repo, tmp_path, ["Done."], 0)
    agent.run(TASK)
    assert model.requests[0][1]["content"].startswith(TASK + "\n\n" + MAP_HEADER) and not notices


def test_a_failing_background_build_is_one_notice(repo, tmp_path, xdg, monkeypatch) -> None:
    def broken(self: RepoIndex):
        raise OSError("disk on fire")

    monkeypatch.setattr(RepoIndex, "update", broken)
    agent, model, notices = make_agent(repo, tmp_path, ["Done."], 0)
    agent.run(TASK)
    assert model.requests[0][1]["content"] == TASK
    assert notices == ["glasscoder: no repo map: disk on fire"]


def test_an_index_built_in_the_background_is_saved_to_from_another_thread(repo, xdg) -> None:
    shared = shared_index(Workspace(repo))
    assert shared.start(lambda index: index.update()).result(timeout=60).parsed == 5
    write(repo, {"billing/discount.py": "def apply_discount(total):\n    return total\n"})
    assert shared.run(lambda index: index.update()).parsed == 1  # the cache written from here
    found = shared.run(lambda index: find(index, "apply_discount"))
    assert [(path, d.line) for path, d in found] == [("billing/discount.py", 1)]


def test_at_exit_a_running_build_is_waited_for_and_announced(repo, xdg, gated_update) -> None:
    gate, _ = gated_update
    shared = shared_index(Workspace(repo))
    future = shared.start(lambda index: index.update())
    said: list[str] = []
    shared.finish(lambda: (said.append("finishing"), gate.set()))
    assert said == ["finishing"] and future.done() and future.result().parsed == 5
    shared.finish(lambda: said.append("again"))  # nothing running any more: nothing to say
    assert said == ["finishing"]


def test_map_time_setting(tmp_path, xdg) -> None:
    from glasscoder.config import load_settings
    from glasscoder.errors import UsageError

    assert load_settings(tmp_path, {}).map_time == 2.0
    assert load_settings(tmp_path, {"map_time": "0"}).map_time == 0
    for bad in (-1, "nan"):
        with pytest.raises(UsageError, match="map_time must be 0"):
            load_settings(tmp_path, {"map_time": bad})
