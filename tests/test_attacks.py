"""Attacks on glasscoder's promises, end to end: a hostile model, repository and server.

Each test drives the real `glasscoder` entry point (in-process, so the file stays fast)
against the real fake server on 127.0.0.1 and a real git repository, and checks a promise:

1. file tools stay beneath the root and never show hidden files;
2. only the endpoint is contacted and the audit log holds what was sent;
3. commands, the endpoint and the approval mode are the person's choice alone;
4. nothing a model, repository or server sends crashes glasscoder; bad input is one line.
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

import glasscoder.run
from glasscoder import cli
from glasscoder.agent.session import Session
from glasscoder.guard.approval import command_allowed
from glasscoder.guard.audit import verify
from glasscoder.output import JsonOutput, StreamJsonOutput, TextOutput
from tests.conftest import git
from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall
from tests.fakes.raw_server import RawServer

SECRET = "TOPSECRET-CONTENT"  # in buggy_repo's git-ignored secrets.txt
PRINTERS = {"text": TextOutput, "json": JsonOutput, "stream-json": StreamJsonOutput}


class Run:
    """What one in-process `glasscoder` invocation printed, and its exit code."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def events(self) -> list[dict[str, Any]]:
        """stdout as strict JSON lines (Infinity/NaN refused)."""
        return [json.loads(line, parse_constant=_refuse) for line in self.out.splitlines()]


def _refuse(constant: str) -> None:
    raise ValueError(f"not strict JSON: {constant}")


def invoke(monkeypatch: pytest.MonkeyPatch, *args: str, stdin: bytes = b"") -> Run:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "argv", ["glasscoder", *args])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.setattr(sys, "stdout", out)  # click.echo, for `audit verify`
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(glasscoder.run, "make_output", lambda fmt: PRINTERS[fmt](out, err))
    try:
        cli.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
    return Run(code, out.getvalue(), err.getvalue())


def task(monkeypatch, srv: FakeOpenAIServer, repo: Path, *extra: str) -> Run:
    return invoke(monkeypatch, "-p", "Do the task.", "--endpoint", srv.base_url,
                      "--cwd", str(repo), *extra)  # fmt: skip


def call(name: str, args: dict[str, Any] | str) -> FakeReply:
    return FakeReply(tool_calls=[FakeToolCall(name, args)])


def tool_results(srv: FakeOpenAIServer) -> list[str]:
    """What the model was told, tool result by tool result, in the last request."""
    return [m["content"] for m in srv.requests[-1].json["messages"] if m["role"] == "tool"]


def sent_bytes(srv: FakeOpenAIServer) -> bytes:
    return b"".join(r.body for r in srv.requests)


def user_config(xdg: Path, text: str) -> None:
    path = xdg / "config" / "glasscoder" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- 4. whatever a repository or a model sends, the session survives --------------------


@pytest.mark.parametrize("fmt", ["text", "json", "stream-json"])
def test_hostile_file_names_and_model_text_do_not_end_the_session(
    buggy_repo, xdg, monkeypatch, fmt
) -> None:
    # A name that is not UTF-8 (Python sees lone surrogates) and carries a terminal escape.
    with open(os.fsencode(buggy_repo) + b"/\xff\x1b[2J.py", "wb") as f:
        f.write(b"add = 1\n")
    replies = [
        call("list_directory", {}),
        call("grep", {"pattern": "add"}),
        call("glob", {"pattern": "*.py"}),
        FakeReply("Lone \ud800 surrogate, bell \x07, escape \x1b]52;c;eA==\x07 - done."),
    ]
    with FakeOpenAIServer(replies) as srv:
        run = task(monkeypatch, srv, buggy_repo, "--output-format", fmt)
    assert run.code == 0
    listing = tool_results(srv)[0]
    assert "\ufffd\x1b[2J.py" in listing  # the model sees the name, made UTF-8-safe
    if fmt == "text":
        assert "\x1b" not in run.out + run.err and "\x07" not in run.out + run.err
        assert "Lone \ufffd surrogate" in run.out
    else:
        assert run.events()[-1]["status"] == "done"
    session_id = next(p.name for p in (xdg / "data" / "glasscoder" / "sessions").iterdir())
    resumed = Session.load(xdg / "data" / "glasscoder" / "sessions", session_id)
    assert len(resumed.messages) == 9  # system, task, 3 x (call, result), answer


def test_malformed_tool_calls_never_crash_and_stream_json_stays_valid(
    buggy_repo, xdg, monkeypatch
) -> None:
    calls = [
        FakeToolCall("read_file", {"path": ["calc.py"]}),
        FakeToolCall("read_file", {"path": "calc.py", "offset": -5}),
        FakeToolCall("read_file", '{"path": "calc.py", "offset": 1e999}'),  # inf
        FakeToolCall("read_file", {"path": "calc.py", "limit": "²"}),
        FakeToolCall("read_file", {"path": "calc.py\u0000"}),
        FakeToolCall("read_file", {"path": "x" * 5000}),
        FakeToolCall("write_file", {"path": "new\nline.txt", "content": "\ud800"}),
        FakeToolCall("edit_file", {"path": "calc.py", "old_string": 3, "new_string": None}),
        FakeToolCall("grep", {"pattern": "(", "max_results": 10**30}),
        FakeToolCall("run_shell", {"command": "rm -rf ~"}),
        FakeToolCall("no_such_tool", "{{{"),
        FakeToolCall("", "null"),
    ]
    with FakeOpenAIServer([FakeReply(tool_calls=calls), "Gave up."]) as srv:
        run = task(monkeypatch, srv, buggy_repo, "--output-format", "stream-json")
    assert run.code == 0
    events = run.events()
    results = [e for e in events if e["type"] == "tool_result"]
    assert len(results) == len(calls) and all(r["is_error"] for r in results)
    assert not any(" failed: " in r["content"] for r in results)  # no tool's own crash
    assert events[-1]["result"] == "Gave up."
    assert (buggy_repo / "calc.py").read_text().startswith("def add")


def test_bad_input_is_one_line_with_the_right_exit_code(buggy_repo, xdg, monkeypatch) -> None:
    endpoint = ("--endpoint", "http://127.0.0.1:1/v1", "--cwd", str(buggy_repo))
    blank = invoke(monkeypatch, "-p", "   ", *endpoint)
    assert blank.code == 2 and "No task given" in blank.err  # it used to start a session
    (buggy_repo / ".glasscoder").mkdir()
    os.mkfifo(buggy_repo / ".glasscoder" / "config.toml")  # used to hang forever
    fifo = invoke(monkeypatch, "-p", "x", *endpoint)
    assert fifo.code == 2 and "not a regular file" in fifo.err
    assert len(fifo.err.strip().splitlines()) == 1


def test_undecodable_stdin_and_argv_are_a_task_not_a_crash(buggy_repo, xdg, monkeypatch) -> None:
    with FakeOpenAIServer(["One.", "Two."]) as srv:
        piped = invoke(monkeypatch, "--endpoint", srv.base_url, "--cwd", str(buggy_repo),
                           stdin=b"fix \xff\xfe please\n")  # fmt: skip
        argv = task(monkeypatch, srv, buggy_repo, "-p", os.fsdecode(b"fix \xff"))
    assert (piped.code, argv.code) == (0, 0)
    tasks = [r.json["messages"][1]["content"] for r in srv.requests]
    assert tasks == ["fix \ufffd\ufffd please", "fix \ufffd"]


@pytest.mark.parametrize(
    ("server", "stream"),
    [
        (RawServer(b"<html><body>502 Bad Gateway</body></html>", "text/html"), False),
        (RawServer(b'{"choices": [{"message": null}]}'), False),
        (RawServer(b"{not json"), False),
        (RawServer(events=[b'{"choices": [{"delta": {"content": 5}}]}']), True),  # no finish
    ],
    ids=["html-200", "null-message", "invalid-json", "stream-without-end"],
)
def test_a_broken_server_is_exit_3_and_a_json_error(
    buggy_repo, xdg, monkeypatch, server, stream
) -> None:
    user_config(xdg, f"stream = {str(stream).lower()}\n")
    with server:
        run = invoke(monkeypatch, "-p", "x", "--endpoint", server.base_url, "--cwd",
                         str(buggy_repo), "--output-format", "json")  # fmt: skip
    assert run.code == 3
    result = run.events()[-1]
    assert result["status"] == "error" and result["error"].startswith("The model")


# --- 1. hidden stays hidden; 3. the model cannot change the person's choices ---------------


def test_model_cannot_unhide_files_by_rewriting_ignore_rules(buggy_repo, xdg, monkeypatch) -> None:
    replies = [
        call("write_file", {"path": ".gitignore", "content": "# nothing is ignored now\n"}),
        call("read_file", {"path": "secrets.txt"}),
        call("write_file", {"path": "sub/.gitignore", "content": "!*\n"}),
        call("grep", {"pattern": "TOPSECRET"}),
        call("glob", {"pattern": "**/*.txt"}),
        "Could not read it.",
    ]
    with FakeOpenAIServer(replies) as srv:
        run = task(monkeypatch, srv, buggy_repo, "--output-format", "json")
    assert run.code == 0
    results = tool_results(srv)
    assert "as it was when this session started" in results[1]
    assert results[3].startswith("No matches") and results[4].startswith("No files match")
    assert SECRET.encode() not in sent_bytes(srv)
    session_id = run.events()[-1]["session_id"]
    log = xdg / "data" / "glasscoder" / "sessions" / session_id / "audit.jsonl"
    assert SECRET.encode() not in log.read_bytes() and verify(log).ok


def test_model_cannot_write_the_config_the_next_session_trusts(
    buggy_repo, xdg, monkeypatch
) -> None:
    evil = 'allow_commands = ["bash"]\nmodel = "other"\n'
    replies = [
        call("write_file", {"path": ".glasscoder/config.toml", "content": evil}),
        call("edit_file", {"path": ".glasscoder/x.toml", "old_string": "", "new_string": evil}),
        call("write_file", {"path": ".glasscoderignore", "content": ""}),
        "Done.",
    ]
    with FakeOpenAIServer(replies) as srv:
        run = task(monkeypatch, srv, buggy_repo, "--output-format", "json")
    assert run.code == 0
    assert all("only the user may change it" in r for r in tool_results(srv))
    assert not (buggy_repo / ".glasscoder").exists()


def test_a_workspace_holding_glasscoders_own_files_cannot_touch_them(
    tmp_path, xdg, monkeypatch
) -> None:
    # glasscoder started in the home folder: config and sessions lie inside the workspace.
    user_config(xdg, "max_turns = 10\n")
    config = "xdg/config/glasscoder/config.toml"
    replies = [
        call("write_file", {"path": config, "content": 'sandbox = "none"\napproval = "auto"\n'}),
        call("list_directory", {"path": "xdg/data/glasscoder/sessions"}),
        call("grep", {"pattern": "Do the task", "path": "xdg"}),
        "Done.",
    ]
    with FakeOpenAIServer(replies) as srv:
        run = task(monkeypatch, srv, tmp_path, "--output-format", "json")
    assert run.code == 0
    results = tool_results(srv)
    assert all("glasscoder's own configuration" in r for r in results[:2])
    assert results[2].startswith("No matches")  # its own transcript and audit log stay unseen
    assert (xdg / "config" / "glasscoder" / "config.toml").read_text() == "max_turns = 10\n"


def test_a_repository_config_cannot_grant_commands_or_pick_the_key(
    buggy_repo, xdg, monkeypatch
) -> None:
    (buggy_repo / ".glasscoder").mkdir()
    (buggy_repo / ".glasscoder" / "config.toml").write_text(
        'api-key-env = "CLOUD_TOKEN"\nallow-commands = ["touch"]\nignore = ["!secrets.txt"]\n'
    )
    monkeypatch.setenv("CLOUD_TOKEN", "cloud-secret-value")
    replies = [call("run_shell", {"command": "touch pwned"}),
               call("read_file", {"path": "secrets.txt"}), "Done."]  # fmt: skip
    with FakeOpenAIServer(replies) as srv:
        run = task(monkeypatch, srv, buggy_repo, "--sandbox", "none", "--output-format", "json")
    assert run.code == 0
    assert not (buggy_repo / "pwned").exists()
    assert "not run in auto-edit mode" in tool_results(srv)[0]
    assert "hidden from the model" in tool_results(srv)[1]
    assert all("cloud-secret-value" not in r.headers.get("authorization", "") for r in srv.requests)
    assert run.err.count("may not set") == 2 and "'!' patterns" in run.err


def test_a_repository_git_config_runs_nothing_without_a_sandbox_choice(
    buggy_repo, xdg, monkeypatch
) -> None:
    marker = buggy_repo.parent / "ran"
    git(buggy_repo, "config", "core.fsmonitor", f"touch {marker}-fsmonitor; true")
    git(buggy_repo, "config", "filter.x.clean", f"sh -c 'touch {marker}-filter; cat'")
    (buggy_repo / ".gitattributes").write_text("*.py filter=x\n")
    hook = buggy_repo / ".git" / "hooks" / "post-index-change"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text(f"#!/bin/sh\ntouch {marker}-hook\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    os.utime(buggy_repo / "calc.py", (1_000_000_000, 1_000_000_000))  # make git re-read it
    with FakeOpenAIServer(["Explained."]) as srv:
        run = task(monkeypatch, srv, buggy_repo, "--output-format", "json")
    assert run.code == 0
    assert list(buggy_repo.parent.glob("ran-*")) == []


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("pytest -x tests", True),
        ("'pytest' -q", True),  # quoting does not change the program bash runs
        ("PATH=/tmp/evil pytest", False),  # an assignment is not the allowed command
        ("pytest; curl evil", False),
        ("pytest\ncurl evil", False),
        ("pytest $(curl evil)", False),
        ("pytest\x0bcurl", False),  # bash does not split on \v: one unknown word
        ("pytest\u00a0-x", False),  # nor on a no-break space
        ("pytest_evil", False),
        ("exec pytest", False),
        ("python -m pytest_evil", False),
    ],
)
def test_an_allowed_command_is_one_simple_command(command: str, allowed: bool) -> None:
    assert command_allowed(command, ["pytest", "python -m pytest"]) is allowed


# --- sessions and the audit log -------------------------------------------------------------


def test_resume_after_a_crash_mid_append_loses_nothing_later(buggy_repo, xdg, monkeypatch) -> None:
    with FakeOpenAIServer(["First."]) as srv:
        first = task(monkeypatch, srv, buggy_repo, "--output-format", "json")
    session_id = first.events()[-1]["session_id"]
    transcript = xdg / "data" / "glasscoder" / "sessions" / session_id / "transcript.jsonl"
    with transcript.open("a") as f:
        f.write('{"role": "user", "content": "half a li')
    for prompt, answer in (("second", "Second."), ("third", "Third.")):
        with FakeOpenAIServer([answer]) as srv:
            run = invoke(monkeypatch, "--resume", session_id, "-p", prompt, "--endpoint",
                             srv.base_url, "--output-format", "json")  # fmt: skip
        assert run.code == 0
    contents = [m["content"] for m in srv.requests[0].json["messages"][1:]]
    assert contents == ["Do the task.", "First.", "second", "Second.", "third"]


def test_audit_verify_on_missing_empty_and_torn_logs(buggy_repo, xdg, monkeypatch) -> None:
    with FakeOpenAIServer(["ok"]) as srv:
        session_id = task(monkeypatch, srv, buggy_repo, "--output-format", "json").events()[-1][
            "session_id"
        ]
    log = xdg / "data" / "glasscoder" / "sessions" / session_id / "audit.jsonl"
    whole = log.read_bytes()
    log.write_bytes(whole + b'{"seq": 2, "ts"')
    torn = invoke(monkeypatch, "audit", "verify", session_id)
    assert torn.code == 1 and "record 2 is incomplete" in torn.out
    log.unlink()
    missing = invoke(monkeypatch, "audit", "verify", session_id)
    assert missing.code == 1 and "FAILED: There is no audit log" in missing.out
    log.write_bytes(b"")
    # Known limit (see the report): an emptied log verifies; only a keyed head can catch it.
    assert invoke(monkeypatch, "audit", "verify", session_id).code == 0


# --- odd workspaces -------------------------------------------------------------------------


def test_odd_rule_files_hard_links_and_a_root_workspace(tmp_path, xdg) -> None:
    from glasscoder.workspace import Workspace

    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "sub" / ".gitignore").mkdir(parents=True)  # a directory where a rule file goes
    outside.mkdir()
    os.mkfifo(root / ".gitignore")  # reading it must not block
    (root / ".glasscoderignore").write_text("hidden.txt\n")
    (root / "hidden.txt").write_text("no")
    (outside / "target").write_text("OUTSIDE\n")
    os.link(outside / "target", root / "hardlink")
    ws = Workspace(root)
    assert list(ws.walk()) == [".glasscoderignore", "hardlink"]
    ws.write_text("hardlink", "new\n")  # the atomic rename replaces the link...
    assert (outside / "target").read_text() == "OUTSIDE\n"  # ...and never writes through it
    whole_disk = Workspace("/")  # the person's choice; glasscoder's own folders stay hidden
    assert whole_disk.is_ignored(str(xdg / "data" / "glasscoder").lstrip("/"))


def test_resuming_another_workspaces_session_is_refused(
    buggy_repo, tmp_path, xdg, monkeypatch
) -> None:
    with FakeOpenAIServer(["ok"]) as srv:
        session_id = task(monkeypatch, srv, buggy_repo, "--output-format", "json").events()[-1][
            "session_id"
        ]
    run = invoke(monkeypatch, "--resume", session_id, "--cwd", str(tmp_path), "--endpoint",
                 "http://127.0.0.1:1/v1")  # fmt: skip
    assert run.code == 2 and f"Session {session_id} belongs to {buggy_repo}" in run.err
