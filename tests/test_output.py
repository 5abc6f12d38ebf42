"""Printers and safetext: any model or repository text keeps JSON valid and terminals safe."""

import io
import json

import pytest

from glasscoder.agent.loop import Outcome
from glasscoder.cli.output import JsonOutput, StreamJsonOutput, TextOutput
from glasscoder.models.base import Usage
from glasscoder.safetext import printable, scrub

HOSTILE = "ok \ud800 \udcff \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J\rfake\x00 \u202e"


def assistant(args: dict) -> dict:
    call = {"id": "c", "type": "function", "function": {"name": "read_file", "arguments": args}}
    return {"type": "assistant", "content": HOSTILE, "tool_calls": [call]}


def outcome(result: str = HOSTILE) -> Outcome:
    return Outcome("done", "completed", result, 1, Usage(1, 2), ["\udcff.py"])


def strict_json(line: str) -> dict:
    def refuse(value: str) -> None:
        raise ValueError(f"not JSON: {value}")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("printer", [JsonOutput, StreamJsonOutput])
def test_json_outputs_stay_strict_json(printer) -> None:
    out = io.StringIO()
    p = printer(out=out, err=io.StringIO())
    p.event(assistant({"offset": float("inf")}))
    p.event({"type": "tool_result", "is_error": False, "content": HOSTILE})
    p.notice(HOSTILE)
    p.final(outcome(), "sid")
    lines = out.getvalue().splitlines()
    out.getvalue().encode("utf-8")  # writable to a real UTF-8 stdout
    events = [strict_json(line) for line in lines]
    assert events[-1]["result"].startswith("ok \ufffd \ufffd")
    assert events[-1]["files_changed"] == ["\ufffd.py"]


def test_text_output_neither_crashes_nor_passes_escapes_to_the_terminal() -> None:
    out, err = io.StringIO(), io.StringIO()
    p = TextOutput(out=out, err=err)
    p.event({"type": "text", "text": HOSTILE})
    p.event(assistant({"path": "\x1b[31mx"}))
    p.event({"type": "tool_result", "is_error": True, "content": "Error: \x1b[2J"})
    p.final(outcome(), "sid")
    shown = out.getvalue() + err.getvalue()
    shown.encode("utf-8")
    assert "\x1b" not in shown and "\x07" not in shown and "\x00" not in shown
    assert "\\x1b]52;c;" in shown and "\\x0dfake" in shown  # visible, not acted on


def test_scrub_and_printable() -> None:
    assert scrub({"a": ["\U0001f600", "\ud800", float("nan"), 1.5, None]}) == {
        "a": ["\U0001f600", "\ufffd", "nan", 1.5, None]
    }
    assert printable("line\r\nnext\ttab\x9b") == "line\r\nnext\ttab\\x9b"


def test_json_usage_shows_kv_cache_counters_only_for_embedded_models() -> None:
    server = Outcome("done", "completed", "ok", 1, Usage(10, 2), [])
    embedded = Outcome("done", "completed", "ok", 1, Usage(10, 2, 10, 0), [])
    for result, extra in ((server, {}), (embedded, {"evaluated_tokens": 10, "reused_tokens": 0})):
        out = io.StringIO()
        JsonOutput(out, io.StringIO()).final(result, "s1")
        usage = strict_json(out.getvalue())["usage"]
        assert usage == {"prompt_tokens": 10, "completion_tokens": 2, **extra}
    total = Usage(10, 2, 10, 0)
    total.add(Usage(15, 3, 5, 10))
    assert total == Usage(25, 5, 15, 10)
