"""Tool calls written as text: Qwen3-Coder XML, Hermes JSON, and what models get wrong."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from glasscoder.models.toolcalls import (
    ParsedText,
    ToolSchemas,
    coerce_arguments,
    has_tool_call_markup,
    parse_text_tool_calls,
)
from tests.helpers import xml_call as xml

SCHEMAS: ToolSchemas = {
    "read_file": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
        },
        "required": ["path"],
    },
    "write_file": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"],
    },
    "edit_file": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "old_string": {"type": "string"},
            "new_string": {"type": "string"},
            "replace_all": {"type": "boolean"},
        },
        "required": ["path", "old_string", "new_string"],
    },
    "run_command": {
        "type": "object",
        "properties": {
            "command": {"type": "string"},
            "timeout": {"type": ["integer", "null"]},
            "env": {"type": "object"},
        },
        "required": ["command"],
    },
    "search": {
        "type": "object",
        "properties": {
            "pattern": {"type": "string"},
            "paths": {"type": "array", "items": {"type": "string"}},
            "max_results": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "ratio": {"type": "number"},
            "note": {},
        },
        "required": ["pattern"],
    },
}


def parse(content: str) -> ParsedText:
    return parse_text_tool_calls(content, SCHEMAS)


def one_call(content: str) -> tuple[str, dict[str, Any]]:
    """The single call in `content`, which must have parsed cleanly."""
    parsed = parse(content)
    assert len(parsed.calls) == 1, parsed
    call = parsed.calls[0]
    assert call.error is None, call.error
    return call.name, call.arguments


# --- Qwen3-Coder XML, well formed -------------------------------------------------------------


def test_single_call_with_text_before_and_after() -> None:
    content = (
        "I'll start by reading the module.\n\n"
        "<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/calc.py\n</parameter>\n"
        "<parameter=offset>\n10\n</parameter>\n</function>\n</tool_call>\n\n"
        "Then I will fix it."
    )
    parsed = parse(content)
    assert parsed.text == "I'll start by reading the module.\n\n\n\nThen I will fix it."
    [call] = parsed.calls
    assert (call.id, call.name, call.error) == ("call_0", "read_file", None)
    assert call.arguments == {"path": "src/calc.py", "offset": 10}


def test_multiline_code_keeps_indentation_and_blank_lines() -> None:
    code = (
        "    def add(a, b):\n        # indented first line must survive\n\n        return a + b\n"
    )
    name, args = one_call(xml("write_file", path="calc.py", content=code))
    assert name == "write_file"
    assert args["content"] == code


def test_html_value_with_angle_brackets_and_closing_tags() -> None:
    html = (
        '<!doctype html>\n<html>\n  <body>\n    <p class="x">1 < 2 && 3 > 2</p>\n'
        "    <script>if (a<b) { document.write('</p>'); }</script>\n  </body>\n</html>"
    )
    assert one_call(xml("write_file", path="index.html", content=html))[1]["content"] == html


def test_parameter_lookalikes_inside_code_strings_stay_in_the_value() -> None:
    code = (
        'CLOSE = "</parameter>"\n'
        'OPEN = "<parameter=path>"\n'
        "def render(tag):\n"
        '    return f"</parameter>{tag}</function>"\n'
        'if line.startswith("</parameter"):\n'
        '    DOC = """\n'
        "</parameter>\n"
        'is how a value ends"""\n'
    )
    assert one_call(xml("write_file", path="fmt.py", content=code))[1]["content"] == code


EXAMPLE = "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>"


@pytest.mark.parametrize(
    "content",
    [
        EXAMPLE,
        EXAMPLE + "\n</tool_call>",
        f"# Format\n\nA call looks like:\n\n{EXAMPLE}\n</tool_call>\n\nThat is all.\n",
        f"Two calls:\n{EXAMPLE}\n</tool_call>\n{EXAMPLE}\n</tool_call>\nEnd.",
        'TEXT = """\n<tool_call>\n{"name": "read_file", "arguments": {}}\n</tool_call>\n"""\n',
        "<tool_call> tags wrap each call.\n<function=NAME> comes first.\n",
    ],
)
def test_value_holding_whole_example_calls(content: str) -> None:
    # Writing docs or tests about tool calls must not run the examples or cut the file short.
    assert one_call(xml("write_file", path="doc.md", content=content)) == (
        "write_file",
        {"path": "doc.md", "content": content},
    )


def test_chained_unclosed_calls_take_bounded_time() -> None:
    # Each value here could hold the next call as an example; following them all is quadratic.
    content = "<tool_call>\n<function=write_file>\n<parameter=content>\n" * 1000
    started = time.perf_counter()
    parsed = parse(content)
    assert time.perf_counter() - started < 5
    assert [c.arguments for c in parsed.calls] == [{"content": ""}] * 1000


def test_xml_file_with_function_elements_stays_in_the_value() -> None:
    doc = '<functions>\n<function name="f">\n  <arg/>\n</function>\n<function name="g"/>\n'
    doc += "</functions>"
    _, args = one_call(xml("write_file", path="funcs.xml", content=doc))
    assert args == {"path": "funcs.xml", "content": doc}


def test_several_calls_in_order_with_text_between() -> None:
    content = (
        "First the test.\n"
        + xml("read_file", path="test_calc.py")
        + "\nNow the code.\n"
        + xml("read_file", path="calc.py")
        + "\n"
        + xml("run_command", command="pytest -q")
        + "\nDone."
    )
    parsed = parse(content)
    assert [c.id for c in parsed.calls] == ["call_0", "call_1", "call_2"]
    assert [c.arguments for c in parsed.calls] == [
        {"path": "test_calc.py"},
        {"path": "calc.py"},
        {"command": "pytest -q"},
    ]
    assert parsed.text == "First the test.\n\nNow the code.\n\n\nDone."


def test_id_prefix_is_used() -> None:
    content = xml("read_file", path="a") + xml("read_file", path="b")
    calls = parse_text_tool_calls(content, SCHEMAS, id_prefix="t3").calls
    assert [c.id for c in calls] == ["t3_0", "t3_1"]


def test_value_on_the_same_line_as_its_tags() -> None:
    content = (
        "<tool_call><function=read_file><parameter=path>a.py</parameter></function></tool_call>"
    )
    assert one_call(content) == ("read_file", {"path": "a.py"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\nfoo\n", "foo"),
        ("\n\nfoo\n\n", "\nfoo\n"),
        ("\n  foo  \n", "  foo  "),
        ("\n\n", ""),
        ("\n", ""),
        ("foo", "foo"),
        ("\n\n\n\n", "\n\n"),
        ("\nfoo\r\n\n", "foo\r\n"),
    ],
)
def test_exactly_one_newline_is_stripped_each_side(value: str, expected: str) -> None:
    content = "<tool_call>\n<function=edit_file>\n<parameter=path>\na.py\n</parameter>\n"
    content += (
        f"<parameter=old_string>{value}</parameter>\n<parameter=new_string>\nx\n</parameter>\n"
    )
    content += "</function>\n</tool_call>"
    assert one_call(content)[1]["old_string"] == expected


@pytest.mark.parametrize(
    ("function_tag", "parameter_tag"),
    [
        ("<function = read_file>", "<parameter = path>"),
        ('<function="read_file">', '<parameter="path">'),
        ("<function='read_file'>", "<parameter='path'>"),
        ("<function=\n  read_file  >", "<parameter= path >"),
        ("<function=read_file", "<parameter=path"),
    ],
)
def test_tag_spelling_variants(function_tag: str, parameter_tag: str) -> None:
    content = f"<tool_call>\n{function_tag}\n{parameter_tag}\na.py\n</parameter>\n"
    content += "</function>\n</tool_call>"
    assert one_call(content) == ("read_file", {"path": "a.py"})


# --- Qwen3-Coder XML, malformed ---------------------------------------------------------------


def test_missing_tool_call_opener_bare_function() -> None:
    content = (
        "Reading it.\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>\nok"
    )
    parsed = parse(content)
    assert [(c.name, c.arguments, c.error) for c in parsed.calls] == [
        ("read_file", {"path": "a.py"}, None)
    ]
    assert parsed.text == "Reading it.\n\nok"


def test_missing_opener_with_orphan_closer() -> None:
    content = (
        "<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>\n</tool_call>"
    )
    parsed = parse(content)
    assert [c.arguments for c in parsed.calls] == [{"path": "a.py"}]
    assert parsed.text == ""


def test_two_bare_functions() -> None:
    content = (
        "<function=read_file>\n<parameter=path>\na\n</parameter>\n</function>\n"
        "<function=read_file>\n<parameter=path>\nb\n</parameter>\n</function>"
    )
    assert [c.arguments["path"] for c in parse(content).calls] == ["a", "b"]


def test_missing_parameter_close_before_next_parameter() -> None:
    content = (
        "<tool_call>\n<function=edit_file>\n<parameter=path>\nsrc/a.py\n"
        "<parameter=old_string>\n    return a - b\n</parameter>\n"
        "<parameter=new_string>\n    return a + b\n</parameter>\n</function>\n</tool_call>"
    )
    assert one_call(content)[1] == {
        "path": "src/a.py",
        "old_string": "    return a - b",
        "new_string": "    return a + b",
    }


def test_missing_parameter_close_before_function_close() -> None:
    content = "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</function>\n</tool_call>"
    assert one_call(content)[1] == {"path": "a.py"}


def test_missing_parameter_close_before_tool_call_close() -> None:
    content = "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</tool_call>\nthanks"
    parsed = parse(content)
    assert parsed.calls[0].arguments == {"path": "a.py"}
    assert parsed.text == "thanks"


def test_missing_every_closer_value_runs_to_end() -> None:
    content = "<tool_call>\n<function=write_file>\n<parameter=path>\na.py\n</parameter>\n"
    content += "<parameter=content>\nprint('hi')\n"
    assert one_call(content)[1] == {"path": "a.py", "content": "print('hi')"}


@pytest.mark.parametrize(
    "ending",
    [
        "</parameter>\n</function>\n",  # no </tool_call>
        "</parameter>\n",  # stopped at a stop token after the value
        "</parameter>\n</tool_call>",  # no </function>
        "</parameter>",
    ],
)
def test_missing_function_and_tool_call_closers(ending: str) -> None:
    content = "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n" + ending
    parsed = parse(content)
    assert [(c.arguments, c.error) for c in parsed.calls] == [({"path": "a.py"}, None)]
    assert parsed.text == ""


def test_missing_tool_call_close_then_text_and_next_call() -> None:
    content = (
        "<tool_call>\n<function=read_file>\n<parameter=path>\na\n</parameter>\n</function>\n"
        "Next:\n" + xml("read_file", path="b")
    )
    parsed = parse(content)
    assert [c.arguments["path"] for c in parsed.calls] == ["a", "b"]
    assert parsed.text == "Next:"


def test_stopped_after_value_then_text_then_next_call() -> None:
    content = (
        "<tool_call>\n<function=read_file>\n<parameter=path>\na\n</parameter>\n"
        "I'll also check the tests.\n" + xml("read_file", path="b")
    )
    parsed = parse(content)
    assert [(c.arguments, c.error) for c in parsed.calls] == [
        ({"path": "a"}, None),
        ({"path": "b"}, None),
    ]
    assert parsed.text == "I'll also check the tests."


def test_value_missing_every_closer_then_next_call() -> None:
    content = "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n" + xml(
        "write_file", path="b.py", content="x = 1\n"
    )
    parsed = parse(content)
    assert [(c.name, c.arguments, c.error) for c in parsed.calls] == [
        ("read_file", {"path": "a.py"}, None),
        ("write_file", {"path": "b.py", "content": "x = 1\n"}, None),
    ]


def test_stray_text_inside_the_block_is_dropped() -> None:
    content = (
        "<tool_call>\n<function=read_file>\n<parameter=path>\na\n</parameter>\n</function>\n"
        "(waiting)\n</tool_call>\nafter"
    )
    parsed = parse(content)
    assert parsed.calls[0].arguments == {"path": "a"}
    assert parsed.text == "after"


def test_cut_off_right_after_opener_is_an_error() -> None:
    parsed = parse("Let me check.\n<tool_call>\n")
    [call] = parsed.calls
    assert call.error == "The tool call is empty."
    assert parsed.text == "Let me check."


def test_empty_block_is_an_error() -> None:
    [call] = parse("<tool_call></tool_call>").calls
    assert call.error == "The tool call is empty."


def test_doubled_opener_is_dropped() -> None:
    parsed = parse("<tool_call>\n" + xml("read_file", path="a"))
    assert [c.arguments for c in parsed.calls] == [{"path": "a"}]
    assert parsed.text == ""


def test_function_without_name() -> None:
    [call] = parse("<tool_call>\n<function=>\n<parameter=path>\na\n</parameter>\n</function>").calls
    assert call.name == ""
    assert call.arguments == {"path": "a"}
    assert call.error == "The tool call has no function name: write <function=NAME>."


def test_parameter_given_twice() -> None:
    [call] = parse(
        xml("read_file", path="a").replace(
            "</function>", "<parameter=path>\nb\n</parameter>\n</function>"
        )
    ).calls
    assert call.arguments == {"path": "a"}
    assert call.error == "Parameter 'path' was given more than once."


def test_parameter_without_name() -> None:
    content = "<function=read_file>\n<parameter=path>\na\n</parameter>\n"
    content += "<parameter=>\nb\n</parameter>\n</function>"
    [call] = parse(content).calls
    assert call.error == "A parameter has no name: write <parameter=NAME>."


# --- Hermes JSON ------------------------------------------------------------------------------


def test_hermes_call() -> None:
    call = '{"name": "read_file", "arguments": {"path": "a.py", "limit": 5}}'
    content = f"Reading.\n<tool_call>\n{call}\n</tool_call>"
    parsed = parse(content)
    assert parsed.text == "Reading."
    assert [(c.name, c.arguments, c.error) for c in parsed.calls] == [
        ("read_file", {"path": "a.py", "limit": 5}, None)
    ]


def test_hermes_parameters_key_and_string_arguments() -> None:
    content = (
        '<tool_call>{"name": "read_file", "parameters": {"path": "a"}}</tool_call>\n'
        '<tool_call>{"name": "read_file", '
        '"arguments": "{\\"path\\": \\"b\\", \\"offset\\": \\"3\\"}"}</tool_call>'
    )
    assert [c.arguments for c in parse(content).calls] == [
        {"path": "a"},
        {"path": "b", "offset": 3},
    ]


def test_hermes_openai_style_function_object() -> None:
    call = '{"type": "function", "function": {"name": "read_file", "arguments": {"path": "a"}}}'
    content = f"<tool_call>{call}</tool_call>"
    assert one_call(content) == ("read_file", {"path": "a"})


def test_hermes_value_containing_closing_tag() -> None:
    code = 'END = "</tool_call>"\nprint("<tool_call>")\n'
    arguments = json.dumps({"path": "t.py", "content": code})
    content = f'<tool_call>{{"name": "write_file", "arguments": {arguments}}}</tool_call>'
    assert one_call(content)[1]["content"] == code


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "read_file", "arguments": {"path": "a.py", "limit": 5,},}',  # trailing commas
        "{'name': 'read_file', 'arguments': {'path': 'a.py', 'limit': 5}}",  # Python dict
        '{"name": "read_file", "arguments": {"path": "a.py", "limit": 5}',  # one brace short
        '{"name": "read_file", "arguments": {"path": "a.py", "limit": 5',  # two braces short
    ],
)
def test_hermes_repairs(body: str) -> None:
    assert one_call(f"<tool_call>\n{body}\n</tool_call>") == (
        "read_file",
        {"path": "a.py", "limit": 5},
    )


def test_hermes_trailing_comma_with_json_literals() -> None:
    # Neither json nor ast.literal_eval reads this as it is: `true` is not Python.
    args = '{"path": "a", "old_string": "x", "new_string": null, "replace_all": true,}'
    content = f'<tool_call>{{"name": "edit_file", "arguments": {args}}}</tool_call>'
    [call] = parse(content).calls
    assert call.arguments == {
        "path": "a",
        "old_string": "x",
        "new_string": None,
        "replace_all": True,
    }
    assert call.error == "Parameter 'new_string' of 'edit_file' must be a string, not 'null'."


@pytest.mark.parametrize("value", [None, ["a"], {"a": 1}])
def test_null_array_or_object_is_not_silently_made_text(value: Any) -> None:
    args, error = coerce_arguments("write_file", {"path": "a", "content": value}, SCHEMAS)
    assert args["content"] == value
    assert (
        error == f"Parameter 'content' of 'write_file' must be a string, not {json.dumps(value)!r}."
    )


def test_hermes_missing_brace_and_closer_at_end_of_text() -> None:
    assert one_call('<tool_call>{"name": "read_file", "arguments": {"path": "a"}')[1] == {
        "path": "a"
    }


def test_hermes_unrepairable_json_explains_and_shows_the_start() -> None:
    body = '{"name": "write_file", "arguments": {"path": "a.py" "content": "' + "x" * 300 + '"}}'
    parsed = parse(f"Writing.\n<tool_call>{body}</tool_call>\nDone.")
    [call] = parsed.calls
    assert parsed.text == "Writing.\n\nDone."
    assert call.name == ""
    assert call.error is not None
    assert call.error.startswith("The tool call is not valid JSON (Expecting ',' delimiter")
    assert 'It began: \'{"name": "write_file", "arguments": {"path": "a.py" "content' in call.error
    assert "x" * 300 not in call.error


def test_hermes_without_name() -> None:
    [call] = parse('<tool_call>{"arguments": {"path": "a"}}</tool_call>').calls
    assert call.error == 'The tool call JSON has no "name".'


def test_hermes_not_an_object() -> None:
    [call] = parse("<tool_call>{'name', 'read_file'}</tool_call>").calls  # a Python set
    assert call.error == 'The tool call must be a JSON object: {"name": ..., "arguments": {...}}.'


def test_hermes_missing_opener() -> None:
    content = 'Let me read it.\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>'
    parsed = parse(content)
    assert parsed.text == "Let me read it."
    assert [(c.name, c.arguments) for c in parsed.calls] == [("read_file", {"path": "a.py"})]


def test_hermes_missing_closer_then_call_missing_opener() -> None:
    content = (
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}\n'
        '{"name": "read_file", "arguments": {"path": "b"}}\n</tool_call>'
    )
    assert [c.arguments for c in parse(content).calls] == [{"path": "a"}, {"path": "b"}]


def test_orphan_closer_alone_is_removed() -> None:
    parsed = parse("All done.\n</tool_call>")
    assert parsed == ParsedText("All done.", [])


def test_mixed_formats_in_one_reply() -> None:
    content = (
        xml("read_file", path="a")
        + '\n<tool_call>{"name": "read_file", "arguments": {"path": "b"}}</tool_call>'
    )
    assert [c.arguments["path"] for c in parse(content).calls] == ["a", "b"]


# --- mentions, fences, thinking ---------------------------------------------------------------


def test_fenced_mention_without_structure_is_not_a_call() -> None:
    content = "Qwen wraps calls like this:\n```\n<tool_call>\n...\n</tool_call>\n```\nSee?"
    assert parse(content) == ParsedText(content, [])


def test_fenced_json_example_that_is_not_a_call() -> None:
    content = '```json\n<tool_call>{"name": <tool-name>, "arguments": <args>}</tool_call>\n```'
    assert parse(content).calls == []


def test_real_call_after_fenced_mention_is_parsed() -> None:
    fence = "```text\n<tool_call>\n</tool_call>\n```"
    content = f"The markers are:\n{fence}\nNow a real one:\n" + xml("read_file", path="a")
    parsed = parse(content)
    assert [c.arguments for c in parsed.calls] == [{"path": "a"}]
    assert parsed.text == f"The markers are:\n{fence}\nNow a real one:"


def test_call_wrapped_in_a_fence_is_parsed_and_the_fence_dropped() -> None:
    content = "Reading.\n```xml\n" + xml("read_file", path="a") + "\n```\nthen more"
    parsed = parse(content)
    assert [c.arguments for c in parsed.calls] == [{"path": "a"}]
    assert parsed.text == "Reading.\n\nthen more"


def test_value_containing_markdown_fences() -> None:
    readme = "# Calc\n\n```bash\npip install calc\n```\n\n~~~\nplain\n~~~\n"
    assert one_call(xml("write_file", path="README.md", content=readme))[1]["content"] == readme


@pytest.mark.parametrize(
    "content",
    [
        "I will emit a <tool_call> block next time.",
        "Use the `<tool_call>` tag, then `<function=NAME>` on its own line.",
        "The parser handles <function=foo> written inline in prose.",
    ],
)
def test_mentions_in_prose_are_not_calls(content: str) -> None:
    assert parse(content) == ParsedText(content, [])


def test_no_calls_inside_a_leading_think_block() -> None:
    content = (
        "<think>\nMaybe "
        + xml("write_file", path="x", content="y")
        + " ? No, read first.\n</think>\n"
        "Reading.\n" + xml("read_file", path="a")
    )
    parsed = parse(content)
    assert [(c.name, c.arguments) for c in parsed.calls] == [("read_file", {"path": "a"})]
    assert parsed.text.startswith("<think>\nMaybe <tool_call>")
    assert parsed.text.endswith("</think>\nReading.")


def test_think_tag_in_prose_does_not_hide_calls() -> None:
    content = "I will strip the <think> tags.\n" + xml("read_file", path="strip.py")
    assert [c.arguments for c in parse(content).calls] == [{"path": "strip.py"}]


def test_unclosed_think_hides_nothing() -> None:
    content = "<think>\nThe user wants a.py.\n" + xml("read_file", path="a.py")
    assert [c.arguments for c in parse(content).calls] == [{"path": "a.py"}]


def test_fenced_function_without_name_is_a_mention() -> None:
    content = "```\n<function=>\n<parameter=path>\nx\n</parameter>\n</function>\n```"
    assert parse(content) == ParsedText(content, [])


def test_many_mentions_parse_in_linear_time() -> None:
    # A search restarted at every mention made this take tens of seconds.
    content = "```\nx\n```\nThe <tool_call> tag and <function=f> syntax. " * 20_000
    started = time.perf_counter()
    assert parse(content).calls == []
    assert time.perf_counter() - started < 5


def test_has_tool_call_markup() -> None:
    assert has_tool_call_markup(xml("read_file", path="a"))
    assert has_tool_call_markup("<function = read_file>")
    assert has_tool_call_markup("x</tool_call>")
    assert not has_tool_call_markup("Just prose with <b>html</b> and a function() call.")
    assert parse("  plain answer \n") == ParsedText("plain answer", [])


# --- errors for the model ---------------------------------------------------------------------


def test_unknown_tool_in_text_keeps_name_and_arguments() -> None:
    [call] = parse(xml("reed_file", path="a.py", offset="3")).calls
    assert call.name == "reed_file"
    assert call.arguments == {"path": "a.py", "offset": "3"}
    assert call.error == (
        "Unknown tool 'reed_file' (did you mean 'read_file'?). "
        "Available tools: read_file, write_file, edit_file, run_command, search."
    )


def test_unknown_tool_without_close_match() -> None:
    _, error = coerce_arguments("deploy", {}, SCHEMAS)
    assert error == (
        "Unknown tool 'deploy'. "
        "Available tools: read_file, write_file, edit_file, run_command, search."
    )


def test_unknown_tool_when_no_tools() -> None:
    assert (
        coerce_arguments("read_file", {}, {})[1]
        == "Unknown tool 'read_file': no tools are available."
    )


def test_unknown_parameter_names_allowed_ones() -> None:
    args, error = coerce_arguments("read_file", {"path": "a", "ofset": "2"}, SCHEMAS)
    assert args == {"path": "a", "ofset": "2"}
    assert error == (
        "Unknown parameter 'ofset' (did you mean 'offset'?) for 'read_file'. "
        "Allowed parameters: path, offset, limit."
    )


def test_several_unknown_parameters() -> None:
    error = coerce_arguments("read_file", {"path": "a", "x": 1, "y": 2}, SCHEMAS)[1]
    assert (
        error
        == "Unknown parameters 'x', 'y' for 'read_file'. Allowed parameters: path, offset, limit."
    )


def test_additional_properties_allows_unknown_parameters() -> None:
    schemas = {"t": {"type": "object", "properties": {}, "additionalProperties": True}}
    assert coerce_arguments("t", {"anything": "1"}, schemas) == ({"anything": "1"}, None)


def test_missing_required_parameters() -> None:
    assert coerce_arguments("write_file", {}, SCHEMAS)[1] == (
        "Missing required parameters for 'write_file': path, content."
    )
    assert coerce_arguments("write_file", {"path": "a"}, SCHEMAS)[1] == (
        "Missing required parameter for 'write_file': content."
    )


def test_several_problems_are_all_reported() -> None:
    _, error = coerce_arguments("read_file", {"offset": "many", "pth": "a"}, SCHEMAS)
    assert error == (
        "Unknown parameter 'pth' (did you mean 'path'?) for 'read_file'. "
        "Allowed parameters: path, offset, limit. "
        "Missing required parameter for 'read_file': path. "
        "Parameter 'offset' of 'read_file' must be an integer, not 'many'."
    )


# --- typing by schema -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "param", "text", "expected"),
    [
        ("read_file", "offset", "42", 42),
        ("read_file", "offset", " 42 \n", 42),
        ("read_file", "offset", "-7", -7),
        ("read_file", "offset", "3.0", 3),
        ("search", "ratio", "0.25", 0.25),
        ("search", "ratio", "2", 2),
        ("edit_file", "replace_all", "true", True),
        ("edit_file", "replace_all", "False", False),
        ("edit_file", "replace_all", "TRUE", True),
        ("edit_file", "replace_all", "yes", True),
        ("edit_file", "replace_all", "No", False),
        ("search", "paths", '["src", "tests"]', ["src", "tests"]),
        ("search", "paths", "['src', 'tests']", ["src", "tests"]),
        ("search", "paths", "('src',)", ["src"]),
        ("search", "paths", "[]", []),
        ("run_command", "env", '{"CI": "1"}', {"CI": "1"}),
        ("run_command", "env", "{'CI': 1, 'DEBUG': True}", {"CI": 1, "DEBUG": True}),
        ("run_command", "timeout", "30", 30),
        ("run_command", "timeout", "null", None),
        ("run_command", "timeout", "None", None),
        ("run_command", "timeout", "", None),
        ("search", "max_results", "5", 5),
        ("search", "max_results", "null", None),
    ],
)
def test_values_are_typed_by_schema(tool: str, param: str, text: str, expected: Any) -> None:
    others = {name: "x" for name in SCHEMAS[tool]["required"]}
    args, error = coerce_arguments(tool, {**others, param: text}, SCHEMAS)
    assert error is None
    assert args == {**others, param: expected}
    assert type(args[param]) is type(expected)


@pytest.mark.parametrize(
    "text",
    ["42", "  spaced  \n", "true", "null", '{"a": 1}', "['a']", "\n\nkeep\n"],
)
def test_strings_are_never_reinterpreted(text: str) -> None:
    args, error = coerce_arguments("write_file", {"path": "a", "content": text}, SCHEMAS)
    assert (args["content"], error) == (text, None)


def test_untyped_parameter_keeps_its_value() -> None:
    args, _ = coerce_arguments(
        "search", {"pattern": "x", "note": '{"looks": "like json"}'}, SCHEMAS
    )
    assert args["note"] == '{"looks": "like json"}'


@pytest.mark.parametrize(
    ("tool", "param", "value", "problem"),
    [
        ("read_file", "offset", "ten", "must be an integer, not 'ten'."),
        ("read_file", "offset", "1.5", "must be an integer, not '1.5'."),
        ("read_file", "offset", True, "must be an integer, not 'true'."),
        ("edit_file", "replace_all", "maybe", "must be true or false, not 'maybe'."),
        ("edit_file", "replace_all", "1", "must be true or false, not '1'."),
        ("search", "paths", "[1, 2", "must be a JSON array, not '[1, 2'."),
        ("search", "paths", "src", "must be a JSON array, not 'src'."),
        ("run_command", "env", "[1]", "must be a JSON object, not '[1]'."),
        ("run_command", "timeout", "soon", "must be an integer or null, not 'soon'."),
        ("search", "ratio", {"a": 1}, "must be a number, not '{\"a\": 1}'."),
    ],
)
def test_untypable_values_are_errors(tool: str, param: str, value: Any, problem: str) -> None:
    others = {name: "x" for name in SCHEMAS[tool]["required"]}
    args, error = coerce_arguments(tool, {**others, param: value}, SCHEMAS)
    assert error == f"Parameter '{param}' of '{tool}' {problem}"
    assert args[param] == value  # kept as given, so the record shows what the model sent


def test_long_bad_value_is_shortened_in_the_error() -> None:
    error = coerce_arguments("read_file", {"path": "a", "limit": "z" * 500}, SCHEMAS)[1]
    assert error is not None
    assert len(error) < 150
    assert error.endswith("...'.")


def test_native_json_values() -> None:
    args, error = coerce_arguments(
        "run_command", {"command": 7, "timeout": 2.0, "env": {"A": "1"}}, SCHEMAS
    )
    assert (args, error) == ({"command": "7", "timeout": 2, "env": {"A": "1"}}, None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"path": "a.py"}', {"path": "a.py"}),
        ('{"path": "a.py", "limit": "9",}', {"path": "a.py", "limit": 9}),
        ("{'path': 'a.py'}", {"path": "a.py"}),
        ('{"path": "a.py"', {"path": "a.py"}),
        ('"{\\"path\\": \\"a.py\\"}"', {"path": "a.py"}),  # encoded twice
    ],
)
def test_native_argument_strings(raw: str, expected: dict[str, Any]) -> None:
    assert coerce_arguments("read_file", raw, SCHEMAS) == (expected, None)


@pytest.mark.parametrize("raw", [None, "", "  \n"])
def test_native_empty_arguments(raw: str | None) -> None:
    assert coerce_arguments("search", raw, SCHEMAS) == (
        {},
        "Missing required parameter for 'search': pattern.",
    )
    no_params = {"ping": {"type": "object", "properties": {}}}
    assert coerce_arguments("ping", raw, no_params) == ({}, None)


def test_native_malformed_json_is_explained() -> None:
    raw = '{"path": "a.py" "limit": 3}'
    args, error = coerce_arguments("read_file", raw, SCHEMAS)
    assert args == {}
    assert error == (
        "The arguments of 'read_file' are not valid JSON "
        "(Expecting ',' delimiter: line 1 column 17 (char 16)). "
        'They began: \'{"path": "a.py" "limit": 3}\'.'
    )


@pytest.mark.parametrize(
    ("raw", "kind"), [('["a.py"]', "an array"), ('"a.py"', "a string"), ("3", "a number")]
)
def test_native_arguments_that_are_not_an_object(raw: str, kind: str) -> None:
    assert coerce_arguments("read_file", raw, SCHEMAS) == (
        {},
        f"The arguments of 'read_file' must be a JSON object, not {kind}.",
    )


def test_typing_applies_to_text_calls_end_to_end() -> None:
    content = xml("search", pattern="TODO", paths="['src',\n 'tests']", max_results="\n20\n")
    assert one_call(content)[1] == {"pattern": "TODO", "paths": ["src", "tests"], "max_results": 20}


def test_bad_value_in_text_call_is_reported_not_raised() -> None:
    [call] = parse(xml("read_file", path="a", limit="all of it")).calls
    assert call.arguments == {"path": "a", "limit": "all of it"}
    assert call.error == "Parameter 'limit' of 'read_file' must be an integer, not 'all of it'."
