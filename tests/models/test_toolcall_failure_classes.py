"""The tool-call failure classes seen in real Qwen3-Coder output, each with cases of our own:
what the model meant is recovered exactly, or the call is refused; never a wrong action."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glasscoder.agent.loop import Agent
from glasscoder.agent.session import Session
from glasscoder.guard.approval import Approval
from glasscoder.models.base import Reply, ToolCall, Usage
from glasscoder.models.toolcalls import coerce_arguments, parse_text_tool_calls, schemas_of
from glasscoder.tools.base import ToolContext, schema_for
from glasscoder.tools.registry import default_tools
from glasscoder.workspace import Workspace, WorkspaceError

SCHEMAS = schemas_of([schema_for(t) for t in default_tools()])


def calls(text: str) -> list[tuple[str, dict[str, Any], str | None]]:
    return [(c.name, c.arguments, c.error) for c in parse_text_tool_calls(text, SCHEMAS).calls]


def xml(name: str, newline: str = "\n", **params: str) -> str:
    body = "".join(f"<parameter={k}>{newline}{v}{newline}</parameter>{newline}"
                   for k, v in params.items())  # fmt: skip
    return f"<tool_call>{newline}<function={name}>{newline}{body}</function>{newline}</tool_call>"


# 1. CRLF output: the formatting newline is "\r\n"; the value itself is untouched.
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"path": "src/b.py", "content": "x = 1"}, {"path": "src/b.py", "content": "x = 1"}),
        ({"path": "lib/a.rb", "content": "def f\r\n  1\r\nend"},
         {"path": "lib/a.rb", "content": "def f\r\n  1\r\nend"}),
        ({"path": "main.go", "content": "package main\r\n"},
         {"path": "main.go", "content": "package main\r\n"}),
    ],
)  # fmt: skip
def test_crlf_output_keeps_no_stray_carriage_returns(params: dict, expected: dict) -> None:
    assert calls(xml("write_file", "\r\n", **params)) == [("write_file", expected, None)]


def test_the_workspace_refuses_control_characters_in_paths(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    for bad in ("\r\nsrc/b.py\r", "src/\tb.py", "a\x1b[2Jb.py"):
        with pytest.raises(WorkspaceError, match="control character"):
            workspace.write_text(bad, "x")
    assert list(tmp_path.iterdir()) == []


# 2. Malformed closers: the value ends at them, nothing of the tag leaks into it.
@pytest.mark.parametrize(
    "closer", ["</parameter", "</parameter/>", "</parameter>\n</parameter>", "</parameter >"]
)
@pytest.mark.parametrize(
    ("tool", "param", "value"),
    [("run_shell", "command", "npm test -- --watch=false"), ("read_file", "path", "src/app.ts"),
     ("grep", "pattern", "fn main\\(")],
)  # fmt: skip
def test_malformed_closers_end_the_value(closer: str, tool: str, param: str, value: str) -> None:
    text = (f"<tool_call>\n<function={tool}>\n<parameter={param}>\n{value}\n{closer}\n"
            "</function>\n</tool_call>")  # fmt: skip
    [(name, arguments, error)] = calls(text)
    assert (name, arguments[param], error) == (tool, value, None)


def test_a_closer_lookalike_inside_a_value_stays() -> None:
    content = 's = "</parameter>"\nprint(s)'
    [(_, arguments, error)] = calls(xml("write_file", path="t.py", content=content))
    assert arguments["content"] == content and error is None


# 3. A reply cut off by the token limit: none of its calls runs.
class _OneReply:
    def __init__(self, reply: Reply) -> None:
        self.replies = [reply, Reply(content="Stopping.", tool_calls=[], usage=Usage())]

    def complete(self, messages: list[Any], tools: list[Any], on_text: Any = None) -> Reply:
        return self.replies.pop(0)


def test_calls_from_a_cut_off_reply_are_not_run(tmp_path: Path) -> None:
    half = ToolCall(id="c1", name="write_file", arguments={"path": "big.py", "content": "def f("})
    reply = Reply(content="", tool_calls=[half], usage=Usage(), finish_reason="length")
    session = Session.create(tmp_path / "sessions", {"workspace": str(tmp_path)})
    (tmp_path / "ws").mkdir()
    ctx = ToolContext(Workspace(tmp_path / "ws"), None)
    agent = Agent(_OneReply(reply), default_tools(), ctx, Approval("auto"), session)
    outcome = agent.run("write big.py")
    assert not (tmp_path / "ws" / "big.py").exists()
    result = next(m for m in session.messages if m.get("role") == "tool")
    assert "cut off by the output token limit" in result["content"]
    assert outcome.status == "done"


# 4. `<function>NAME</function>` followed by JSON arguments.
@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n<function>read_file</function>\n{"path": "src/a.py"}\n</tool_call>',
        '<function>read_file</function>\n{"path": "src/a.py"}',
        '<tool_call><function> read_file </function>{"path": "src/a.py"}</tool_call>',
    ],
)
def test_function_tag_then_json_is_a_call(text: str) -> None:
    assert calls(text) == [("read_file", {"path": "src/a.py"}, None)]


def test_a_function_tag_named_in_prose_is_not_a_call() -> None:
    text = "Wrap the name in <function>read_file</function> tags, then the arguments."
    assert calls(text) == []


# 5. `<parameter=NAME=VALUE</parameter>`.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<tool_call>\n<function=read_file>\n<parameter=path=src/a.py</parameter>\n</function>"
         "\n</tool_call>", {"path": "src/a.py"}),
        ("<tool_call>\n<function=run_shell>\n<parameter=command=go test ./...</parameter>\n"
         "</function>\n</tool_call>", {"command": "go test ./..."}),
    ],
)  # fmt: skip
def test_name_equals_value_in_the_tag(text: str, expected: dict) -> None:
    assert calls(text) == [(next(iter(c for c in ("read_file", "run_shell") if c in text)),
                            expected, None)]  # fmt: skip


# 6. JSON encoded twice; null for an optional parameter.
def test_json_text_inside_a_json_string_is_decoded_once_more() -> None:
    twice = json.dumps(json.dumps(["src/a.py", "src/b.py"]))
    args, error = coerce_arguments("repo_map", {"focus": twice}, SCHEMAS)
    assert error is None and args["focus"] == ["src/a.py", "src/b.py"]


@pytest.mark.parametrize("null", [None, "null", " null "])
def test_null_for_an_optional_parameter_means_not_given(null: Any) -> None:
    args, error = coerce_arguments("grep", {"pattern": "TODO", "max_results": null}, SCHEMAS)
    assert (args, error) == ({"pattern": "TODO"}, None)
    args, error = coerce_arguments("read_file", {"path": None}, SCHEMAS)
    assert error is not None  # a required one is still missing


# 7. A call in a fenced example that names no tool is prose.
@pytest.mark.parametrize("fence", ["```", "~~~", "```xml"])
def test_a_fenced_example_of_an_unknown_tool_is_prose(fence: str) -> None:
    example = xml("deploy_service", service="api")
    text = f"To call a tool, write:\n{fence}\n{example}\n{fence[:3]}\nThat is all."
    parsed = parse_text_tool_calls(text, SCHEMAS)
    assert parsed.calls == [] and "deploy_service" in parsed.text


def test_a_fenced_call_of_a_real_tool_still_counts() -> None:
    text = f"```\n{xml('read_file', path='README.md')}\n```"
    assert calls(text) == [("read_file", {"path": "README.md"}, None)]
