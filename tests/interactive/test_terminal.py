"""The real `glasscoder` in a real terminal (tmux) against the fake OpenAI server on
127.0.0.1, run as its own process. Scripted replies: this proves the interactive wiring
(screen, input, approvals, Ctrl-C, slash commands), not how well any model does the work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interactive.terminal import Terminal, needs_tmux

pytestmark = needs_tmux
READ = {"name": "read_file", "arguments": {"path": "calc.py"}}
FIX = {"name": "edit_file", "arguments": {"path": "calc.py", "old_string": "    return a - b",
                                          "new_string": "    return a + b"}}  # fmt: skip
TEST = {"name": "run_shell", "arguments": {"command": "python3 -m pytest -q"}}
DONE = "## Done\n\nFixed **add** in `calc.py`: it subtracted.\n\n- one\n- two"


class Fake:
    """The fake server process and what it received."""

    def __init__(self, parent: Path, replies: list[Any] | dict[str, Any]) -> None:
        folder = Path(tempfile.mkdtemp(dir=parent, prefix="fake-"))
        (folder / "replies.json").write_text(json.dumps(replies))
        self.port_file = folder / "port"
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.serve", str(folder / "replies.json"),
             str(self.port_file)], cwd=root,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while not self.port_file.exists() or not self.port_file.read_text():
            assert time.monotonic() < deadline, "the fake server did not start"
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{self.port_file.read_text()}/v1"

    def requests(self, at_least: int = 1) -> list[dict[str, Any]]:
        """The request bodies so far (the server writes them down within 50 ms)."""
        path = Path(str(self.port_file) + ".requests")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            bodies = json.loads(path.read_text()) if path.exists() else []
            if len(bodies) >= at_least:
                return bodies
            time.sleep(0.05)
        raise AssertionError(f"the server saw fewer than {at_least} requests")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def repo(buggy_repo: Path) -> Path:
    return buggy_repo


@pytest.fixture
def start(tmp_path: Path, repo: Path) -> Iterator[Any]:
    opened: list[tuple[Terminal, Fake]] = []
    home = tmp_path / "home"
    home.mkdir()

    def open_terminal(replies: list[Any] | dict[str, Any], *flags: str) -> tuple[Terminal, Fake]:
        fake = Fake(tmp_path, replies)
        env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
               "XDG_CONFIG_HOME": str(home / "config"), "PYTHONDONTWRITEBYTECODE": "1",
               "TERM": "xterm-256color", "PATH": os.environ["PATH"],
               "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}  # fmt: skip
        argv = [sys.executable, "-m", "glasscoder", "--endpoint", fake.base_url,
                "--model", "fake-model", *flags]  # fmt: skip
        terminal = Terminal(argv, repo, env)
        opened.append((terminal, fake))
        terminal.wait_for("❯")
        return terminal, fake

    yield open_terminal
    for terminal, fake in opened:
        terminal.close()
        fake.stop()


def _no_traceback(screen: str) -> None:
    assert "Traceback" not in screen and "internal error" not in screen, screen


def test_a_task_streams_its_answer_shows_the_diff_and_exits_cleanly(start, repo: Path) -> None:
    terminal, fake = start([{"content": "Reading it.", "tool_calls": [READ]},
                            {"content": "Fixing.", "tool_calls": [FIX]},
                            {"tool_calls": [TEST]}, DONE])  # fmt: skip
    terminal.type("fix the failing test")
    terminal.keys("Enter")
    screen = terminal.wait_for("Fixed add in calc.py")
    assert "-    return a - b" in screen and "+    return a + b" in screen  # the edit's diff
    assert "● run_shell python3 -m pytest -q" in screen and "1 passed" in screen
    assert "## Done" not in screen  # rendered as Markdown, not shown raw
    assert "return a + b" in (repo / "calc.py").read_text()
    terminal.wait_for("context")  # the status line is back under the prompt
    terminal.type("/exit")
    terminal.keys("Enter")
    assert terminal.wait_exit() == 0
    _no_traceback(terminal.screen())
    assert fake.requests()[0]["messages"][1]["content"].startswith("fix the failing test")


def test_ask_mode_puts_the_command_to_the_person(start, repo: Path) -> None:
    terminal, fake = start([{"tool_calls": [TEST]}, {"tool_calls": [TEST]},
                            "Tests pass."], "--approval", "ask")  # fmt: skip
    terminal.type("run the tests")
    terminal.keys("Enter")
    terminal.wait_for("Run this command in the sandbox?")
    terminal.type("n")
    terminal.keys("Enter")
    terminal.wait_for("why")
    terminal.type("not now, read the code first")
    terminal.keys("Enter")
    terminal.wait_for("[a] yes to `pytest` for this session")  # asked again, second call
    terminal.type("a")
    terminal.keys("Enter")
    screen = terminal.wait_for("Tests pass.")
    _no_traceback(screen)
    tool_results = [m for m in fake.requests(3)[-1]["messages"] if m["role"] == "tool"]
    assert "declined" in tool_results[0]["content"]
    assert "not now, read the code first" in tool_results[0]["content"]
    assert "[exit code" in tool_results[1]["content"]  # the yes let it run


def test_ctrl_c_stops_the_turn_and_the_session_goes_on(start) -> None:
    terminal, fake = start([{"content": "", "trickle": 0.2}, "Second answer."])
    terminal.type("count to a million")
    terminal.keys("Enter")
    terminal.wait_for("xxxx")  # the reply is streaming in, a token every 0.2 s
    terminal.keys("C-c")
    screen = terminal.wait_for("Interrupted. The session goes on")
    assert "xxxx" in screen and "[cut short]" in screen  # what came stays on screen
    terminal.type("and now?")
    terminal.keys("Enter")
    screen = terminal.wait_for("Second answer.")
    _no_traceback(screen)
    roles = [m["role"] for m in fake.requests(2)[-1]["messages"]]
    assert roles[-3:] == ["user", "assistant", "user"]  # the cut turn kept alternation
    terminal.keys("C-c")
    terminal.wait_for("Press Ctrl-C again")
    terminal.keys("C-c")
    assert terminal.wait_exit() == 0


def test_escape_sequences_from_the_model_are_shown_not_sent(start) -> None:
    terminal, _ = start(["title \x1b]0;pwned\x07 and \x1b[2J clear"])
    terminal.type("hi")
    terminal.keys("Enter")
    screen = terminal.wait_for("clear")
    assert "\\x1b]0;pwned\\x07" in screen and "\\x1b[2J" in screen
    assert "glasscoder 0.1.0" in screen  # the screen was not cleared


def test_mentions_bang_commands_and_slash_commands(start, repo: Path) -> None:
    terminal, fake = start(["Seen.", "Done with that."])
    terminal.type("!git log --oneline | wc -l")
    terminal.keys("Enter")
    terminal.wait_for("goes to the model with your next message")
    terminal.type("/nonsense")
    terminal.keys("Enter")
    terminal.wait_for("Unknown command /nonsense")
    terminal.type("look at @calc.py")
    terminal.keys("Enter")
    terminal.wait_for("Seen.")
    sent = fake.requests()[0]["messages"][-1]["content"]
    assert "I ran `git log --oneline | wc -l` myself" in sent
    assert '<file path="calc.py">' in sent and "return a - b" in sent
    terminal.type("/cost")
    terminal.keys("Enter")
    terminal.wait_for("completion tokens")
    terminal.type("/audit")
    terminal.keys("Enter")
    terminal.wait_for("glasscoder audit show")
    terminal.keys("C-d")
    assert terminal.wait_exit() == 0
    _no_traceback(terminal.screen())


def test_continue_picks_up_the_latest_session(start, repo: Path) -> None:
    terminal, _ = start(["First answer."])
    terminal.type("remember the word kumquat")
    terminal.keys("Enter")
    terminal.wait_for("First answer.")
    terminal.keys("C-d")
    assert terminal.wait_exit() == 0
    terminal, fake = start(["Kumquat."], "-c")
    terminal.wait_for("Resumed session")
    terminal.type("which word?")
    terminal.keys("Enter")
    terminal.wait_for("Kumquat.")
    contents = [m.get("content") for m in fake.requests()[0]["messages"]]
    assert any("kumquat" in str(c) for c in contents) and contents[-1] == "which word?"


def test_a_task_as_the_first_argument_opens_the_session_with_it(start) -> None:
    terminal, fake = start(["Explained."], "explain this repo")
    terminal.wait_for("Explained.")
    assert fake.requests()[0]["messages"][1]["content"].startswith("explain this repo")


def test_a_host_the_allow_list_does_not_name_is_put_to_the_person(start, repo: Path) -> None:
    fetch = ("python3 -c \"import urllib.request as u; "
             "u.urlopen('http://pkgs.example.test/simple/', timeout=20)\"")  # fmt: skip
    terminal, fake = start([{"tool_calls": [{"name": "run_shell",
                                             "arguments": {"command": fetch}}]},
                            "No network, then."])  # fmt: skip
    terminal.type("fetch the index")
    terminal.keys("Enter")
    terminal.wait_for("wants to reach pkgs.example.test:80")
    terminal.type("n")
    terminal.keys("Enter")
    screen = terminal.wait_for("No network, then.")
    _no_traceback(screen.split("● run_shell")[0])  # the command's own traceback may show
    tool_result = next(m for m in fake.requests(2)[-1]["messages"] if m["role"] == "tool")
    assert "403" in tool_result["content"]
    log = next((repo.parent / "home" / "data").rglob("audit.jsonl")).read_text().splitlines()
    asked = [
        r for r in map(json.loads, log) if r.get("kind") == "net" and r.get("event") == "asked"
    ]
    assert [(r["host"], r["answer"]) for r in asked] == [("pkgs.example.test", "no")]


def test_sigterm_mid_turn_saves_the_session_and_ends(start, tmp_path: Path) -> None:
    terminal, _ = start([{"content": "", "trickle": 0.2}])
    terminal.type("a long one")
    terminal.keys("Enter")
    terminal.wait_for("xxxx")
    pid = terminal.pane_pid()
    children = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    os.kill(int(children[0]), 15)  # the shell's child: glasscoder itself
    assert terminal.wait_exit() == 1
    _no_traceback(terminal.screen())
    [meta] = (tmp_path / "home" / "data").rglob("meta.json")
    assert json.loads(meta.read_text())["reason"] == "interrupted"


def test_resume_without_an_id_offers_this_workspaces_sessions(start) -> None:
    for word in ("apricot", "quince"):
        terminal, _ = start([f"Noted {word}."])
        terminal.type(f"remember {word}")
        terminal.keys("Enter")
        terminal.wait_for(f"Noted {word}.")
        terminal.type("/exit")
        terminal.keys("Enter")
        assert terminal.wait_exit() == 0
    terminal, fake = start(["Apricot it was."], "--resume")
    screen = terminal.wait_for("number (Enter: cancel)")
    assert screen.index("remember quince") < screen.index("remember apricot")  # latest first
    terminal.type("2")
    terminal.keys("Enter")
    terminal.wait_for("Resumed session")
    terminal.type("/sessions")
    terminal.keys("Enter")
    terminal.wait_for("remember quince")
    terminal.type("which fruit?")
    terminal.keys("Enter")
    terminal.wait_for("Apricot it was.")
    contents = [str(m.get("content")) for m in fake.requests()[0]["messages"]]
    assert any("apricot" in c for c in contents) and not any("quince" in c for c in contents)


def test_undo_takes_back_the_edit_and_redo_brings_it_back(start, repo: Path) -> None:
    original = (repo / "calc.py").read_text()
    terminal, fake = start([{"content": "Fixing.", "tool_calls": [FIX]}, "Fixed.", "Noted."])
    terminal.type("fix calc")
    terminal.keys("Enter")
    terminal.wait_for("Fixed.")
    fixed = (repo / "calc.py").read_text()
    assert fixed != original
    terminal.wait_for("tokens this session")
    terminal.type("/undo")
    terminal.keys("Enter")
    screen = terminal.wait_for("/undo redo takes it back")
    assert "+    return a - b" in screen.split("/undo")[-2]  # the diff it applied
    assert (repo / "calc.py").read_text() == original
    terminal.type("/undo redo")
    terminal.keys("Enter")
    terminal.wait_until(lambda s: s.count("/undo redo takes it back") >= 2)
    assert (repo / "calc.py").read_text() == fixed
    terminal.type("what now?")
    terminal.keys("Enter")
    terminal.wait_for("Noted.")
    sent = fake.requests(3)[-1]["messages"][-1]["content"]
    assert "I restored the files to checkpoint" in sent  # the model is told
    _no_traceback(terminal.screen())


def test_compact_shortens_the_conversation_on_request(start, repo: Path) -> None:
    (repo / "big.py").write_text("".join(f"value_{i} = {i}  # a line of the module\n"
                                         for i in range(80)))  # fmt: skip
    reads = [{"tool_calls": [{"name": "read_file", "arguments": {"path": "big.py", "offset": i}}]}
             for i in range(1, 7)]  # fmt: skip
    terminal, fake = start({"replies": [*reads, "Read and ran.", "Short now."],
                            "summary": "Read big.py: value_0 to value_79."})  # fmt: skip
    terminal.type("read it all")
    terminal.keys("Enter")
    terminal.wait_for("Read and ran.")
    terminal.wait_for("tokens this session")
    terminal.type("/compact")
    terminal.keys("Enter")
    terminal.wait_for("context compacted (asked)")
    terminal.type("go on")
    terminal.keys("Enter")
    terminal.wait_for("Short now.")
    last = fake.requests(8)[-1]["messages"]
    assert any("[Output removed to save context" in str(m.get("content")) for m in last)
    _no_traceback(terminal.screen())
