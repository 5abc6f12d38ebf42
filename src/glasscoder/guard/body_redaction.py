"""Redaction of whole request bodies and message lists, string by string.

A request body is JSON: secrets sit inside its strings, escaped (a private key's newlines are
``\\n`` in the body). Scanning the raw bytes would miss such values or cut an escape in half,
so the body is parsed and every string redacted on its own, decoded. Strings that are
themselves JSON (the arguments of a tool call, in the wire form) are opened the same way, so
a placeholder never lands inside an escape sequence.

Anything that is not JSON is redacted as text, and so is JSON nested deeper than
``nesting.MAX_DEPTH`` (a file of ``[[[[...``): opening it would exhaust the stack, and as text
every layer of the redactor still reads it. Strings inside strings are opened at most
``MAX_OPENINGS`` levels down, so the walk's depth stays bounded whatever the input. The body is
only re-encoded when something was redacted: an untouched request goes out byte for byte as
the client built it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Protocol

from glasscoder.nesting import MAX_DEPTH, loads_bounded, rebuild

# JSON in a string in JSON in a string...: real bodies have two or three such levels.
MAX_OPENINGS = 8


class TextRedactor(Protocol):
    def redact(self, text: str) -> tuple[str, Counter[str]]: ...


def redact_body(body: bytes, redactor: TextRedactor) -> tuple[bytes, dict[str, int]]:
    """The body with secrets replaced, and how many of each kind were replaced."""
    if not body:
        return body, {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # Not text: scanned as Latin-1 so that every byte maps to one character and back.
        clean, counts = redactor.redact(body.decode("latin-1"))
        return (clean.encode("latin-1", "replace"), dict(counts)) if counts else (body, {})
    value = _json_or_none(text)
    if value is None:
        clean, counts = redactor.redact(text)
        return (clean.encode("utf-8"), dict(counts)) if counts else (body, {})
    counts = Counter[str]()
    redacted = redact_value(value, redactor, counts)
    if not counts:
        return body, {}
    return _encode(redacted), dict(counts)


def redact_messages(
    messages: list[Any], redactor: TextRedactor
) -> tuple[list[Any], dict[str, int]]:
    """Messages for an in-process model: the same redaction a request body gets."""
    counts = Counter[str]()
    return redact_value(messages, redactor, counts), dict(counts)


def redact_value(
    value: Any, redactor: TextRedactor, counts: Counter[str], openings: int = 0
) -> Any:
    """A copy of a JSON value with every string redacted; counts gains what was replaced.

    Keys too: a JSON file read by the model may use a token as a key (auth maps). A container
    nested past MAX_DEPTH (only a value built in-process can be) is left out with a marker.
    """

    def leaf(item: Any, level: int) -> Any:
        return _redact_string(item, redactor, counts, openings) if isinstance(item, str) else item

    def key(name: Any) -> Any:
        return _redact_string(name, redactor, counts, openings) if isinstance(name, str) else name

    return rebuild(value, leaf, key, limit=MAX_DEPTH)


def _redact_string(text: str, redactor: TextRedactor, counts: Counter[str], openings: int) -> str:
    opens = text[:1] in ("{", "[") and openings < MAX_OPENINGS
    nested = _json_or_none(text) if opens else None
    if nested is not None:
        # Read whole first: split into keys and values, '{"db_password": "..."}' would lose
        # the name that marks its value. What this finds, the redactor then knows by value.
        redactor.redact(text)
        inner = Counter[str]()
        redacted = redact_value(nested, redactor, inner, openings + 1)
        if not inner:
            return text
        counts.update(inner)
        return json.dumps(redacted, ensure_ascii=False)
    clean, found = redactor.redact(text)
    counts.update(found)
    return clean


def _encode(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (sent as a \ud800 escape) has no UTF-8 form: keep it escaped.
        return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _json_or_none(text: str) -> Any:
    """The JSON value text holds, or None: not JSON, or nested past MAX_DEPTH."""
    try:
        return loads_bounded(text, MAX_DEPTH)
    except ValueError:
        return None
