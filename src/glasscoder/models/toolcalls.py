"""Tool calls that a model wrote as text instead of structured ``tool_calls``.

Many servers hand Qwen3-Coder's calls back as plain content (llama.cpp without its parser,
Ollama, vLLM with the wrong parser), so glasscoder reads them itself. Two formats::

    <tool_call>
    <function=read_file>
    <parameter=path>
    src/app.py
    </parameter>
    </function>
    </tool_call>

    <tool_call>{"name": "read_file", "arguments": {"path": "src/app.py"}}</tool_call>

Nothing here raises on model output. A call that cannot be understood comes back with
``ToolCall.error`` set to a sentence the agent loop sends to the model so it can try again.

The XML format has no escaping, yet values hold code and docs that look like its tags. So a
``</parameter>`` ends a value only when another tag of the call, or the end, comes next: a
lookalike such as ``s = "</parameter>"`` stays in the value. A call that starts on a line of
its own inside a value is an example in a doc or test when the value's ``</parameter>`` comes
after it, and otherwise the start of the next call.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import warnings
from dataclasses import dataclass
from typing import Any

from glasscoder.models.base import ToolCall
from glasscoder.nesting import MAX_DEPTH, bound, check_depth, depth, dumps_bounded, loads_bounded

ToolSchemas = dict[str, dict[str, Any]]


@dataclass
class ParsedText:
    text: str  # the content with tool-call markup removed, whitespace trimmed at the ends
    calls: list[ToolCall]  # in order of appearance; ToolCall.error set for broken calls


_JSON_HEAD = r"""\{\s*["']name["']"""  # how a Hermes call begins
_MARKUP = re.compile(r"</?tool_call|<function\s*[=>]")
_CALL_START = re.compile(r"</?tool_call\s*>|<function\s*[=>]")
# `<function>NAME</function>` and then the arguments as a JSON object: another form models use.
_FUNCTION_NAMED = re.compile(r"<function\s*>\s*(?P<name>[A-Za-z_][\w.-]*)\s*</function\s*>")
_OPEN = re.compile(r"<tool_call\s*>")
_CLOSE = re.compile(r"</tool_call\s*>")
# A call's </tool_call>, unless another call or closing tag comes first (then it is missing).
_CLOSE_OR_NEXT = re.compile(
    rf"(?P<close></tool_call\s*>)|<tool_call\s*>|<function\s*=|{_JSON_HEAD}"
    r"|</parameter\s*>|</function\s*>"
)
_TOOL_CALL_TAG = re.compile(r"</?tool_call\s*>")
# The `>` is optional: a model that forgets it still meant the name up to the line end.
_FUNCTION = re.compile(r"<function\s*=\s*(?P<name>[^<>\n]*)>?")
_FUNCTION_END = re.compile(r"</function\s*>")
_PARAMETER = re.compile(r"<parameter\s*=\s*(?P<name>[^<>\n]*)>?")
# Also the malformed closers models write: `</parameter/>`, and `</parameter` ending its line.
_PARAMETER_END = re.compile(r"</parameter\s*/?\s*>|</parameter[ \t]*(?=\r?\n|\Z)")
_SPACE = re.compile(r"\s*")
_CALL_TAG = r"<parameter\s*=|</function\s*>|</?tool_call\s*>|<function\s*="
# What may follow the real end of a value: the next tag of the call, a new call, or the end
# (after any doubled closers, which the parameter loop skips).
_NEXT_IS_TAG = re.compile(
    rf"(?:\s*(?:</parameter\s*/?\s*>|</parameter[ \t]*(?=\r?\n)))*\s*(?:{_CALL_TAG}|\Z)"
)
# Where a value whose </parameter> is missing ends: a tag on a line of its own. A lone
# `</function>` line is not enough (XML files have those); the end of the call must follow it.
_LINE_BOUNDARY = re.compile(
    r"^[ \t]*(?:<parameter\s*=|</tool_call\s*>|(?P<opener><tool_call\s*>|<function\s*=)"
    r"|</function\s*>(?=\s*(?:</?tool_call\s*>|<function\s*=|\Z)))",
    re.MULTILINE,
)
_JSON_NAME = re.compile(_JSON_HEAD)
_FENCE_OPEN = re.compile(
    r"^[ \t]{0,3}(?:(?P<ticks>`{3,})[^`\n]*|(?P<tildes>~{3,})[^\n]*)$", re.MULTILINE
)
_THINK_OPEN = re.compile(r"\s*<think>")
_THINK_CLOSE = "</think>"
_TRAILING_COMMA = re.compile(r",\s*(?=[}\]])")
_DECODER = json.JSONDecoder()
# Following example calls inside a value costs a read of each; these bound the work.
_MAX_EXAMPLES = 32  # example calls followed within one value
_MAX_DEPTH = 1  # values of example calls do not follow examples of their own
_NOTHING = object()  # "could not parse", distinct from a parsed None


def has_tool_call_markup(content: str) -> bool:
    """Whether `content` may hold a text tool call; False means parsing would find none."""
    return _MARKUP.search(content) is not None


def parse_text_tool_calls(
    content: str, schemas: ToolSchemas, id_prefix: str = "call"
) -> ParsedText:
    """Find tool calls written as text in `content`. ids: f"{id_prefix}_{i}" (deterministic)."""
    if not has_tool_call_markup(content):
        return ParsedText(content.strip(), [])
    scanner = _Scanner(content, known=frozenset(schemas) if schemas else None).run()
    calls = [
        _to_tool_call(found, f"{id_prefix}_{i}", schemas) for i, found in enumerate(scanner.found)
    ]
    return ParsedText(_remove_spans(content, scanner.cuts).strip(), calls)


def coerce_arguments(
    name: str, raw: str | dict[str, Any] | None, schemas: ToolSchemas
) -> tuple[dict[str, Any], str | None]:
    """Arguments typed by the tool's schema, and an error for the model or None.

    `raw` is a JSON string (maybe malformed), a dict (values may be text to be typed), or None.
    """
    arguments, problem = _arguments_object(name, raw)
    schema = schemas.get(name)
    if schema is None:
        return arguments, _unknown_tool(name, schemas)
    if problem:
        return arguments, problem
    arguments = _without_optional_nulls(arguments, schema)
    problems = _unknown_parameters(name, arguments, schema)
    problems += _missing_parameters(name, arguments, schema)
    typed, type_problems = _typed(name, arguments, _properties(schema))
    return typed, " ".join(problems + type_problems) or None


# --- finding calls in the text ----------------------------------------------------------------


@dataclass
class _Found:
    name: str
    arguments: Any  # dict of raw text values (XML), or whatever the JSON held
    error: str | None = None


class _Scanner:
    """One left-to-right pass collecting calls and the spans of markup to cut from the text."""

    def __init__(self, text: str, fenced: bool = False, depth: int = 0,
                 known: frozenset[str] | None = None) -> None:  # fmt: skip
        self.text = text
        # The tools' names: inside a fence, a call naming none of them is an example (prose).
        self.known = known
        self.depth = depth  # > 0: reading an example call inside a value, to skip past it
        # Inside a Markdown fence only a call with a function name counts: models quote the
        # format in examples, and a half-written call there is not a call at all.
        self.fenced = fenced
        self.found: list[_Found] = []
        self.cuts: list[tuple[int, int]] = []
        self._fence_cache: re.Match[str] | None = None
        self._fence_searched = False

    def _next_fence(self, pos: int) -> re.Match[str] | None:
        """The next fence opener from `pos` on, cached: searching afresh each time is quadratic."""
        if self.fenced:
            return None
        if not self._fence_searched or (
            self._fence_cache is not None and self._fence_cache.start() < pos
        ):
            self._fence_cache, self._fence_searched = _FENCE_OPEN.search(self.text, pos), True
        return self._fence_cache

    def run(self) -> _Scanner:
        pos = 0 if self.fenced else _after_think(self.text)
        free = pos  # start of the text not yet taken by a call or a fence
        while True:
            start = _CALL_START.search(self.text, pos)
            fence = self._next_fence(pos)
            if fence and (start is None or fence.start() <= start.start()):
                pos = free = self._fence(fence)
            elif start is None:
                return self
            elif (end := self._call(start, free)) is None:
                pos = start.end()  # only a mention of the markup: it stays in the text
            else:
                pos = free = end

    def _add(self, start: int, end: int, found: _Found) -> int:
        self.found.append(found)
        self.cuts.append((start, end))
        return end

    def _call(self, start: re.Match[str], free: int) -> int | None:
        tag = start.group()
        if tag.startswith("</"):
            return self._orphan_close(start, free)
        if _FUNCTION_NAMED.match(self.text, start.start()):
            return self._function_json(start.start(), start.start(), in_block=False)
        if tag.startswith("<function"):
            return self._bare_function(start.start())
        return self._tool_call(start)

    def _tool_call(self, opener: re.Match[str]) -> int | None:
        body = _skip_space(self.text, opener.end())
        if func := _FUNCTION.match(self.text, body):
            return self._xml(opener.start(), func, in_block=True)
        if _FUNCTION_NAMED.match(self.text, body):
            return self._function_json(opener.start(), body, in_block=True)
        if self.text.startswith("{", body):
            return self._json(opener.start(), body)
        if self.fenced:
            return None
        if _OPEN.match(self.text, body):
            self.cuts.append((opener.start(), body))  # a doubled opener: drop the first
            return body
        close = _CLOSE.match(self.text, body)
        if close is None and body < len(self.text):
            return None  # prose that names the tag, e.g. "I will use <tool_call> tags"
        end = close.end() if close else body
        return self._add(opener.start(), end, _Found("", {}, "The tool call is empty."))

    def _bare_function(self, pos: int) -> int | None:
        # The <tool_call> opener is a special token some servers drop; the <function=...>
        # line alone is enough, but only when call structure follows it.
        func = _FUNCTION.match(self.text, pos)
        if func is None or not _NEXT_IS_TAG.match(self.text, func.end()):
            return None
        return self._xml(pos, func, in_block=False)

    def _orphan_close(self, close: re.Match[str], free: int) -> int | None:
        head = _JSON_NAME.search(self.text, free, close.start())
        if head is not None:  # Hermes JSON whose <tool_call> opener was lost
            return self._json(head.start(), head.start())
        if self.fenced:
            return None
        self.cuts.append((close.start(), close.end()))
        return close.end()

    # --- Qwen3-Coder XML ---

    def _xml(self, start: int, func: re.Match[str], in_block: bool) -> int | None:
        name = _clean_name(func["name"])
        if self.fenced and (not name or not self._known(name)):
            return None
        params, errors, pos = self._parameters(func.end())
        end = self._close_function(pos, in_block)
        if not name:
            errors.insert(0, "The tool call has no function name: write <function=NAME>.")
        return self._add(start, end, _Found(name, params, " ".join(errors) or None))

    def _parameters(self, pos: int) -> tuple[dict[str, str], list[str], int]:
        params: dict[str, str] = {}
        errors: list[str] = []
        while True:
            here = _skip_space(self.text, pos)
            if stray := _PARAMETER_END.match(self.text, here):
                pos = stray.end()
                continue
            tag = _PARAMETER.match(self.text, here)
            if tag is None:
                return params, errors, pos
            value_end, pos = self._value_end(tag.end())
            raw, head = _name_and_inline_value(tag)
            name = _clean_name(raw)
            if not name:
                errors.append("A parameter has no name: write <parameter=NAME>.")
            elif name in params:
                errors.append(f"Parameter {_quote(name)} was given more than once.")
            else:
                params[name] = _strip_one_newline(head + self.text[tag.end() : value_end])

    def _value_end(self, start: int) -> tuple[int, int]:
        """Where the value starting at `start` ends, and where reading resumes."""
        pos, cut = start, None  # cut: where the value ends if no </parameter> turns up
        for _ in range(_MAX_EXAMPLES + 1):
            boundary = _LINE_BOUNDARY.search(self.text, pos)
            limit = boundary.start() if boundary else len(self.text)
            close = self._value_close(pos, limit, boundary)
            if close is not None:
                return close.start(), close.end()
            if boundary is None or not boundary["opener"] or self.depth >= _MAX_DEPTH:
                end = limit if cut is None else cut  # </parameter> is missing
                return end, end
            after = self._call_end(boundary)
            if after is None:  # the tag named in prose ("<tool_call> wraps..."): part of the value
                pos = boundary.end()
                continue
            # A call starts on a line of its own. Either this value lost its </parameter> and
            # ends there, or the value holds an example call: a </parameter> after it decides.
            cut = limit if cut is None else cut
            pos = after
        end = len(self.text) if cut is None else cut  # too many examples: end at the first
        return end, end

    def _value_close(
        self, start: int, limit: int, boundary: re.Match[str] | None
    ) -> re.Match[str] | None:
        closes = list(_PARAMETER_END.finditer(self.text, start, limit))
        for close in closes:
            if _NEXT_IS_TAG.match(self.text, close.end()):
                return close
        if closes and (boundary is None or boundary["opener"]):
            # The call ended without </function> and text follows: the last close is the real one.
            return closes[-1]
        return None

    def _call_end(self, boundary: re.Match[str]) -> int | None:
        """Where the call starting on the `boundary` line ends; None if it is no call."""
        opener = _CALL_START.match(self.text, boundary.start("opener"))
        if opener is None:
            return None
        probe = _Scanner(self.text, self.fenced, self.depth + 1, self.known)
        return probe._call(opener, opener.start())

    def _close_function(self, pos: int, in_block: bool) -> int:
        here = _skip_space(self.text, pos)
        if func_end := _FUNCTION_END.match(self.text, here):
            pos = func_end.end()
            here = _skip_space(self.text, pos)
        if close := _CLOSE.match(self.text, here):
            return close.end()
        return self._skip_to_close(pos) if in_block else pos

    def _skip_to_close(self, pos: int) -> int:
        """Inside <tool_call>, stray text up to its </tool_call> belongs to the call."""
        found = _CLOSE_OR_NEXT.search(self.text, pos)
        return found.end() if found and found["close"] else pos

    def _function_json(self, start: int, pos: int, in_block: bool) -> int | None:
        """`<function>NAME</function>` then a JSON object of arguments. Outside <tool_call>
        the JSON must follow, or it is prose naming the tag."""
        named = _FUNCTION_NAMED.match(self.text, pos)
        assert named is not None  # the callers matched it
        name, here = named["name"], _skip_space(self.text, named.end())
        arguments: Any = {}
        error = None
        end = named.end()
        if self.text.startswith("{", here):
            try:
                arguments, end = _DECODER.raw_decode(self.text, here)
                check_depth(arguments)
            except (ValueError, RecursionError):
                body = self.text[here : self._block_end(here)]
                arguments, error = _load_lenient(body)
                end = here + len(body)
                if error:
                    error = f"The arguments are not valid JSON ({error})."
        elif not in_block:
            return None
        if self.fenced and (error or not self._known(name)):
            return None
        return self._add(start, self._close_function(end, in_block), _Found(name, arguments, error))

    def _known(self, name: str) -> bool:
        """Whether `name` is a tool (any name counts when the tools are not given)."""
        return self.known is None or name in self.known

    # --- Hermes JSON ---

    def _json(self, start: int, brace: int) -> int | None:
        try:
            obj, end = _DECODER.raw_decode(self.text, brace)
            check_depth(obj)
            error = None
        except (ValueError, RecursionError):
            end = self._block_end(brace)
            body = self.text[brace:end]
            obj, error = _load_lenient(body)
            if error:
                error = f"The tool call is not valid JSON ({error}). It began: {_quote(body, 200)}."
        here = _skip_space(self.text, end)
        close = _CLOSE.match(self.text, here)
        end = close.end() if close else self._skip_to_close(end)
        return self._add_json(start, end, obj, error)

    def _block_end(self, pos: int) -> int:
        tag = _TOOL_CALL_TAG.search(self.text, pos)
        return tag.start() if tag else len(self.text)

    def _add_json(self, start: int, end: int, obj: Any, error: str | None) -> int | None:
        name, arguments = "", None
        if error is None:
            name, arguments, error = _json_call_parts(obj)
        if self.fenced and (error or not self._known(name)):
            return None
        return self._add(start, end, _Found(name, arguments, error))

    # --- Markdown fences ---

    def _fence(self, opener: re.Match[str]) -> int:
        marker = opener["ticks"] or opener["tildes"]
        closer = re.compile(
            rf"^[ \t]{{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$", re.MULTILINE
        )
        body = min(opener.end() + 1, len(self.text))
        close = closer.search(self.text, body)
        body_end = close.start() if close else len(self.text)
        end = close.end() if close else len(self.text)
        inner = _Scanner(self.text[body:body_end], fenced=True, known=self.known).run()
        if inner.found:
            self.found.extend(inner.found)
            if _remove_spans(inner.text, inner.cuts).strip():
                self.cuts.extend((a + body, b + body) for a, b in inner.cuts)
            else:  # the fence held nothing but calls: drop the fence too
                self.cuts.append((opener.start(), end))
        return end


def _after_think(text: str) -> int:
    """Where the search for calls starts: after a leading <think> block, if there is one.

    Only a block at the very start counts; a model that writes "<think>" in prose must not hide
    the calls that follow. An unclosed block hides nothing, for the same reason.
    """
    opener = _THINK_OPEN.match(text)
    close = text.find(_THINK_CLOSE, opener.end()) if opener else -1
    return 0 if close < 0 else close + len(_THINK_CLOSE)


def _json_call_parts(obj: Any) -> tuple[str, Any, str | None]:
    if isinstance(obj, dict) and isinstance(obj.get("function"), dict):
        obj = obj["function"]  # OpenAI style: {"type": "function", "function": {...}}
    if not isinstance(obj, dict):
        return "", None, 'The tool call must be a JSON object: {"name": ..., "arguments": {...}}.'
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return "", None, 'The tool call JSON has no "name".'
    return name.strip(), obj.get("arguments", obj.get("parameters")), None


def _to_tool_call(found: _Found, call_id: str, schemas: ToolSchemas) -> ToolCall:
    arguments = dict(found.arguments) if isinstance(found.arguments, dict) else {}
    problem = None
    if found.name:
        arguments, problem = coerce_arguments(found.name, found.arguments, schemas)
    error = " ".join(e for e in (found.error, problem) if e) or None
    return ToolCall(id=call_id, name=found.name, arguments=arguments, error=error)


def _remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, pos = [], 0
    for start, end in sorted(spans):
        pieces.append(text[pos:start])
        pos = max(pos, end)
    pieces.append(text[pos:])
    return "".join(pieces)


def _skip_space(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _name_and_inline_value(tag: re.Match[str]) -> tuple[str, str]:
    """`<parameter=path=src/a.py</parameter>`: a tag never closed by `>` whose name holds an
    `=` is the name and the start of the value."""
    raw = tag["name"]
    name, equals, head = raw.partition("=")
    if tag.group().endswith(">") or not equals or not _NAME.fullmatch(name.strip()):
        return raw, ""
    return name, head


_NAME = re.compile(r"[\w.-]+")


def _clean_name(raw: str) -> str:
    return raw.strip().strip("\"'").strip()


def _strip_one_newline(value: str) -> str:
    # Only one on each side: the template puts exactly one there, and the rest may be the
    # whitespace an edit must reproduce exactly. A model writing CRLF puts "\r\n" there: the
    # opening newline says which (a value of its own may end in "\r" after an "\n" opening).
    newline = "\r\n" if value.startswith("\r\n") else "\n"
    return value.removeprefix(newline).removesuffix(newline)


# --- lenient JSON -----------------------------------------------------------------------------


def _load_lenient(text: str) -> tuple[Any, str | None]:
    """JSON, else the cheap repairs of what models get wrong; the JSON error if none works."""
    try:
        return loads_bounded(text), None
    except ValueError as exc:
        error = str(exc)
    for candidate in _repairs(text.strip()):
        value = _parse_any(candidate)
        if value is not _NOTHING:
            return value, None
    return None, error


def _repairs(text: str) -> list[str]:
    bases = list(dict.fromkeys([text, _TRAILING_COMMA.sub("", text)]))
    return [base + suffix for suffix in ("", "}", "}}") for base in bases]


def _parse_any(text: str) -> Any:
    """A JSON value or Python literal (`True`, `['a']`, `{'k': 1}`), else _NOTHING."""
    try:
        return loads_bounded(text)
    except ValueError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes in model text warn; they are harmless
        try:
            return check_depth(ast.literal_eval(text))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return _NOTHING


# --- checking and typing arguments ------------------------------------------------------------

_KINDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a JSON array",
    "object": "a JSON object",
    "null": "null",
}
_WORDS: dict[str, dict[str, Any]] = {
    "boolean": {"true": True, "false": False, "yes": True, "no": False},
    "null": {"": None, "null": None, "none": None},
}
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _arguments_object(name: str, raw: Any) -> tuple[dict[str, Any], str | None]:
    if isinstance(raw, str):
        if not raw.strip():
            return {}, None
        value, error = _load_lenient(raw)
        if error:
            where = f"The arguments of {_quote(name)} are not valid JSON ({error})"
            return {}, f"{where}. They began: {_quote(raw, 200)}."
        if isinstance(value, str):  # JSON encoded twice
            inner, inner_error = _load_lenient(value)
            value = value if inner_error else inner
        raw = value
    if raw is None:
        return {}, None
    if isinstance(raw, dict) and depth(raw, MAX_DEPTH) > MAX_DEPTH:  # a server's parsed JSON
        return {}, f"The arguments of {_quote(name)} are nested more than {MAX_DEPTH} levels deep."
    if isinstance(raw, dict):
        return dict(raw), None
    kind = _json_kind(raw)
    return {}, f"The arguments of {_quote(name)} must be a JSON object, not {kind}."


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list | tuple) else "a value of another type"


def _unknown_tool(name: str, schemas: ToolSchemas) -> str:
    if not schemas:
        return f"Unknown tool {_quote(name)}: no tools are available."
    available = ", ".join(schemas)
    return f"Unknown tool {_quote(name)}{_suggestion(name, schemas)}. Available tools: {available}."


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties")
    return properties if isinstance(properties, dict) else {}


def _unknown_parameters(tool: str, arguments: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    properties = _properties(schema)
    if schema.get("additionalProperties", False) is not False:
        return []
    unknown = [str(key) for key in arguments if key not in properties]
    if not unknown:
        return []
    if len(unknown) == 1:
        head = f"Unknown parameter {_quote(unknown[0])}{_suggestion(unknown[0], properties)}"
    else:
        head = "Unknown parameters " + ", ".join(_quote(key) for key in unknown)
    allowed = ", ".join(properties) or "none"
    return [f"{head} for {_quote(tool)}. Allowed parameters: {allowed}."]


def _missing_parameters(tool: str, arguments: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    required = schema.get("required")
    if not isinstance(required, list):
        return []
    missing = [key for key in required if isinstance(key, str) and key not in arguments]
    if not missing:
        return []
    noun = "parameter" if len(missing) == 1 else "parameters"
    return [f"Missing required {noun} for {_quote(tool)}: {', '.join(missing)}."]


def _without_optional_nulls(arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`null` for an optional parameter that is not text means "not given": drop it."""
    required = set(schema.get("required") or [])
    properties = _properties(schema)

    def given(key: str, value: Any) -> bool:
        kinds = _schema_types(properties.get(key))
        if key in required or "null" in kinds:  # a schema that allows null types it itself
            return True
        if value is None:
            return False
        null_text = isinstance(value, str) and value.strip() == "null"
        return not (null_text and "string" not in kinds)

    return {key: value for key, value in arguments.items() if given(key, value)}


def _typed(
    tool: str, arguments: dict[str, Any], properties: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    typed: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in arguments.items():
        kinds = [kind for kind in _schema_types(properties.get(key)) if kind in _KINDS]
        typed[key], ok = _coerce_value(value, kinds)
        if not ok:
            expected = " or ".join(_KINDS[kind] for kind in kinds)
            shown = value if isinstance(value, str) else _to_text(value)
            problems.append(
                f"Parameter {_quote(str(key))} of {_quote(tool)} must be {expected}, "
                f"not {_quote(shown)}."
            )
    return typed, problems


def _schema_types(schema: Any) -> list[str]:
    """The JSON types a schema allows, unions and anyOf/oneOf included; [] means any."""
    if not isinstance(schema, dict):
        return []
    declared = schema.get("type")
    if isinstance(declared, str):
        kinds = [declared]
    else:
        kinds = [k for k in declared if isinstance(k, str)] if isinstance(declared, list) else []
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        for option in options if isinstance(options, list) else []:
            kinds.extend(_schema_types(option))
    return list(dict.fromkeys(kinds))


def _coerce_value(value: Any, kinds: list[str]) -> tuple[Any, bool]:
    if not kinds or (isinstance(value, str) and "string" in kinds):
        return value, True  # text is never reinterpreted when text is allowed
    if isinstance(value, str):
        return _from_text(value, kinds)
    for kind in kinds:
        ok, converted = _as_kind(value, kind)
        if ok:
            return converted, True
    if "string" in kinds and isinstance(value, int | float):
        return _to_text(value), True  # a bare number where text was meant, e.g. a path 2024
    return value, False


def _from_text(text: str, kinds: list[str]) -> tuple[Any, bool]:
    stripped = text.strip()
    parsed = _parse_any(stripped)
    if isinstance(parsed, str) and {"array", "object"} & set(kinds):
        again = _parse_any(parsed.strip())  # JSON text encoded as a JSON string: once more
        parsed = parsed if again is _NOTHING else again
    for kind in kinds:
        if parsed is not _NOTHING:
            ok, converted = _as_kind(parsed, kind)
            if ok:
                return converted, True
        word = _WORDS.get(kind, {}).get(stripped.lower(), _NOTHING)
        if word is not _NOTHING:
            return word, True
    return text, False


def _as_kind(value: Any, kind: str) -> tuple[bool, Any]:
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False, value  # bool is an int subclass in Python, not in JSON
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return isinstance(value, int), value
    if kind == "number":
        return isinstance(value, int | float), value
    if kind == "array" and isinstance(value, tuple):
        return True, list(value)
    return isinstance(value, _PYTHON_TYPES[kind]), value


def _to_text(value: Any) -> str:
    try:
        return dumps_bounded(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(bound(value, MAX_DEPTH))


def _suggestion(word: str, options: dict[str, Any]) -> str:
    names = [name for name in options if isinstance(name, str)]
    close = difflib.get_close_matches(word, names, n=1)
    return f" (did you mean {_quote(close[0])}?)" if close else ""


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def schemas_of(tools: list[dict[str, Any]]) -> ToolSchemas:
    """Tool name -> argument schema, from an OpenAI `tools` list."""
    functions = (t.get("function") or {} for t in tools)
    return {f["name"]: f.get("parameters") or {} for f in functions if f.get("name")}


def assistant_turns(messages: list[dict[str, Any]]) -> int:
    """How many assistant messages the history holds: the base of stable call ids."""
    return sum(1 for m in messages if m.get("role") == "assistant")
