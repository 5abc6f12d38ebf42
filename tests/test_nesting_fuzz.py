"""Property tests: no depth or size of nesting crashes redaction, scrub, the transcript or
argument typing, and what they keep is still redacted and still encodable.

Deep values are built iteratively here (json.dumps itself recurses), and deep JSON texts are
written out directly, so every depth can be reached: up to 100,000 levels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glasscoder.agent.session import Session
from glasscoder.cli.output import JsonOutput
from glasscoder.guard.body_redaction import redact_body, redact_messages
from glasscoder.guard.redact import KnownSecret, Redactor
from glasscoder.models.toolcalls import coerce_arguments
from glasscoder.nesting import KEEP_DEPTH, MAX_DEPTH, depth, rebuild
from glasscoder.safetext import scrub

TOKEN = "q8Zr4TnW2xLp9VbK7mHc3JdY"
SCHEMAS = {
    "read_file": {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "offset": {"type": "integer"},
            "items": {"type": "array"},
        },
    }
}
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def redactor() -> Redactor:
    return Redactor([KnownSecret(TOKEN, "env-secret", "env DEPLOY_TOKEN")], use_library=False)


def nested_value(levels: int, pattern: int, leaf: Any) -> Any:
    """levels containers around leaf; pattern's bits choose list or dict per level."""
    value = leaf
    for level in range(levels):
        value = {"k": value} if (pattern >> (level % 31)) & 1 else [value]
    return value


def nested_text(levels: int, pattern: int, leaf: str, closed: bool) -> str:
    """The JSON text of nested_value (closed), or only its openings (an unclosed file)."""
    kinds = [(pattern >> (level % 31)) & 1 for level in range(levels)]
    openings = "".join('{"k":' if kind else "[" for kind in reversed(kinds))
    closings = "".join("}" if kind else "]" for kind in kinds)
    return openings + json.dumps(leaf) + closings if closed else openings + leaf


levels = st.integers(0, 100_000)
patterns = st.integers(0, 2**31 - 1)
deep_values = st.builds(nested_value, st.integers(0, 5_000), patterns, st.just(TOKEN))
deep_texts = st.builds(nested_text, levels, patterns, st.just(TOKEN), st.booleans())
bracket_soup = st.text(alphabet='[]{}":,0 \\' + TOKEN[:3], max_size=3_000)


def chat_body(*contents: str, arguments_text: str | None = None) -> bytes:
    messages: list[dict[str, Any]] = [{"role": "user", "content": c} for c in contents]
    if arguments_text is not None:
        call = {"id": "c1", "type": "function",
                "function": {"name": "write_file", "arguments": arguments_text}}  # fmt: skip
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    return json.dumps({"model": "m", "messages": messages}, separators=(",", ":")).encode()


@FUZZ
@given(text=st.one_of(deep_texts, bracket_soup))
def test_a_deep_string_in_a_body_is_still_redacted(text: str) -> None:
    body = chat_body(text + " " + TOKEN, arguments_text='{"content": ' + json.dumps(text) + "}")
    clean, counts = redact_body(body, redactor())
    assert TOKEN.encode() not in clean and counts["env-secret"] >= 1
    json.loads(clean)  # still a body the server can read


@FUZZ
@given(value=deep_values)
def test_deep_messages_for_an_embedded_model_are_redacted(value: Any) -> None:
    messages, counts = redact_messages([{"role": "tool", "content": TOKEN, "x": value}],
                                       redactor())  # fmt: skip
    assert TOKEN not in json.dumps(messages) and counts["env-secret"] >= 1


@FUZZ
@given(value=deep_values)
def test_scrub_keeps_shallow_values_and_cuts_deep_ones_encodably(value: Any) -> None:
    scrubbed = scrub(value)
    json.dumps(scrubbed)  # never RecursionError
    if depth(value, KEEP_DEPTH) <= KEEP_DEPTH:
        assert scrubbed == value
    else:
        assert depth(scrubbed, KEEP_DEPTH + 1) <= KEEP_DEPTH


@FUZZ
@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                          lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=3), inner, max_size=4)))  # fmt: skip
def test_rebuild_copies_like_a_recursive_walk(value: Any) -> None:
    assert rebuild(value, lambda leaf, level: leaf) == value


@FUZZ
@given(text=st.one_of(deep_texts, bracket_soup), value=deep_values)
def test_the_transcript_round_trips_deep_messages(tmp_path_factory: Any, text: str,
                                                  value: Any) -> None:  # fmt: skip
    root: Path = tmp_path_factory.mktemp("session")
    session = Session.create(root, {"workspace": str(root), "task": "t"})
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"x": value}}}
    stored = session.append({"role": "assistant", "content": text, "tool_calls": [call]})
    assert stored["content"] == text
    assert Session.load(root, session.id).messages == [stored]


@FUZZ
@given(text=st.one_of(deep_texts, bracket_soup, st.builds(lambda t: '{"offset": ' + t, deep_texts)))
def test_argument_typing_never_crashes(text: str) -> None:
    arguments, error = coerce_arguments("read_file", text, SCHEMAS)
    assert isinstance(arguments, dict)
    assert error is None or isinstance(error, str)
    assert depth(arguments, MAX_DEPTH + 1) <= MAX_DEPTH + 1
    for value in ("offset", "items"):
        typed, _ = coerce_arguments("read_file", {value: text}, SCHEMAS)
        assert depth(typed, MAX_DEPTH + 2) <= MAX_DEPTH + 1


@FUZZ
@given(value=st.builds(nested_value, st.integers(0, 3_000), patterns, st.just(1)))
def test_arguments_a_server_sent_parsed_are_bounded(value: Any) -> None:
    arguments, error = coerce_arguments("read_file", {"items": value}, SCHEMAS)
    if depth(value, MAX_DEPTH) >= MAX_DEPTH:
        assert error is not None and "nested" in error
    else:
        assert arguments == {"items": value} or error


@FUZZ
@given(text=st.one_of(deep_texts, bracket_soup))
def test_the_json_result_prints_deep_text(capsys: Any, text: str) -> None:
    from glasscoder.agent.loop import Outcome
    from glasscoder.models.base import Usage

    JsonOutput().final(Outcome("done", "completed", text, 1, Usage()), "s")
    assert json.loads(capsys.readouterr().out)["result"] == text


@FUZZ
@given(text=st.one_of(deep_texts, bracket_soup))
def test_json_found_in_a_review_reply_or_a_linters_output_never_crashes(text: str) -> None:
    from glasscoder.languages.parsers import json_documents
    from glasscoder.review.model_layer import parse_reply

    assert parse_reply(text + ' [{"line": 1}]') is not None
    list(json_documents(text + "\n[1]"))
