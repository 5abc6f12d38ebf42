"""The interactive session's parts on their own: what the screen prints (and never sends),
`@path` expansion through the workspace's rules, the slash commands."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from glasscoder.config import Settings
from glasscoder.interactive import mentions
from glasscoder.interactive.commands import run_command
from glasscoder.interactive.screen import Screen, unified_diff
from glasscoder.workspace import Workspace


def screen_on(root: Path) -> tuple[Screen, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, markup=False, highlight=False)
    return Screen(console, Workspace(root), lambda: "status"), out


def test_model_text_cannot_drive_the_terminal(tmp_path: Path) -> None:
    screen, out = screen_on(tmp_path)
    hostile = "a \x1b]0;title\x07 b \x1b[2J c \x1b]52;c;cm0gLXJm\x07 [link](https://x.test/)"
    screen.event({"type": "assistant", "content": hostile})
    printed = out.getvalue()
    assert "\\x1b]0;title\\x07" in printed and "\\x1b[2J" in printed
    assert "\x1b]" not in printed and "\x1b[2J" not in printed  # no OSC, no screen clear
    assert "https://x.test/" in printed  # a link is shown, not made a hyperlink


def test_long_command_output_is_cut_with_a_count(tmp_path: Path) -> None:
    screen, out = screen_on(tmp_path)
    screen.event({"type": "tool_start", "name": "run_shell", "arguments": {"command": "seq 100"}})
    output = "".join(f"line {i}\n" for i in range(100)) + "[exit code 0]"
    screen.event({"type": "tool_result", "name": "run_shell", "is_error": False,
                  "content": output, "seconds": 1.25})  # fmt: skip
    printed = out.getvalue()
    assert "run_shell" in printed and "seq 100" in printed and "1.2 s" in printed
    assert "line 0" in printed and "[exit code 0]" in printed and "line 50" not in printed
    assert "… 89 lines hidden …" in printed


def test_an_edit_is_shown_as_the_diff_of_what_changed_on_disk(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    screen, out = screen_on(tmp_path)
    args = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
    assert "+    return a + b" in screen.edit_preview("edit_file", args)
    screen.event({"type": "tool_start", "name": "edit_file", "arguments": args})
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    screen.event({"type": "tool_result", "name": "edit_file", "is_error": False,
                  "content": "ok", "seconds": 0.0})  # fmt: skip
    printed = out.getvalue()
    assert "-    return a - b" in printed and "+    return a + b" in printed


def test_a_secret_file_is_never_diffed_onto_the_screen(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TOKEN=before\n")
    screen, out = screen_on(tmp_path)
    screen.event({"type": "tool_start", "name": "write_file", "arguments": {"path": ".env"}})
    (tmp_path / ".env").write_text("TOKEN=after\n")
    screen.event({"type": "tool_result", "name": "write_file", "is_error": False,
                  "content": "ok", "seconds": 0.0})  # fmt: skip
    assert "TOKEN" not in out.getvalue()


def test_unified_diff_of_a_new_file() -> None:
    diff = unified_diff("n.txt", "", "one\ntwo")
    assert diff.splitlines()[-2:] == ["+one", "+two"]


def test_mentions_attach_files_through_the_workspace_rules(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def add(): ...\n")
    (tmp_path / ".env").write_text("TOKEN=x\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "big.txt").write_text("x" * (mentions.MAX_MENTION_CHARS + 10))
    text, notes = mentions.expand(
        "look at @calc.py, @.env and @src, not me@example.org; @missing.py @big.txt",
        Workspace(tmp_path, deny=(".env",)),
    )
    assert '<file path="calc.py">\ndef add(): ...\n\n</file>' in text
    assert "TOKEN" not in text and "example.org" not in text.split("\n\n", 1)[1]
    assert "[... 10 more characters not shown]" in text
    assert any(n.startswith("@.env not attached") for n in notes)
    assert "@src is a folder; mention files." in notes
    assert any(n.startswith("@missing.py not attached") for n in notes)


class FakeApp:
    def __init__(self, root: Path) -> None:
        self.settings = Settings(endpoint="http://127.0.0.1:1/v1", model="a")
        self.workspace = Workspace(root)
        self.console = Console(file=io.StringIO(), width=100)
        self.agent: Any = None
        self.session: Any = None
        self.files_changed: set[str] = set()
        self.pending: list[str] = ["queued"]
        self.context_used = 5
        self.said: list[str] = []
        self.dropped = 0

    def notice(self, message: str) -> None:
        self.said.append(message)

    def drop_agent(self) -> None:
        self.dropped += 1

    def destination(self) -> str:
        return "→ 127.0.0.1:1"


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("/approval", "Approval mode: auto."),
        ("/approval ask", "Approval mode: ask."),
        ("/approval yolo", "Unknown mode 'yolo'"),
        ("/undo", "Nothing to undo: no message has been sent"),
        ("/compact", "Nothing to compact: no message has been sent"),
        ("/diff", "No file has changed in this session."),
        ("/audit", "Nothing sent yet in this session"),
        ("/bogus x", "Unknown command /bogus"),
    ],
)
def test_slash_commands_say_what_they_did(tmp_path: Path, line: str, said: str) -> None:
    app = FakeApp(tmp_path)
    assert run_command(app, line) is None  # type: ignore[arg-type]
    assert any(message.startswith(said) for message in app.said), app.said


def test_model_clear_and_exit(tmp_path: Path) -> None:
    app = FakeApp(tmp_path)
    run_command(app, "/model other-model")  # type: ignore[arg-type]
    assert app.settings.model == "other-model" and app.dropped == 1
    app.session = object()
    run_command(app, "/clear")  # type: ignore[arg-type]
    assert app.session is None and app.pending == [] and app.context_used == 0
    assert run_command(app, "/exit") == "exit"  # type: ignore[arg-type]


@pytest.mark.parametrize(("flag", "env", "coloured"), [
    ("auto", {}, True), ("auto", {"NO_COLOR": "1"}, False), ("never", {}, False),
    ("always", {"NO_COLOR": "1"}, True),  # the flag outranks the variable
])  # fmt: skip
def test_colour_follows_the_terminal_the_flag_and_no_color(monkeypatch, flag, env,
                                                           coloured) -> None:  # fmt: skip
    import os

    from glasscoder.interactive.screen import make_console

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    leader, follower = os.openpty()  # a real terminal for "auto" to detect
    with os.fdopen(follower, "w") as tty:
        console = make_console(flag, tty)
        Screen(console, Workspace(Path.cwd()), lambda: "").show_diff("+added\n-removed\n")
        tty.flush()
        printed = os.read(leader, 65536)
    os.close(leader)
    assert (b"\x1b[32m" in printed) is coloured


def test_the_input_history_is_the_persons_alone(tmp_path: Path) -> None:
    from prompt_toolkit.completion import DummyCompleter

    from glasscoder.interactive.prompt import make_prompt

    history = tmp_path / "data" / "history"
    make_prompt(history, DummyCompleter(), lambda: "", "auto")
    assert history.stat().st_mode & 0o777 == 0o600
    assert history.parent.stat().st_mode & 0o777 == 0o700
