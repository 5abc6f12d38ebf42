"""Whole request bodies redacted string by string, escapes and nested JSON included."""

from __future__ import annotations

import json
from typing import Any

from glasscoder.guard.body_redaction import redact_body
from glasscoder.guard.placeholders import PlaceholderGuard
from glasscoder.guard.redact import KnownSecret, Redactor
from glasscoder.tools.edit import EditFile
from glasscoder.tools.files import ReadFile
from glasscoder.tools.shell import RunShell

TOKEN = "q8Zr4TnW2xLp9VbK7mHc3JdY"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\nc2gtZWQyNTUxOQAAACDdPbX1oK7dPbX1oK7dPbX1oK7dPbX1oK7dPbX1oK7dPbX1oK7\n-----END OPENSSH PRIVATE KEY-----"  # noqa: E501


def redactor() -> Redactor:
    return Redactor([KnownSecret(TOKEN, "env-secret", "env DEPLOY_TOKEN")], use_library=False)


def chat(*contents: str, arguments: dict[str, Any] | None = None) -> bytes:
    messages: list[dict[str, Any]] = [{"role": "user", "content": c} for c in contents]
    if arguments is not None:
        call = {"id": "c1", "type": "function",
                "function": {"name": "write_file", "arguments": json.dumps(arguments)}}  # fmt: skip
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    body = {"model": "m", "messages": messages}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def test_a_clean_body_goes_out_byte_for_byte() -> None:
    body = chat("nothing to hide here", arguments={"path": "a.py", "content": "x = 1"})
    assert redact_body(body, redactor()) == (body, {})


def test_secrets_in_messages_and_tool_arguments_are_replaced_and_counted() -> None:
    body = chat(f"token={TOKEN}", f"again {TOKEN}", arguments={"content": f"T = '{TOKEN}'"})
    clean, counts = redact_body(body, redactor())
    assert TOKEN.encode() not in clean
    assert counts == {"env-secret": 3}
    sent = json.loads(clean)
    assert sent["messages"][0]["content"] == "token=[REDACTED:env-secret:1]"
    arguments = json.loads(sent["messages"][2]["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"content": "T = '[REDACTED:env-secret:1]'"}  # still valid JSON


def test_a_multiline_secret_is_found_although_the_wire_escapes_its_newlines() -> None:
    body = chat(f"here is my key:\n{KEY}\nthanks")
    assert b"\\n" in body  # the wire form the raw bytes would have to be matched in
    clean, counts = redact_body(body, redactor())
    assert b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" not in clean
    assert sum(counts.values()) == 1
    assert json.loads(clean)["messages"][0]["content"].startswith("here is my key:\n[REDACTED:")


def test_bodies_that_are_not_json_are_redacted_as_text() -> None:
    clean, counts = redact_body(f"prompt with {TOKEN} inside".encode(), redactor())
    assert clean == b"prompt with [REDACTED:env-secret:1] inside"
    assert counts == {"env-secret": 1}
    binary = b"\xff\xfe" + TOKEN.encode()
    clean, counts = redact_body(binary, redactor())
    assert TOKEN.encode() not in clean and counts == {"env-secret": 1}


def test_placeholders_written_back_are_refused_unless_restoring_is_chosen() -> None:
    r = redactor()
    shown, _ = r.redact(f"API = '{TOKEN}'")
    placeholder = shown.split("'")[1]
    args = {"path": "cfg.py", "old_string": placeholder, "new_string": "os.environ['T']"}
    kept, refusal = PlaceholderGuard(r).screen(EditFile(), args)
    assert kept == args and refusal is not None and placeholder in refusal
    _, refusal = PlaceholderGuard(r).screen(RunShell(), {"command": f"curl -H {placeholder}"})
    assert refusal is not None
    assert PlaceholderGuard(r).screen(ReadFile(), {"path": placeholder}) == (
        {"path": placeholder}, None)  # fmt: skip
    restored, refusal = PlaceholderGuard(r, restore=True).screen(EditFile(), args)
    assert refusal is None and restored["old_string"] == TOKEN


def test_placeholder_lookalikes_the_session_never_issued_pass() -> None:
    r = redactor()
    r.redact(f"x {TOKEN}")
    args = {"path": "t.py", "content": "assert out == '[REDACTED:aws-secret-key:7]'"}
    assert PlaceholderGuard(r).screen(EditFile(), args) == (args, None)


def test_a_lone_surrogate_beside_a_secret_stays_escaped() -> None:
    body = ('{"messages":[{"role":"user","content":"\\ud800 ' + TOKEN + '"}]}').encode()
    clean, counts = redact_body(body, redactor())
    assert counts == {"env-secret": 1}
    assert json.loads(clean)["messages"][0]["content"] == "\ud800 [REDACTED:env-secret:1]"


def test_a_json_message_keeps_the_names_that_mark_its_secrets() -> None:
    content = json.dumps({"db_password": "Tr0ub4dor-x9Qm2Lk7Vz", "host": "db.internal"})
    body = json.dumps({"messages": [{"role": "tool", "content": content}]}).encode()
    clean, counts = redact_body(body, Redactor(use_library=False))
    assert b"Tr0ub4dor-x9Qm2Lk7Vz" not in clean and sum(counts.values()) == 1
    assert json.loads(json.loads(clean)["messages"][0]["content"])["host"] == "db.internal"
