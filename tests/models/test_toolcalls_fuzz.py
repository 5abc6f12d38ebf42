"""Property tests: no model output crashes the parser, and valid calls survive the round trip."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from glasscoder.models.toolcalls import (
    ParsedText,
    ToolSchemas,
    coerce_arguments,
    has_tool_call_markup,
    parse_text_tool_calls,
)

SCHEMAS: ToolSchemas = {
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
        },
        "required": ["path", "old_string", "new_string"],
    },
    "read_file": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "offset": {"type": "integer"},
            "follow": {"type": "boolean"},
            "lines": {"type": "array"},
        },
        "required": ["path"],
    },
}
STRING_TOOLS = ["write_file", "edit_file"]
PYTHON_TYPE = {"string": str, "integer": int, "boolean": bool, "array": list}

MARKUP = [
    "<tool_call>", "</tool_call>", "<function=write_file>", "<function=", "</function>",
    "<parameter=path>", "<parameter=content>", "<parameter=", "</parameter>", "<think>",
    "</think>", "```", "~~~", "{", "}", '{"name": "read_file", ', '"arguments": ', "'", '"',
    "\n", " ", "<", ">", "=", ",", "null", "true", "[", "]", "\\",
]  # fmt: skip
# Lookalikes a value may hold: code and markup that is not the call's own tags.
VALUE_PIECES = [
    "<", ">", "</", "/>", "=", "\n", "\n\n", "\r", "\t", "  ", "<div>", "</div>", "<p>x</p>",
    "```", "~~~", "{", "}", "[", "]", '"', "'", "\\", "null", "true", "<think>", "</think>",
    "if a < b and c > d:", "<br/>", "é", "中", "\x00", "parameter", "function", "tool_call",
]  # fmt: skip
CALL_TAG_WORD = re.compile(r"</?(?:parameter|function|tool_call)")

markup_soup = st.lists(st.one_of(st.sampled_from(MARKUP), st.text(max_size=6)), max_size=40).map(
    "".join
)
# A value cannot hold the call's own tags: no text format could tell those apart from the call.
values = (
    st.lists(st.one_of(st.sampled_from(VALUE_PIECES), st.text(max_size=6)), max_size=12)
    .map("".join)
    .filter(lambda v: not CALL_TAG_WORD.search(v))
)
# Prose around calls: no markup and no fences (a fence around a call is tested separately).
prose = st.text(st.characters(exclude_characters="<`~{"), max_size=30)


def assert_runnable(name: str, arguments: dict[str, object]) -> None:
    """What a call without an error promises: the tool exists and every argument fits it."""
    schema = SCHEMAS[name]
    assert set(schema["required"]) <= set(arguments) <= set(schema["properties"])
    for key, value in arguments.items():
        assert isinstance(value, PYTHON_TYPE[schema["properties"][key]["type"]])


def check_invariants(content: str, parsed: ParsedText) -> None:
    assert parsed.text == parsed.text.strip()
    assert len(parsed.text) <= len(content)
    for i, call in enumerate(parsed.calls):
        assert call.id == f"call_{i}"
        assert isinstance(call.name, str)
        assert isinstance(call.arguments, dict)
        assert call.error is None or (isinstance(call.error, str) and call.error)
        if call.error is None:
            assert_runnable(call.name, call.arguments)
    if not has_tool_call_markup(content):
        assert parsed == ParsedText(content.strip(), [])


def parse_checked(content: str) -> ParsedText:
    parsed = parse_text_tool_calls(content, SCHEMAS)
    check_invariants(content, parsed)
    return parsed


# --- rendering calls, with the malformations models produce -----------------------------------


@dataclass
class Call:
    name: str
    arguments: dict[str, str]
    drops: frozenset[str]  # which parts of the markup the "model" left out


def render_xml(call: Call) -> str:
    """The Qwen3-Coder template's rendering, minus the parts listed in `call.drops`."""
    out = "" if "opener" in call.drops else "<tool_call>\n"
    out += f"<function={call.name}>\n"
    for i, (key, value) in enumerate(call.arguments.items()):
        close = "" if f"param_end_{i}" in call.drops else "</parameter>\n"
        out += f"<parameter={key}>\n{value}\n{close}"
    out += "" if "function_end" in call.drops else "</function>\n"
    return out + ("" if "closer" in call.drops else "</tool_call>")


def render_hermes(call: Call) -> str:
    body = json.dumps({"name": call.name, "arguments": call.arguments})
    opener = "" if "opener" in call.drops else "<tool_call>\n"
    return opener + body + ("" if "closer" in call.drops else "\n</tool_call>")


@st.composite
def calls(draw: st.DrawFn, xml: bool = True) -> Call:
    name = draw(st.sampled_from(STRING_TOOLS))
    params = list(SCHEMAS[name]["properties"])
    arguments = {key: draw(values if xml else st.text()) for key in params}
    if not xml:  # JSON with neither tag is just JSON, not a call
        drops = draw(st.sampled_from([set(), {"opener"}, {"closer"}]))
        return Call(name, arguments, frozenset(drops))
    optional = ["opener", "closer", "function_end", *(f"param_end_{i}" for i in range(len(params)))]
    return Call(name, arguments, frozenset(draw(st.sets(st.sampled_from(optional)))))


def value_end_lost(call: Call) -> bool:
    """Nothing marks where the last value ends: it would take in any text that follows."""
    last = f"param_end_{len(call.arguments) - 1}"
    return last in call.drops and "closer" in call.drops


# --- never raises -----------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.text())
def test_arbitrary_text_never_raises(content: str) -> None:
    parse_checked(content)


@settings(max_examples=300)
@given(markup_soup)
def test_markup_soup_never_raises(content: str) -> None:
    parse_checked(content)


@settings(max_examples=300)
@given(st.lists(calls(), min_size=1, max_size=3), st.data())
def test_truncated_reply_never_raises(replies: list[Call], data: st.DataObject) -> None:
    content = "\n".join(map(render_xml, replies))
    cut = data.draw(st.integers(0, len(content)))
    parse_checked(content[:cut])


@settings(max_examples=300)
@given(st.lists(calls(), min_size=1, max_size=3), st.data())
def test_deleted_tag_never_raises(replies: list[Call], data: st.DataObject) -> None:
    content = "\n".join(map(render_xml, replies))
    tags = list(re.finditer(r"</?(?:tool_call|function|parameter)[^>\n]*>", content))
    tag = data.draw(st.sampled_from(tags))
    parse_checked(content[: tag.start()] + content[tag.end() :])


@settings(max_examples=300)
@given(st.lists(calls(), min_size=1, max_size=3), markup_soup, st.data())
def test_inserted_junk_never_raises(replies: list[Call], junk: str, data: st.DataObject) -> None:
    render = data.draw(st.sampled_from([render_xml, render_hermes]))
    content = "\n".join(map(render, replies))
    at = data.draw(st.integers(0, len(content)))
    parse_checked(content[:at] + junk + content[at:])


# --- round trips ------------------------------------------------------------------------------


def render_reply(before: str, replies: list[Call], gaps: list[str]) -> str:
    """Prose and calls as a model writes them; gaps[i] is the prose after call i."""
    content, lost = before, False
    for call, gap in zip(replies, gaps, strict=True):
        content += ("" if lost else "\n") + render_xml(call)
        # With its value's end lost, a call runs into whatever follows, so nothing may.
        lost = value_end_lost(call)
        content += "" if lost else f"\n{gap}"
    return content


@settings(max_examples=300)
@given(prose, st.lists(calls(), min_size=1, max_size=3), st.data())
def test_xml_round_trip_with_repairable_malformations(
    before: str, replies: list[Call], data: st.DataObject
) -> None:
    gaps = [data.draw(prose) for _ in replies]
    parsed = parse_checked(render_reply(before, replies, gaps))
    assert [(c.name, c.arguments, c.error) for c in parsed.calls] == [
        (c.name, c.arguments, None) for c in replies
    ]
    kept = [gap for call, gap in zip(replies, gaps, strict=True) if not value_end_lost(call)]
    assert parsed.text.split() == " ".join([before, *kept]).split()


@settings(max_examples=300)
@given(prose, calls(), prose)
def test_xml_round_trip_keeps_text_around_a_well_formed_call(
    before: str, call: Call, after: str
) -> None:
    well_formed = Call(call.name, call.arguments, frozenset())
    parsed = parse_checked(f"{before}\n{render_xml(well_formed)}\n{after}")
    assert [c.arguments for c in parsed.calls] == [call.arguments]
    assert parsed.text == f"{before}\n\n{after}".strip()


EXAMPLE_LINES = [
    "<tool_call>\n<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>\n</tool_call>",
    "<function=read_file>\n<parameter=path>\na.py\n</parameter>\n</function>",
    '<tool_call>\n{"name": "read_file", "arguments": {"path": "</tool_call>"}}\n</tool_call>',
    "<tool_call> tags wrap each call; <function=NAME> names the tool.",
]
# Docs and tests about tool calls: examples on lines of their own, among ordinary lines.
values_with_examples = st.lists(
    st.one_of(values, st.sampled_from(EXAMPLE_LINES)), min_size=1, max_size=4
).map("\n".join)


@settings(max_examples=300)
@given(prose, values_with_examples, values_with_examples)
def test_xml_round_trip_values_holding_example_calls(before: str, old: str, new: str) -> None:
    arguments = {"path": "doc.md", "old_string": old, "new_string": new}
    parsed = parse_checked(f"{before}\n{render_xml(Call('edit_file', arguments, frozenset()))}")
    assert [(c.name, c.arguments, c.error) for c in parsed.calls] == [
        ("edit_file", arguments, None)
    ]
    assert parsed.text == before.strip()


@settings(max_examples=300)
@given(prose, st.lists(calls(xml=False), min_size=1, max_size=3))
def test_hermes_round_trip_any_text(before: str, replies: list[Call]) -> None:
    # Without its opener, a call whose strings hold markup is indistinguishable from that markup.
    assume(
        not any(
            "opener" in c.drops and has_tool_call_markup(json.dumps(c.arguments)) for c in replies
        )
    )
    content = before + "".join(f"\n{render_hermes(c)}\nok" for c in replies)
    parsed = parse_checked(content)
    assert [(c.name, c.arguments, c.error) for c in parsed.calls] == [
        (c.name, c.arguments, None) for c in replies
    ]
    assert parsed.text.split() == (before + " ok" * len(replies)).split()


@settings(max_examples=300)
@given(
    st.integers(-(10**12), 10**12),
    st.booleans(),
    st.lists(st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none())),
    st.data(),
)
def test_typed_values_round_trip(
    offset: int, follow: bool, lines: list[object], data: st.DataObject
) -> None:
    spell = data.draw(st.sampled_from([json.dumps, repr]))  # models write JSON or Python
    arguments = {
        "path": "a.py",
        "offset": str(offset),
        "follow": spell(follow),
        "lines": spell(lines),
    }
    parsed = parse_checked(render_xml(Call("read_file", arguments, frozenset())))
    assert parsed.calls[0].arguments == {
        "path": "a.py",
        "offset": offset,
        "follow": follow,
        "lines": lines,
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(
    st.sampled_from([*SCHEMAS, "reed_file", ""]),
    st.one_of(
        st.none(),
        st.text(),
        markup_soup,
        json_values.map(json.dumps),
        st.dictionaries(st.sampled_from(["path", "offset", "follow", "lines", "x"]), json_values),
    ),
)
def test_coerce_arguments_never_raises(name: str, raw: str | dict[str, object] | None) -> None:
    arguments, error = coerce_arguments(name, raw, SCHEMAS)
    assert isinstance(arguments, dict)
    if error is None:
        assert_runnable(name, arguments)
    else:
        assert error.endswith(".")
