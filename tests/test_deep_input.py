"""Deeply nested input cannot crash a run or lose its session.

The real `glasscoder` command against a real server on 127.0.0.1: the model reads a file of
100,000 opening brackets, writes a JSON fixture nesting 900 levels, sends tool arguments that
nest 500 and 100,000 levels (as JSON and as Qwen3-Coder XML text) and a reply that is itself
brackets, and runs a command printing 50,000 nested objects.
Before, the first of these ended the run with "internal error (RecursionError)", no
JSON result, and `--resume` crashed the same way.
"""

import json
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall
from tests.helpers import xml_call
from tests.test_cli_e2e import audit_path, glasscoder

DEEP = "[" * 100_000
FIXTURE = "[" * 900 + "]" * 900  # valid JSON, below Python's own recursion limit
DEEP_OUTPUT = 'python3 -c "print(\'{\\"a\\": \' * 50000)"'  # command output: {"a": {"a": ...


def _deep_list(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _run(srv: FakeOpenAIServer, repo: Path, *args: str) -> dict:
    proc = glasscoder(*args, "--endpoint", srv.base_url, "--cwd", str(repo), "--sandbox", "none",
                      "--approval", "auto", "--output-format", "json", cwd=repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_a_deeply_nested_session_completes_and_resumes(buggy_repo: Path, xdg: Path) -> None:
    (buggy_repo / "deep.json").write_text(DEEP)
    replies = [
        FakeReply(tool_calls=[FakeToolCall("read_file", {"path": "deep.json"})]),
        FakeReply(tool_calls=[FakeToolCall("run_shell", {"command": DEEP_OUTPUT})]),
        FakeReply(
            tool_calls=[FakeToolCall("write_file", {"path": "fixture.json", "content": FIXTURE})]
        ),
        FakeReply(
            tool_calls=[FakeToolCall("read_file", {"path": "calc.py", "offset": _deep_list(500)})]
        ),
        FakeReply(tool_calls=[FakeToolCall("read_file", '{"path": ' + DEEP)]),
        DEEP + "\n" + xml_call("read_file", path="calc.py", limit=DEEP),
        "{" * 50_000 + " Done: the fixture is written.",
    ]
    with FakeOpenAIServer(replies) as srv:
        result = _run(srv, buggy_repo, "-p", "Write the deep fixture.")
        assert result["status"] == "done", result
        assert result["turns"] == 7 and result["result"].endswith("the fixture is written.")
        assert (buggy_repo / "fixture.json").read_text() == FIXTURE
        tool_results = [m for m in srv.requests[-1].json["messages"] if m["role"] == "tool"]
        assert tool_results[0]["content"].count("[") > 1000  # the file was read, as text
        assert tool_results[1]["content"].count('{"a": ') > 1000  # the command's output, as text
        assert "nested more than 100 levels deep" in tool_results[3]["content"]
        assert "not valid JSON" in tool_results[4]["content"]
        assert "must be an integer" in tool_results[5]["content"]
        srv.add("Resumed.")
        resumed = _run(srv, buggy_repo, "--resume", result["session_id"])
        assert resumed["status"] == "done" and resumed["result"] == "Resumed."
    verify = glasscoder("audit", "verify", cwd=buggy_repo)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert audit_path(xdg, result["session_id"]).stat().st_size > len(DEEP)
