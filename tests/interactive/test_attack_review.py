"""An attack review of the interactive session: hostile text from the model, files, file
names, commands and the model's own name; approvals answered in odd ways; odd input. The
real program runs in tmux against the fake server (see test_terminal.py); a few checks use
the parts on their own where a terminal adds nothing."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from glasscoder.guard.approval import Request
from glasscoder.interactive.ask import ask_person
from glasscoder.interactive.screen import Screen
from glasscoder.workspace import Workspace
from tests.fakes.raw_server import RawServer
from tests.interactive.terminal import Terminal, needs_tmux
from tests.interactive.test_terminal import Fake

TITLE = "\x1b]0;pwned\x07"  # OSC 0: retitles the window; tmux keeps it as the pane title
SRC = Path(__file__).resolve().parents[2] / "src"
NO_LANDLOCK = ("import glasscoder.sandbox.choose as c; c.landlock_status = lambda: "
               "c.Status(False, 'Landlock is not enabled'); from glasscoder.cli.main import main; "
               "main()")  # fmt: skip


def _no_traceback(screen: str) -> None:
    assert "Traceback" not in screen and "internal error" not in screen, screen


def _title(terminal: Terminal) -> str:
    return terminal._tmux("display-message", "-p", "-t", terminal.name, "#{pane_title}")


def _send(terminal: Terminal, line: str) -> None:
    terminal.type(line)
    terminal.keys("Enter")


def _chats(fake: Fake) -> list[dict[str, Any]]:
    """The chat requests' bodies (the model list is asked for too)."""
    return [b for b in fake.requests() if isinstance(b, dict) and "messages" in b]


def _prompt_after(terminal: Terminal, text: str) -> str:
    """The screen once the prompt is drawn again after `text`: keys typed before that are
    read by the terminal's line discipline, not the prompt."""
    return terminal.wait_until(lambda s: text in s and "\n❯" in s[s.rindex(text) :])


class Opened:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.terminals: list[Terminal] = []
        self.fakes: list[Fake] = []

    def env(self, **extra: str) -> dict[str, str]:
        home = self.home
        return {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
                "XDG_CONFIG_HOME": str(home / "config"), "PYTHONDONTWRITEBYTECODE": "1",
                "TERM": "xterm-256color", "PATH": os.environ["PATH"], "PYTHONPATH": str(SRC),
                **extra}  # fmt: skip

    def fake(self, replies: list[Any]) -> Fake:
        fake = Fake(self.tmp_path, replies)
        self.fakes.append(fake)
        return fake

    def open(self, cwd: Path, base_url: str, *flags: str, python: tuple[str, ...] = ("-m",
             "glasscoder"), width: int = 120, wait: str = "❯", **env: str) -> Terminal:  # fmt: skip
        argv = [sys.executable, *python, "--endpoint", base_url, "--model", "fake-model", *flags]
        if "PATH" in env:  # tmux's -e does not reach the command's PATH: env(1) sets it
            argv = [shutil.which("env") or "env", f"PATH={env['PATH']}", *argv]
        terminal = Terminal(argv, cwd, self.env(**env), width=width)
        self.terminals.append(terminal)
        if wait:
            terminal.wait_for(wait)
        return terminal

    def glasscoder(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "glasscoder", *args], cwd=cwd,
                              env=self.env(), capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip

    def session_ids(self) -> list[str]:
        return [p.parent.name for p in (self.home / "data").rglob("meta.json")]

    def close(self) -> None:
        for terminal in self.terminals:
            terminal.close()
        for fake in self.fakes:
            fake.stop()


@pytest.fixture
def gc(tmp_path: Path) -> Iterator[Opened]:
    opened = Opened(tmp_path)
    yield opened
    opened.close()


def _consistent(gc: Opened, repo: Path) -> None:
    """The session on disk: its audit chain verifies and `-c` takes it up again."""
    verified = gc.glasscoder(repo, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    fake = gc.fake(["Picked up."])
    terminal = gc.open(repo, fake.base_url, "-c")
    terminal.wait_for("tokens this session")  # the toolbar: the prompt is up
    _send(terminal, "still there?")
    _no_traceback(_prompt_after(terminal, "Picked up."))
    _send(terminal, "/exit")
    assert terminal.wait_exit() == 0


# --- 1. nothing drives the terminal ---------------------------------------------------------


def test_the_live_status_line_shows_control_characters_as_text(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200, markup=False, highlight=False)
    screen = Screen(console, Workspace(tmp_path), lambda: f"model{TITLE}\x9b2J · context 0")
    screen.waiting()
    screen.pause()
    printed = out.getvalue()
    assert "\x1b]0" not in printed and "\x9b" not in printed, repr(printed)
    assert "\\x1b]0;pwned\\x07" in printed


@needs_tmux
def test_a_hostile_model_name_cannot_retitle_the_terminal(gc: Opened, buggy_repo: Path) -> None:
    fake = gc.fake([{"content": "Slow answer.", "delay": 2}])
    argv = [sys.executable, "-m", "glasscoder", "--endpoint", fake.base_url,
            "--model", f"fake{TITLE}"]  # fmt: skip
    terminal = Terminal(argv, buggy_repo, gc.env())
    gc.terminals.append(terminal)
    terminal.wait_for("❯")
    _send(terminal, "hi")
    terminal.wait_for("Slow answer.")
    _no_traceback(terminal.screen())
    assert "pwned" not in _title(terminal)


@needs_tmux
def test_bang_command_text_is_not_read_as_markup(gc: Opened, buggy_repo: Path) -> None:
    fake = gc.fake(["ok"])
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, "!echo '[/x] [link=https://x.test]y[/link]' && echo finished-it")
    screen = terminal.wait_for("goes to the model with your next message")
    _no_traceback(screen)
    assert "finished-it" in screen


@needs_tmux
def test_hostile_command_output_file_names_and_arguments_are_shown_as_text(
    gc: Opened, buggy_repo: Path
) -> None:
    name = f"evil{TITLE}.txt"
    (buggy_repo / name).write_text("inside\n")
    printf = "printf 'a\\033]0;pwned\\007b\\033[2Jc\\302\\233d\\n'"
    fake = gc.fake([{"tool_calls": [{"name": "run_shell", "arguments": {"command": printf}},
                                    {"name": "read_file", "arguments": {"path": name}}]},
                    f"Read {name} done."])  # fmt: skip
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, "go")
    screen = terminal.wait_for("done.")
    assert "a\\x1b]0;pwned\\x07b" in screen and "\\x9b" in screen  # the output, as text
    assert "\\x1b]0;pwned\\x07.txt" in screen  # the file name, as text
    terminal.type("@evil")
    terminal.wait_for("evil\\x1b]0;pwned")  # the completion menu shows the name as text
    terminal.keys("C-u")
    _send(terminal, "!printf '\\033]0;pwned\\007'")
    terminal.wait_for("goes to the model")
    _no_traceback(terminal.screen())
    assert "glasscoder 0.1.0" in terminal.screen()  # never cleared
    assert "pwned" not in _title(terminal)


@needs_tmux
def test_a_hostile_stored_task_is_text_in_sessions_picker_and_replay(
    gc: Opened, buggy_repo: Path
) -> None:
    fake = gc.fake([f"Answer {TITLE} here."])
    terminal = gc.open(buggy_repo, fake.base_url, f"task {TITLE}\x9b2J end", wait="Answer")
    _send(terminal, "/sessions")
    screen = _prompt_after(terminal, "done     task")  # the /sessions line
    assert "done     task \\x1b]0;pwned\\x07\\x9b2J" in screen
    _send(terminal, "/exit")
    assert terminal.wait_exit() == 0
    terminal = gc.open(buggy_repo, gc.fake(["ok"]).base_url, "--resume",
                       wait="number (Enter: cancel)")  # fmt: skip
    _send(terminal, "1")
    screen = terminal.wait_for("Answer \\x1b]0;pwned\\x07 here.")
    assert screen.count("\\x1b]0;pwned") >= 2  # the picker line and the replay
    assert "pwned" not in _title(terminal)


@needs_tmux
def test_a_hostile_workspace_folder_name_cannot_retitle_the_terminal(
    gc: Opened, tmp_path: Path
) -> None:
    repo = tmp_path / f"repo{TITLE}"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    terminal = gc.open(repo, gc.fake(["ok"]).base_url)
    _no_traceback(terminal.screen())
    assert "pwned" not in _title(terminal)


# --- 2. @path mentions ----------------------------------------------------------------------


@needs_tmux
def test_mentions_never_attach_what_the_model_could_not_read(
    gc: Opened, buggy_repo: Path, tmp_path: Path
) -> None:
    (buggy_repo / ".env").write_text("API_KEY=ENV-SECRET-VALUE\n")
    (buggy_repo / "id_rsa").write_text("RSA-SECRET-VALUE\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("OUTSIDE-SECRET-VALUE\n")
    (buggy_repo / "link.txt").symlink_to(outside)
    os.mkfifo(buggy_repo / "pipe")
    (buggy_repo / "blob.bin").write_bytes(b"BIN\0" * 100)
    (buggy_repo / "huge.txt").write_text("y\n" * 100_000)
    fake = gc.fake(["Seen them."])
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, "look @.env @id_rsa @secrets.txt @link.txt @pipe @blob.bin @huge.txt")
    screen = terminal.wait_for("Seen them.", timeout=30)  # the FIFO did not hang it
    _no_traceback(screen)
    sent = _chats(fake)[0]["messages"][-1]["content"]
    for secret in ("ENV-SECRET", "RSA-SECRET", "TOPSECRET", "OUTSIDE-SECRET", "BIN"):
        assert secret not in sent, secret
    assert '<file path="huge.txt">' in sent and len(sent) < 70_000  # cut
    assert "more characters not shown" in sent
    assert screen.count("not attached") == 6


# --- 3. !command in the sandbox -------------------------------------------------------------


@needs_tmux
def test_bang_commands_run_confined(gc: Opened, buggy_repo: Path) -> None:
    ssh = gc.home / ".ssh"
    ssh.mkdir()
    (ssh / "id_rsa").write_text("SSH-KEY-SECRET\n")
    fake = gc.fake(["ok"])
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, f"!cat {ssh}/id_rsa; touch {gc.home}/escaped; echo ran-it")
    screen = terminal.wait_for("ran-it")
    _no_traceback(screen)
    assert "SSH-KEY-SECRET" not in screen
    assert not (gc.home / "escaped").exists()


# --- 4. approvals ---------------------------------------------------------------------------


def test_ctrl_d_at_an_approval_question_stops_the_turn() -> None:
    class Closed:
        def prompt(self, text: str) -> str:
            raise EOFError

    request = Request("run_shell", "touch x", "command", "touch")
    with pytest.raises(KeyboardInterrupt):
        ask_person(Console(file=io.StringIO()), request, Closed())  # type: ignore[arg-type]


def _touch(name: str) -> dict[str, Any]:
    return {"name": "run_shell", "arguments": {"command": f"touch {name}"}}


@needs_tmux
@pytest.mark.parametrize("key", ["C-c", "C-d"])
def test_ctrl_c_or_d_at_the_question_runs_nothing_and_the_session_goes_on(
    gc: Opened, buggy_repo: Path, key: str
) -> None:
    fake = gc.fake([{"tool_calls": [_touch("marker")]}, "Next answer."])
    terminal = gc.open(buggy_repo, fake.base_url, "--approval", "ask")
    _send(terminal, "make a marker")
    terminal.wait_for("y/a/n ❯")
    terminal.keys(key)
    _prompt_after(terminal, "Interrupted. The session goes on")
    _send(terminal, "and now?")
    screen = _prompt_after(terminal, "Next answer.")
    _no_traceback(screen)
    assert not (buggy_repo / "marker").exists()
    _send(terminal, "/exit")
    assert terminal.wait_exit() == 0
    _consistent(gc, buggy_repo)


@needs_tmux
def test_ask_mode_puts_edits_to_the_person_and_a_no_stops_them(
    gc: Opened, buggy_repo: Path
) -> None:
    edit = {"name": "write_file", "arguments": {"path": "new.py", "content": "x = 1\n"}}
    fake = gc.fake([{"tool_calls": [edit]}, "Left it."])
    terminal = gc.open(buggy_repo, fake.base_url, "--approval", "ask")
    _send(terminal, "write it")
    terminal.wait_for("Make this edit?")
    assert "+x = 1" in terminal.screen()  # the preview
    _send(terminal, "n")
    terminal.wait_for("why")
    _send(terminal, "wrong file")
    terminal.wait_for("Left it.")
    assert not (buggy_repo / "new.py").exists()
    tool = next(m for m in fake.requests(2)[-1]["messages"] if m["role"] == "tool")
    assert "declined" in tool["content"] and "wrong file" in tool["content"]


@needs_tmux
def test_without_a_sandbox_auto_mode_asks_and_a_no_runs_nothing(
    gc: Opened, buggy_repo: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(str(shutil.which("git")))
    fake = gc.fake([{"tool_calls": [_touch("pwned")]}, "Did not run."])
    terminal = gc.open(buggy_repo, fake.base_url, "--approval", "auto",
                       python=("-c", NO_LANDLOCK), PATH=str(bin_dir))  # fmt: skip
    _send(terminal, "touch it")
    terminal.wait_for("No sandbox is available")
    _send(terminal, "n")
    terminal.wait_for("why")
    _send(terminal, "")
    terminal.wait_for("Did not run.")
    assert not (buggy_repo / "pwned").exists()
    _send(terminal, "!touch pwned2")
    terminal.wait_for("No sandbox is available, so !commands do not run")
    assert not (buggy_repo / "pwned2").exists()
    _no_traceback(terminal.screen())


# --- 5. odd input, odd endpoints, odd terminals ---------------------------------------------


@needs_tmux
def test_odd_lines_give_a_line_not_a_traceback(gc: Opened, buggy_repo: Path) -> None:
    fake = gc.fake(["Got the paste."])
    terminal = gc.open(buggy_repo, fake.base_url)
    for line in ("", "   ", "/", "/ ", "!", "/nonsense", "/resume nonsense",
                 "/resume ../../../etc", "/model \U0001f600 [bold]x[/] \\x1b", "/approval 🙂",
                 "/model fake-model"):  # fmt: skip
        prompts = terminal.screen().count("\n❯")
        _send(terminal, line)  # each once the prompt is back (typed ahead, Enter is a newline)
        terminal.wait_until(lambda s, before=prompts: s.count("\n❯") > before)
    terminal.wait_for("Model: fake-model; the next message uses it.")
    paste = buggy_repo.parent / "paste.txt"
    paste.write_text("word " * 40_000)  # 200 KB
    terminal._tmux("load-buffer", "-b", "big", str(paste))
    terminal._tmux("paste-buffer", "-p", "-b", "big", "-t", terminal.name)
    terminal.keys("Enter")
    screen = terminal.wait_for("Got the paste.", timeout=90)
    _no_traceback(screen)
    assert "is not a session id" in screen
    sent = [str(m.get("content") or "") for m in _chats(fake)[0]["messages"]]
    assert max(map(len, sent)) >= 199_000


@needs_tmux
def test_a_damaged_session_folder_is_a_line(gc: Opened, buggy_repo: Path) -> None:
    fake = gc.fake(["First."])
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, "start")
    terminal.wait_for("First.")
    [sid] = gc.session_ids()
    transcript = next((gc.home / "data").rglob("transcript.jsonl"))
    transcript.write_text("{not json\n" + transcript.read_text())
    _prompt_after(terminal, "First.")
    _send(terminal, "/sessions")
    _prompt_after(terminal, "/sessions")
    _send(terminal, f"/resume {sid}")
    _prompt_after(terminal, "cannot be")
    _send(terminal, "/resume")
    terminal.wait_for("number (Enter: cancel) ❯")
    terminal.keys("Enter")
    _prompt_after(terminal, "number (Enter: cancel)")
    _send(terminal, "/cost")
    screen = terminal.wait_for("completion tokens")
    _no_traceback(screen)
    assert "cannot be" in screen


@needs_tmux
@pytest.mark.parametrize("endpoint", ["dead", "garbage"])
def test_a_bad_endpoint_fails_the_turn_with_a_line(
    gc: Opened, buggy_repo: Path, endpoint: str
) -> None:
    with RawServer(b"<html>not an API</html>", content_type="text/html") as raw:
        if endpoint == "dead":
            fake = gc.fake([])
            url = fake.base_url
            fake.stop()
            gc.fakes.remove(fake)
        else:
            url = raw.base_url
        terminal = gc.open(buggy_repo, url)
        _send(terminal, "hello?")
        screen = terminal.wait_until(lambda s: s.count("glasscoder:") >= 1, timeout=120)
        _send(terminal, "/cost")
        screen = terminal.wait_for("completion tokens")
    _no_traceback(screen)
    _send(terminal, "/exit")
    assert terminal.wait_exit() == 0


@needs_tmux
def test_ctrl_c_twice_fast_mid_turn_and_a_resize_do_not_crash(gc: Opened, buggy_repo: Path) -> None:
    fake = gc.fake([{"content": "", "trickle": 0.2}, "After."])
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, "stream")
    terminal.wait_for("xxxx")
    terminal._tmux("resize-window", "-t", terminal.name, "-x", "30", "-y", "10")
    terminal.wait_for("xxxxxxxx")
    terminal._tmux("resize-window", "-t", terminal.name, "-x", "100", "-y", "30")
    terminal.keys("C-c", "C-c")
    _prompt_after(terminal, "Interrupted")
    if terminal.exited() is None:
        _send(terminal, "/exit")
    assert terminal.wait_exit() == 0
    _no_traceback(terminal.screen())
    _consistent(gc, buggy_repo)


@needs_tmux
@pytest.mark.parametrize(("term", "width"), [("dumb", 120), ("xterm-256color", 20)])
def test_a_dumb_or_narrow_terminal_works(
    gc: Opened, buggy_repo: Path, term: str, width: int
) -> None:
    fake = gc.fake([{"tool_calls": [{"name": "run_shell", "arguments": {"command": "echo hi"}}]},
                    "Short."])  # fmt: skip
    terminal = gc.open(buggy_repo, fake.base_url, width=width, TERM=term)
    _send(terminal, "go")
    _prompt_after(terminal, "Short.")
    _send(terminal, "/exit")
    assert terminal.wait_exit() == 0
    _no_traceback(terminal.screen())
    assert json.loads(next((gc.home / "data").rglob("meta.json")).read_text())["status"]


def test_a_long_word_in_the_first_message_does_not_stall_the_map() -> None:
    # An @mention of a minified or base64 file puts one 60,000-character word in the task;
    # the repo map's ranking reads the task. 200,000 characters: minutes when quadratic.
    code = "from glasscoder.repomap.rank import mentions; mentions('y' * 200_000, {})"
    try:
        subprocess.run([sys.executable, "-c", code], timeout=30, check=True,
                       env={**os.environ, "PYTHONPATH": str(SRC)})  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the ranking did not finish in 30 s (a hang guard, not a timing check)")


@needs_tmux
def test_enter_typed_ahead_during_a_turn_sends_the_line(gc: Opened, buggy_repo: Path) -> None:
    fake = gc.fake([{"content": "Slow.", "delay": 3}])
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, "first")
    terminal.wait_for("thinking")
    _send(terminal, "/cost")
    terminal.wait_for("completion tokens", timeout=20)


WRAPPED = ["env pytest -q", "timeout 60 pytest", "xargs pytest", "uv run pytest",
           "poetry run pytest", "FOO=1 pytest"]  # fmt: skip


@pytest.mark.parametrize("command", WRAPPED)
def test_yes_for_this_command_does_not_cover_other_programs(command: str) -> None:
    from glasscoder.guard.approval import command_allowed, command_prefix

    prefix = command_prefix(command)
    other = command.replace("pytest", "rm -rf ~/work").replace(" -q", "")
    assert not (prefix and command_allowed(other, [prefix])), f"yes to `{prefix}` runs `{other}`"


def test_the_replay_shows_what_was_typed_not_the_map_or_files(tmp_path: Path) -> None:
    from glasscoder.interactive.pick import replay
    from glasscoder.repomap.build import MAP_HEADER

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200, markup=False)
    screen = Screen(console, Workspace(tmp_path), lambda: "status")

    class Stored:
        id = "20260101-000000-abcdef"

        def __init__(self) -> None:
            self.messages = [
                {"role": "user", "content": f"fix it\n\n{MAP_HEADER}calc.py:\n  1: def add"},
                {"role": "assistant", "content": "Done."},
                {"role": "user", "content": 'see @a.py\n\n<file path="a.py">\nx\n</file>'},
            ]

    replay(screen, Stored())  # type: ignore[arg-type]
    shown = out.getvalue()
    assert "fix it" in shown and "see @a.py" in shown and "Done." in shown
    assert "Repository map" not in shown and "def add" not in shown and "<file" not in shown


@needs_tmux
@pytest.mark.parametrize("key", ["C-c", "C-d"])
def test_ctrl_c_or_d_at_the_network_question_is_a_no(
    gc: Opened, buggy_repo: Path, key: str
) -> None:
    fetch = ("python3 -c \"import urllib.request as u; "
             "u.urlopen('http://pkgs.example.test/simple/', timeout=20)\"")  # fmt: skip
    run = {"name": "run_shell", "arguments": {"command": fetch}}
    fake = gc.fake([{"tool_calls": [run]}, "No network, then.", "Still here."])
    terminal = gc.open(buggy_repo, fake.base_url)
    _send(terminal, "fetch the index")
    terminal.wait_for("wants to reach pkgs.example.test:80")
    terminal.wait_for("y/a/n ❯")
    terminal.keys(key)
    _prompt_after(terminal, "No network, then.")
    _send(terminal, "and now?")
    screen = _prompt_after(terminal, "Still here.")
    _no_traceback(screen.split("● run_shell")[0])  # the command's own traceback may show
    tool = next(m for m in _chats(fake)[-1]["messages"] if m["role"] == "tool")
    assert "403" in tool["content"]
    _send(terminal, "/exit")
    assert terminal.wait_exit() == 0
    _consistent(gc, buggy_repo)


@needs_tmux
def test_a_sandbox_setting_that_cannot_be_met_is_a_line(
    gc: Opened, buggy_repo: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(str(shutil.which("git")))
    fake = gc.fake(["Hello."])
    terminal = gc.open(buggy_repo, fake.base_url, "--sandbox", "bwrap", PATH=str(bin_dir))
    _send(terminal, "!echo hi")
    _prompt_after(terminal, "!echo hi")
    _send(terminal, "hello")
    screen = _prompt_after(terminal, "hello")
    _no_traceback(screen)
    assert "bwrap sandbox is not available" in screen


def test_the_approval_question_shows_bidi_controls_as_text() -> None:
    class Yes:
        def prompt(self, text: str) -> str:
            return "y"

    out = io.StringIO()
    command = "echo safe \u202e# ;x- mr\u202c"
    ask_person(Console(file=out), Request("run_shell", command, "command", ""), Yes())  # type: ignore[arg-type]
    assert "\u202e" not in out.getvalue()
