"""OpenAICompatModel against a real HTTP server speaking the chat-completions API."""

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from glasscoder.guard import egress
from glasscoder.guard.audit import AuditLog, body_bytes, iter_records, verify
from glasscoder.models.base import ModelError, Usage
from glasscoder.models.openai_compat import OpenAICompatModel
from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall, unused_port
from tests.fakes.raw_server import RawServer


def tool(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "type": "function",
        "function": {"name": name, "description": name, "parameters": schema},
    }


TOOLS = [
    tool("read_file", {"path": {"type": "string"}, "start_line": {"type": "integer"}}, ["path"]),
    tool("run_shell", {"command": {"type": "string"}, "timeout": {"type": "number"}}, ["command"]),
]
USER = [{"role": "user", "content": "Fix the failing test."}]
XML_CALL = (
    "I'll read the file first.\n<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/calc.py\n"
    "</parameter>\n<parameter=start_line>\n3\n</parameter>\n</function>\n</tool_call>"
)

MakeModel = Callable[..., OpenAICompatModel]


@pytest.fixture
def srv() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


@pytest.fixture
def make_model(audit: AuditLog) -> Iterator[MakeModel]:
    made: list[OpenAICompatModel] = []

    def make(endpoint: str, **kwargs: Any) -> OpenAICompatModel:
        kwargs.setdefault("audit", audit)
        kwargs.setdefault("timeout", 10.0)
        model = OpenAICompatModel(endpoint, kwargs.pop("model", "fake-model"), **kwargs)
        made.append(model)
        return model

    yield make
    for model in made:
        model.close()


def test_streamed_text_arrives_in_pieces(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    text = "The bug is in add(): it subtracts. I will change - to +."
    srv.add(text)
    pieces: list[str] = []
    reply = make_model(srv.base_url).complete(USER, TOOLS, on_text=pieces.append)
    assert reply.content == text and reply.tool_calls == []
    assert len(pieces) > 1 and "".join(pieces) == text
    assert reply.usage == Usage(11, 7) and reply.finish_reason == "stop"
    sent = srv.requests[0].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == USER and sent["model"] == "fake-model"


def test_plain_reply_without_streaming(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    srv.add(FakeReply(content="Done.", usage={"prompt_tokens": 120, "completion_tokens": 3}))
    shown: list[str] = []
    reply = make_model(srv.base_url, stream=False).complete(USER, TOOLS, on_text=shown.append)
    assert reply.content == "Done." and reply.finish_reason == "stop"
    assert shown == ["Done."]  # shown once, whole
    assert reply.usage == Usage(120, 3)
    assert not srv.requests[0].json.get("stream")


@pytest.mark.parametrize("stream", [True, False])
def test_native_tool_calls_are_typed_by_schema(
    srv: FakeOpenAIServer, make_model: MakeModel, stream: bool
) -> None:
    srv.add(
        FakeReply(
            tool_calls=[
                FakeToolCall("read_file", '{"path": "src/calc.py", "start_line": "3"}'),
                FakeToolCall("run_shell", {"command": "pytest -q", "timeout": "60"}, id="call_x"),
            ]
        )
    )
    reply = make_model(srv.base_url, stream=stream).complete(USER, TOOLS)
    first, second = reply.tool_calls
    assert (first.id, first.name, first.arguments) == (
        "call_fake_0",
        "read_file",
        {"path": "src/calc.py", "start_line": 3},
    )
    assert (second.id, second.arguments) == ("call_x", {"command": "pytest -q", "timeout": 60})
    assert first.error is None and second.error is None
    assert reply.finish_reason == "tool_calls" and reply.content == ""


@pytest.mark.parametrize("stream", [True, False])
def test_broken_native_arguments_become_an_error_for_the_model(
    srv: FakeOpenAIServer, make_model: MakeModel, stream: bool
) -> None:
    srv.add(FakeReply(tool_calls=[FakeToolCall("read_file", "path = src/calc.py")]))
    (call,) = make_model(srv.base_url, stream=stream).complete(USER, TOOLS).tool_calls
    assert call.name == "read_file" and call.error and "not valid JSON" in call.error


@pytest.mark.parametrize("stream", [True, False])
def test_xml_tool_calls_in_content_are_parsed(
    srv: FakeOpenAIServer, make_model: MakeModel, stream: bool
) -> None:
    srv.add(FakeReply(content=XML_CALL, finish_reason="stop"))
    shown: list[str] = []
    reply = make_model(srv.base_url, stream=stream).complete(USER, TOOLS, on_text=shown.append)
    (call,) = reply.tool_calls
    assert call.name == "read_file" and call.arguments == {"path": "src/calc.py", "start_line": 3}
    assert reply.content == "I'll read the file first."
    assert "".join(shown).strip() == "I'll read the file first."  # markup is parsed, not shown


def test_text_with_angle_brackets_streams_whole(
    srv: FakeOpenAIServer, make_model: MakeModel
) -> None:
    text = "Compare: if a < b and c <tool or d <= e then <func stays."
    srv.add(text)
    shown: list[str] = []
    make_model(srv.base_url).complete(USER, TOOLS, on_text=shown.append)
    assert "".join(shown) == text


def test_missing_ids_are_deterministic_and_unique(
    srv: FakeOpenAIServer, make_model: MakeModel
) -> None:
    calls = [FakeToolCall("read_file", {"path": p}, omit_id=True) for p in ("a.py", "b.py")]
    srv.add(FakeReply(tool_calls=calls), FakeReply(tool_calls=calls))
    first = make_model(srv.base_url).complete(USER, TOOLS).tool_calls
    again = make_model(srv.base_url).complete(USER, TOOLS).tool_calls
    ids = [c.id for c in first]
    assert all(ids) and len(set(ids)) == 2
    assert ids == [c.id for c in again]  # same history, same ids: the prompt stays cacheable


def test_ids_differ_from_turn_to_turn(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    srv.add(XML_CALL, XML_CALL)
    model = make_model(srv.base_url)
    first = model.complete(USER, TOOLS)
    history = [*USER, first.to_message(), _tool_result(first.tool_calls[0].id)]
    second = model.complete(history, TOOLS)
    assert first.tool_calls[0].id != second.tool_calls[0].id


def _tool_result(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "def add(a, b): ..."}


def test_tool_arguments_are_json_strings_on_the_wire(
    srv: FakeOpenAIServer, make_model: MakeModel
) -> None:
    srv.add("ok")
    arguments = {"path": "src/calc.py", "start_line": 3}
    call = {"id": "call_1", "type": "function",
            "function": {"name": "read_file", "arguments": arguments}}  # fmt: skip
    history = [*USER, {"role": "assistant", "content": "", "tool_calls": [call]},
               _tool_result("call_1")]  # fmt: skip
    make_model(srv.base_url).complete(history, TOOLS)
    wire = srv.requests[0].json["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert isinstance(wire, str) and json.loads(wire) == arguments
    assert history[1]["tool_calls"][0]["function"]["arguments"] == arguments  # not mutated


def test_only_what_is_set_is_sent(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    srv.add("a", "b")
    make_model(srv.base_url).complete(USER, [])
    tuned = make_model(
        srv.base_url, temperature=0.7, top_p=0.8, max_tokens=512, extra_body={"top_k": 20}
    )
    tuned.complete(USER, TOOLS)
    plain, sampled = srv.requests[0].json, srv.requests[1].json
    assert not {"tools", "tool_choice", "temperature", "top_p", "max_tokens"} & plain.keys()
    assert sampled["tools"] == TOOLS and "tool_choice" not in sampled
    assert (sampled["temperature"], sampled["top_p"], sampled["max_tokens"]) == (0.7, 0.8, 512)
    assert sampled["top_k"] == 20


@pytest.mark.parametrize("stream", [True, False])
def test_missing_usage_counts_as_zero(
    srv: FakeOpenAIServer, make_model: MakeModel, stream: bool
) -> None:
    srv.add(FakeReply(content="hi", usage=None))
    assert make_model(srv.base_url, stream=stream).complete(USER, TOOLS).usage == Usage(0, 0)


def test_rejected_stream_options_are_dropped(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    srv.add(FakeReply(status=400, error_body="Unrecognized request argument: stream_options"))
    srv.add("first", "second")
    model = make_model(srv.base_url)
    assert model.complete(USER, TOOLS).content == "first"
    assert model.complete(USER, TOOLS).content == "second"
    sent = [r.json for r in srv.requests]
    assert "stream_options" in sent[0]
    assert "stream_options" not in sent[1] and "stream_options" not in sent[2]


def test_other_bad_requests_are_reported(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    too_long = "This model's maximum context length is 32768 tokens."
    srv.add(FakeReply(status=400, error_body=too_long), FakeReply(status=400, error_body=too_long))
    with pytest.raises(ModelError, match=r"HTTP 400.*maximum context length"):
        make_model(srv.base_url).complete(USER, TOOLS)


def test_stream_cut_mid_way_fails_clearly_and_stays_on_record(
    srv: FakeOpenAIServer, make_model: MakeModel, audit: AuditLog
) -> None:
    srv.add(FakeReply(content="a long answer that never finishes " * 3, cut_after=5))
    shown: list[str] = []
    with pytest.raises(ModelError, match="cut off mid-stream"):
        make_model(srv.base_url).complete(USER, TOOLS, on_text=shown.append)
    assert shown  # what arrived was shown
    response = next(r for r in iter_records(audit.path) if r["kind"] == "response")
    assert response["ended"] == "error"
    assert body_bytes(response) == bytes(srv.requests[0].response_body)
    assert len(srv.requests) == 1  # a broken stream is not silently re-sent


def test_stream_without_finish_reason_is_a_cut(
    srv: FakeOpenAIServer, make_model: MakeModel
) -> None:
    srv.add(FakeReply(content="half an ans", omit_finish_reason=True))
    with pytest.raises(ModelError, match=r"cut off mid-stream.*finish_reason"):
        make_model(srv.base_url).complete(USER, TOOLS)


def test_dead_endpoint_is_a_clear_error(make_model: MakeModel, audit: AuditLog) -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}/v1"
    with pytest.raises(ModelError) as caught:
        make_model(endpoint).complete(USER, TOOLS)
    message = str(caught.value)
    assert message.startswith(f"Cannot reach the model endpoint at {endpoint}: ")
    assert "refused" in message.lower()
    assert message.endswith("Start the server or pass --endpoint.")
    kinds = {r["kind"] for r in iter_records(audit.path)}
    assert kinds == {"request", "error"}  # what was attempted is on record


def test_timeout_is_a_clear_error(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    srv.add(FakeReply(content="late", delay=60), FakeReply(content="late", delay=60))
    # request_timeout bounds the request as a whole, headers included.
    within = r"did not finish its reply within 0.3 s \(request_timeout"
    with pytest.raises(ModelError, match=within):
        make_model(srv.base_url, timeout=0.3).complete(USER, TOOLS)


def test_wrong_api_key_names_the_variable(make_model: MakeModel) -> None:
    with FakeOpenAIServer(api_key="right-key") as guarded:
        model = make_model(guarded.base_url, api_key="wrong-key", api_key_env="VLLM_KEY")
        with pytest.raises(ModelError, match=r"HTTP 401.*VLLM_KEY"):
            model.complete(USER, TOOLS)


def test_forbidden_names_the_variable(srv: FakeOpenAIServer, make_model: MakeModel) -> None:
    srv.add(FakeReply(status=403))
    with pytest.raises(ModelError, match=r"HTTP 403.*GLASSCODER_API_KEY"):
        make_model(srv.base_url).complete(USER, TOOLS)


def test_not_found_names_the_model_and_the_v1_path(
    srv: FakeOpenAIServer, make_model: MakeModel
) -> None:
    with pytest.raises(ModelError) as caught:
        make_model(srv.url, model="qwen3-coder-30b").complete(USER, TOOLS)  # no /v1
    message = str(caught.value)
    assert "404" in message and "'qwen3-coder-30b'" in message and "/v1" in message


def test_server_error_shows_status_and_excerpt(
    srv: FakeOpenAIServer, make_model: MakeModel
) -> None:
    boom = FakeReply(status=500, error_body="CUDA out of memory while allocating the KV cache")
    srv.add(boom, boom)  # one retry
    with pytest.raises(ModelError, match=r"HTTP 500.*CUDA out of memory"):
        make_model(srv.base_url).complete(USER, TOOLS)


def test_audit_holds_exactly_what_the_server_received(
    srv: FakeOpenAIServer, make_model: MakeModel, audit: AuditLog
) -> None:
    srv.add(XML_CALL, FakeReply(content="Fixed.", tool_calls=[FakeToolCall("run_shell", {})]))
    model = make_model(srv.base_url, api_key="sk-local-secret")
    first = model.complete(USER, TOOLS)
    history = [*USER, first.to_message(), _tool_result(first.tool_calls[0].id)]
    model.complete(history, TOOLS)
    requests = [r for r in iter_records(audit.path) if r["kind"] == "request"]
    assert [body_bytes(r) for r in requests] == [r.body for r in srv.requests]
    assert requests[1]["body"]["messages"][1]["content"] == "I'll read the file first."
    assert srv.requests[0].headers["authorization"] == "Bearer sk-local-secret"
    assert b"sk-local-secret" not in audit.path.read_bytes()
    assert verify(audit.path).ok


def test_no_machine_details_are_sent(
    srv: FakeOpenAIServer, make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-from-env")
    srv.add("ok")
    make_model(srv.base_url).complete(USER, TOOLS)
    headers = srv.requests[0].headers
    assert not [h for h in headers if h.startswith(("x-stainless", "openai-"))], headers
    assert headers["user-agent"].startswith("glasscoder/")


def test_importing_the_module_does_not_import_openai() -> None:
    code = "import sys, glasscoder.models.openai_compat; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- servers that send what no schema allows ----------------------------------------------


def completion(message: Any, **extra: Any) -> bytes:
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    body = {"id": "x", "object": "chat.completion", "choices": [choice], **extra}
    return json.dumps(body).encode()


def chunk(delta: Any, finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "x", "object": "chat.completion.chunk", "choices": [choice], **extra}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        (b'{"choices": 5}', "not a chat completion"),
        (completion(None), "not a chat completion"),
        (b"<html>Bad gateway</html>", "not a chat completion"),  # served as text/html
    ],
    ids=["invalid-json", "empty-200", "choices-not-a-list", "null-message", "html-200"],
)
def test_a_reply_that_is_not_a_completion_is_a_model_error(
    make_model: MakeModel, body: bytes, message: str
) -> None:
    kind = "text/html" if body.startswith(b"<html") else "application/json"
    with RawServer(body, content_type=kind) as raw, pytest.raises(ModelError, match=message):
        make_model(raw.base_url, stream=False).complete(USER, TOOLS)


def test_fields_of_the_wrong_type_are_read_not_crashed_on(make_model: MakeModel) -> None:
    message = {"role": "assistant", "content": 5, "tool_calls": [
        {"id": [1], "type": "function", "function": {"name": "read_file", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": None, "arguments": None}},
        {"id": "c", "type": "function", "function": None}, 7]}  # fmt: skip
    body = completion(message, usage={"prompt_tokens": "many", "completion_tokens": -3})
    with RawServer(body) as raw:
        reply = make_model(raw.base_url, stream=False).complete(USER, TOOLS)
    assert reply.content == "5" and reply.usage == Usage(0, 0)
    assert [(c.id, c.name) for c in reply.tool_calls] == [("call_0_0", "read_file"), ("b", "")]
    assert reply.tool_calls[1].error  # an unnamed call goes back to the model as an error


def test_streamed_fields_of_the_wrong_type(make_model: MakeModel) -> None:
    events = [
        chunk({"content": 5}),
        chunk({"tool_calls": [{"index": 0, "id": 9, "function": {"name": 5, "arguments": {}}}]}),
        chunk({}, "tool_calls", usage={"prompt_tokens": float("nan")}).replace(b"NaN", b'"x"'),
        b"[DONE]",
    ]
    with RawServer(events=events) as raw:
        reply = make_model(raw.base_url).complete(USER, TOOLS)
    assert reply.content == "5" and reply.usage == Usage(0, 0)
    assert [(c.name, c.error is not None) for c in reply.tool_calls] == [("5", True)]


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "plain"])
def test_an_endless_or_huge_reply_is_cut_off(
    make_model: MakeModel, audit: AuditLog, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setattr(egress, "MAX_RESPONSE_BYTES", 200_000)  # 64 MiB in real use
    if stream:
        raw = RawServer(events=[chunk({"content": "A" * 4096})], repeat=True)
    else:
        raw = RawServer(completion({"role": "assistant", "content": "A" * 300_000}))
    with raw, pytest.raises(ModelError, match="passed 200000 bytes without ending"):
        make_model(raw.base_url, stream=stream).complete(USER, TOOLS)
    response = next(r for r in iter_records(audit.path) if r["kind"] == "response")
    assert response["ended"] == "error" and response["bytes"] <= 200_000 + 64 * 1024
