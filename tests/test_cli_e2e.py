"""End to end: the real `glasscoder` command against a real HTTP server on 127.0.0.1.

The server replays recorded Qwen3-Coder-style replies; this proves the wiring (flags, loop,
tools, egress, audit, output), not how well any real model does the task.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall, unused_port
from tests.helpers import xml_call

# What Qwen3-Coder writes when the server has no tool parser: tool calls as text in content.
TEXT_REPLIES = [
    "I'll start by reading the code under test.\n\n" + xml_call("read_file", path="calc.py"),
    "`add` subtracts. Fixing it.\n"
    + xml_call(
        "edit_file", path="calc.py", old_string="    return a - b", new_string="    return a + b"
    ),
    xml_call("run_shell", command="python -m pytest -q test_calc.py"),
    "Fixed `add` in calc.py (it subtracted); test_calc passes.",
]
# The same session with a server that parses tool calls itself (native tool_calls).
NATIVE_REPLIES = [
    FakeReply(tool_calls=[FakeToolCall("read_file", {"path": "calc.py"})]),
    FakeReply(
        tool_calls=[
            FakeToolCall(
                "edit_file",
                {
                    "path": "calc.py",
                    "old_string": "    return a - b",
                    "new_string": "    return a + b",
                },
            )
        ]
    ),
    FakeReply(tool_calls=[FakeToolCall("run_shell", {"command": "python -m pytest -q"})]),
    "Fixed `add` in calc.py (it subtracted); test_calc passes.",
]


def glasscoder(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glasscoder", *args],
        cwd=cwd, input=stdin or "", capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )  # fmt: skip


def run_task(
    srv: FakeOpenAIServer, repo: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return glasscoder("-p", "Make test_calc pass.", "--endpoint", srv.base_url, "--cwd",
                      str(repo), *extra, cwd=repo, env=env)  # fmt: skip


def audit_path(xdg: Path, session_id: str) -> Path:
    return xdg / "data" / "glasscoder" / "sessions" / session_id / "audit.jsonl"


@pytest.mark.parametrize("replies", [TEXT_REPLIES, NATIVE_REPLIES], ids=["xml-text", "native"])
@pytest.mark.parametrize("stream", [True, False], ids=["sse", "plain"])
def test_fixes_failing_test_end_to_end(buggy_repo, xdg, replies, stream) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'stream = {str(stream).lower()}\nallow_commands = ["python -m pytest"]\n')
    with FakeOpenAIServer(replies) as srv:
        proc = run_task(srv, buggy_repo, "--sandbox", "none", "--output-format", "json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "done" and result["turns"] == 4
    assert result["files_changed"] == ["calc.py"]
    assert result["result"].startswith("Fixed `add`")
    assert result["usage"] == {"prompt_tokens": 44, "completion_tokens": 28}
    assert all(bool(r.json.get("stream")) is stream for r in srv.requests)
    tool_results = [m for m in srv.requests[-1].json["messages"] if m["role"] == "tool"]
    assert "1 passed" in tool_results[-1]["content"]
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=buggy_repo, capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout

    verify = glasscoder("audit", "verify", result["session_id"], cwd=buggy_repo)
    assert verify.returncode == 0 and "ok (9 records)" in verify.stdout
    log = audit_path(xdg, result["session_id"])
    sent = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["kind"] for r in sent] == ["notice"] + ["request", "response"] * 4
    assert "without a sandbox" in sent[0]["message"]
    data = bytearray(log.read_bytes())
    data[data.index(b"Make test_calc pass")] ^= 0x01  # one changed byte in the first request
    log.write_bytes(bytes(data))
    tampered = glasscoder("audit", "verify", result["session_id"], cwd=buggy_repo)
    assert tampered.returncode == 1 and "FAILED at record 1" in tampered.stdout


def test_audit_log_matches_what_the_server_received(buggy_repo, xdg) -> None:
    with FakeOpenAIServer(["Nothing to do."]) as srv:
        proc = run_task(srv, buggy_repo, "--output-format", "json")
    session_id = json.loads(proc.stdout)["session_id"]
    show = glasscoder("audit", "show", session_id, cwd=buggy_repo)
    assert show.returncode == 0
    assert "Make test_calc pass." in show.stdout and "tools: read_file" in show.stdout
    records = [json.loads(x) for x in audit_path(xdg, session_id).read_text().splitlines()]
    assert records[0]["body"] == json.loads(srv.requests[0].body)


def test_stream_json_events_and_text_output(buggy_repo, xdg) -> None:
    with FakeOpenAIServer([*TEXT_REPLIES[:1], "All good."]) as srv:
        proc = run_task(srv, buggy_repo, "--output-format", "stream-json")
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["type"] for e in events] == ["system", "assistant", "tool_result", "assistant",
                                           "notice", "result"]  # fmt: skip
    assert events[0]["subtype"] == "init" and "read_file" in events[0]["tools"]
    port = srv.base_url.split(":")[2].split("/")[0]
    assert events[4]["message"].startswith("audit: 2 requests")  # what left, and where to
    assert (
        f"127.0.0.1:{port}" in events[4]["message"]
        and "no other destination" in events[4]["message"]
    )
    assert events[5]["egress"]["requests"] == 2 and events[5]["egress"]["refused"] == []
    assert events[1]["tool_calls"][0]["function"] == {
        "name": "read_file",
        "arguments": {"path": "calc.py"},
    }
    assert "return a - b" in events[2]["content"]
    with FakeOpenAIServer([*TEXT_REPLIES[:1], "All good."]) as srv:
        text = run_task(srv, buggy_repo)
    assert text.returncode == 0
    assert "I'll start by reading the code under test." in text.stdout
    assert "All good." in text.stdout and "<tool_call>" not in text.stdout + text.stderr
    assert "> read_file calc.py" in text.stderr


# glasscoder with the landlock fallback reported missing, as on a kernel without Landlock.
NO_LANDLOCK = ("import glasscoder.sandbox.choose as c; c.landlock_status = lambda: "
               "c.Status(False, 'Landlock is not enabled'); from glasscoder.cli.main import main; "
               "main()")  # fmt: skip


def test_commands_are_refused_when_no_sandbox_is_available(buggy_repo, xdg, tmp_path) -> None:
    # The default (auto) is bwrap; a PATH without it is a machine where bwrap is not installed.
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    replies = [xml_call("run_shell", command="touch pwned"), "I could not run it."]
    with FakeOpenAIServer(replies) as srv:
        proc = subprocess.run(
            [sys.executable, "-c", NO_LANDLOCK, "-p", "Go.", "--endpoint", srv.base_url,
             "--approval", "auto", "--output-format", "json"],
            cwd=buggy_repo, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PATH": str(bin_dir)},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not (buggy_repo / "pwned").exists()
    refusal = srv.requests[1].json["messages"][-1]["content"]
    assert "no sandbox" in refusal and "--sandbox none" in refusal
    assert "bubblewrap (bwrap) is not installed" in proc.stderr
    assert "apt-get install bubblewrap" in proc.stderr
    assert "Landlock is not enabled" in proc.stderr


def test_without_bwrap_commands_run_under_the_announced_landlock_fallback(
    buggy_repo, xdg, tmp_path
) -> None:
    from glasscoder.sandbox.choose import landlock_status

    if not landlock_status().ok:
        pytest.skip(f"no landlock here: {landlock_status().problem}")
    bin_dir = tmp_path / "bin-without-bwrap"
    bin_dir.mkdir()
    for tool in ("git", "sh", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    command = "cat calc.py; echo x > .git/config"
    replies = [xml_call("run_shell", command=command), "Done."]
    with FakeOpenAIServer(replies) as srv:
        proc = run_task(srv, buggy_repo, "--approval", "auto", "--output-format", "stream-json",
                        env={"PATH": str(bin_dir)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["sandbox"] for e in events if e.get("subtype") == "init"] == ["landlock"]
    notices = " ".join(e["message"] for e in events if e["type"] == "notice")
    assert "landlock fallback, which protects less than bwrap" in notices
    assert "apt-get install bubblewrap" in notices
    result = srv.requests[1].json["messages"][-1]["content"]
    assert "return a - b" in result and "Permission denied" in result
    assert "[core]" in (buggy_repo / ".git" / "config").read_text()


def test_resume_continues_the_saved_conversation(buggy_repo, xdg) -> None:
    with FakeOpenAIServer(["First answer."]) as srv:
        first = json.loads(run_task(srv, buggy_repo, "--output-format", "json").stdout)
    with FakeOpenAIServer(["Second answer."]) as srv:
        proc = glasscoder("--resume", first["session_id"], "-p", "And now?", "--endpoint",
                          srv.base_url, "--output-format", "json", cwd=buggy_repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    messages = srv.requests[0].json["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "First answer." and messages[3]["content"] == "And now?"
    assert json.loads(proc.stdout)["session_id"] == first["session_id"]
    verify = glasscoder("audit", "verify", first["session_id"], cwd=buggy_repo)
    assert verify.returncode == 0, verify.stdout


def test_max_turns_exits_1(buggy_repo, xdg) -> None:
    calls = [xml_call("read_file", path="calc.py", offset=str(i + 1)) for i in range(3)]
    with FakeOpenAIServer(calls) as srv:
        proc = run_task(srv, buggy_repo, "--max-turns", "2", "--output-format", "json")
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert (result["status"], result["reason"], result["turns"]) == ("failed", "max_turns", 2)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-p", "x", "--endpoint", f"http://127.0.0.1:{unused_port()}/v1"], 3,
         "Cannot reach the model endpoint"),
        (["-p", "x"], 2, "No model endpoint configured"),
        (["-p", "x", "--endpoint", "localhost:8000"], 2, "must be an http"),
        (["-p", "x", "--endpoint", "http://:8000/v1"], 2, "with a host"),
        (["-p", "x", "--endpoint", "http://127.0.0.1:port/v1"], 2, "with a host"),
        (["-p", "x", "--endpoint", "http://127.0.0.1:1/v1", "--model", " "], 2, "model must"),
        (["-p", "x", "--max-turns", "zero"], 2, "is not a valid integer"),
        (["-p", "x", "--no-such-flag"], 2, "No such option"),
        (["-p", "x", "--sandbox", "docker", "--endpoint", "http://127.0.0.1:1/v1"], 2,
         "Unknown sandbox"),
        (["--resume", "nope", "--endpoint", "http://127.0.0.1:1/v1"], 2, "not a session id"),
        (["audit", "show", "20990101-000000-abcdef"], 2, "No session"),
    ],
)  # fmt: skip
def test_user_errors_are_one_clear_line(buggy_repo, xdg, args, code, message) -> None:
    proc = glasscoder(*args, "--cwd", str(buggy_repo), cwd=buggy_repo) if args[0] == "-p" \
        else glasscoder(*args, cwd=buggy_repo)  # fmt: skip
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_dead_endpoint_in_json_mode_reports_error_status(buggy_repo, xdg) -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    proc = glasscoder("-p", "x", "--endpoint", url, "--output-format", "json", cwd=buggy_repo)
    assert proc.returncode == 3
    result = json.loads(proc.stdout)
    assert result["status"] == "error" and "Cannot reach" in result["error"]


def test_bad_user_config_is_reported_without_traceback(buggy_repo, xdg) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_turns = [\n")
    proc = glasscoder("-p", "x", "--endpoint", "http://127.0.0.1:1/v1", cwd=buggy_repo)
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_project_instructions_reach_the_system_prompt(buggy_repo, xdg) -> None:
    (buggy_repo / "AGENTS.md").write_text("Always run the tests with `make check`.\n")
    with FakeOpenAIServer(["ok"]) as srv:
        run_task(srv, buggy_repo)
    system = srv.requests[0].json["messages"][0]
    assert system["role"] == "system" and "make check" in system["content"]


def test_refused_commands_are_named_in_the_result(buggy_repo, xdg) -> None:
    """auto-edit refuses commands headless; the run may end `done` with the model claiming the
    tests pass, so the result itself names what was refused (JSON and text)."""
    replies = [xml_call("run_shell", command="python -m pytest -q"), "The tests pass now."]
    with FakeOpenAIServer(replies) as srv:
        proc = run_task(srv, buggy_repo, "--sandbox", "none", "--approval", "auto-edit",
                        "--output-format", "json")  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["status"] == "done"
    assert result["refused"] == [{
        "tool": "run_shell", "call": "python -m pytest -q",
        "reason": "Commands are not run in auto-edit mode unless the user allowed them in "
                  "config (allowed: none)",
    }]  # fmt: skip
    with FakeOpenAIServer(replies) as srv:
        proc = run_task(srv, buggy_repo, "--sandbox", "none", "--approval", "auto-edit")
    assert (
        "1 tool call(s) refused, so their work did not happen: run_shell python -m pytest"
        in proc.stderr
    )


def test_nothing_refused_gives_an_empty_list(buggy_repo, xdg) -> None:
    with FakeOpenAIServer(["Nothing to do."]) as srv:
        proc = run_task(srv, buggy_repo, "--output-format", "json")
    assert json.loads(proc.stdout)["refused"] == []
    with FakeOpenAIServer(["Nothing to do."]) as srv:
        assert "refused" not in run_task(srv, buggy_repo).stderr


def test_by_default_commands_run_in_the_sandbox_without_asking(buggy_repo, xdg) -> None:
    """The sandbox is the protection: a headless run's tests really run (not refused)."""
    with FakeOpenAIServer(NATIVE_REPLIES) as srv:
        proc = run_task(srv, buggy_repo, "--output-format", "json")
    result = json.loads(proc.stdout)
    assert proc.returncode == 0 and result["refused"] == [], proc.stderr
    tool_results = [m for m in srv.requests[-1].json["messages"] if m["role"] == "tool"]
    assert "1 passed" in tool_results[-1]["content"]
    assert (buggy_repo / "__pycache__").is_dir()  # the test run left its caches ...
    assert result["files_changed"] == ["calc.py"]  # ... which are no change of the task's


def test_a_task_as_first_argument_without_a_terminal_runs_headless(buggy_repo, xdg) -> None:
    with FakeOpenAIServer(["Explained."]) as srv:
        proc = glasscoder("explain this repo", "--endpoint", srv.base_url, "--output-format",
                          "json", cwd=buggy_repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == "Explained."
    assert srv.requests[0].json["messages"][1]["content"].startswith("explain this repo")
    typo = glasscoder("reveiw", cwd=buggy_repo)  # one word close to a command: not a task
    assert typo.returncode == 2 and "No such command" in typo.stderr


def test_continue_takes_this_workspaces_latest_session(buggy_repo, xdg, tmp_path) -> None:
    with FakeOpenAIServer(["First answer."]) as srv:
        first = json.loads(run_task(srv, buggy_repo, "--output-format", "json").stdout)
    other = tmp_path / "other"
    other.mkdir()
    with FakeOpenAIServer(["Elsewhere."]) as srv:
        glasscoder("-p", "x", "--endpoint", srv.base_url, cwd=other)
    with FakeOpenAIServer(["Second answer."]) as srv:
        proc = glasscoder("-c", "-p", "And now?", "--endpoint", srv.base_url,
                          "--output-format", "json", cwd=buggy_repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["session_id"] == first["session_id"]
    assert srv.requests[0].json["messages"][2]["content"] == "First answer."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume"], "--resume without an id needs a terminal"),
        (["-c", "-p", "x"], "No earlier session in this workspace"),
        (["-c", "--resume", "20990101-000000-abcdef"], "not both"),
    ],
)
def test_continuing_without_a_terminal_errors_clearly(buggy_repo, xdg, args, message) -> None:
    proc = glasscoder(*args, "--endpoint", "http://127.0.0.1:1/v1", cwd=buggy_repo)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
