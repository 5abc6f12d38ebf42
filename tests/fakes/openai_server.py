"""A real OpenAI-compatible HTTP server on 127.0.0.1, replaying scripted replies.

It speaks POST /v1/chat/completions (plain JSON, or SSE when the request says "stream": true)
and GET /v1/models, and records every request it receives, byte for byte::

    with FakeOpenAIServer(replies=["Hello!", FakeReply(tool_calls=[FakeToolCall("f", {})])]) as srv:
        model = OpenAICompatModel(srv.base_url, "fake-model")
        ...
        srv.requests[0].json["messages"], srv.requests[0].body, srv.requests[0].response_body

Each POST to the chat route takes the next reply from the queue (a plain string is a reply with
that content); an empty queue answers HTTP 500. Streamed content is sent in pieces of
``chunk_size`` characters and tool-call arguments in fragments, so clients must assemble them.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"


@dataclass
class FakeToolCall:
    name: str
    arguments: str | dict[str, Any]  # a dict is sent as its JSON text; a str as is (even broken)
    id: str | None = None  # None: "call_fake_<index>"
    omit_id: bool = False  # send no id at all, as some servers do


@dataclass
class FakeReply:
    content: str = ""
    tool_calls: list[FakeToolCall] = field(default_factory=list)
    usage: dict[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 7}
    )  # None: the server reports no usage
    finish_reason: str | None = None  # None: "tool_calls" when there are calls, else "stop"
    omit_finish_reason: bool = False  # never send a finish_reason (a stream that just stops)
    status: int = 200  # anything else: answer with this status and error_body instead
    error_body: str | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    cut_after: int | None = None  # streaming: drop the connection after this many SSE events
    stall_after: int | None = None  # streaming: after this many SSE events, silence until hang-up
    delay: float = 0.0  # seconds to wait before answering (cut short when the server stops)
    # Streaming, never ending until the client hangs up: an SSE keep-alive comment every
    # `keepalive` seconds and no token, or one content token every `trickle` seconds.
    keepalive: float | None = None
    trickle: float | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # exactly as received
    json: Any  # the parsed body; None when it is not JSON
    response_body: bytearray = field(default_factory=bytearray)  # sent back, minus chunk framing


Scripted = str | FakeReply


class FakeOpenAIServer:
    def __init__(
        self,
        replies: Iterable[Scripted] = (),
        model: str = "fake-model",
        api_key: str | None = None,  # when set, requests without "Bearer <api_key>" get 401
        chunk_size: int = 7,
        max_model_len: int | None = None,  # said in GET /v1/models, as vLLM says it
        props_n_ctx: int | None = None,  # said in GET /props, as llama.cpp's server says it
        context_tokens: int | None = None,  # a longer prompt gets vLLM's HTTP 400
        summary_reply: str | None = None,  # the answer to a request with no tools (a summary)
    ) -> None:
        self.summary_reply = summary_reply
        self.model = model
        self.max_model_len = max_model_len
        self.props_n_ctx = props_n_ctx
        self.context_tokens = context_tokens
        self.api_key = api_key
        self.chunk_size = chunk_size
        self.requests: list[RecordedRequest] = []
        self._replies: deque[FakeReply] = deque(_as_reply(r) for r in replies)
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def add(self, *replies: Scripted) -> None:
        with self._lock:
            self._replies.extend(_as_reply(r) for r in replies)

    @property
    def remaining(self) -> int:
        return len(self._replies)

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> Self:
        httpd = self._httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        # A short poll interval, since stop() waits for the serve loop to notice.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_reply(self) -> FakeReply | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def prompt_tokens(request: Any) -> int:
    """The fake's token count of a request: its messages' JSON, four characters a token."""
    messages = request.get("messages") if isinstance(request, dict) else None
    return len(json.dumps(messages)) // 4 if messages else 0


def unused_port() -> int:
    """A local port with nothing listening on it: a dead endpoint."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like real inference servers
    # Replies are written in pieces; without this, Nagle and delayed ACKs add ~40 ms each.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        rec = self._record(b"")
        if self.path == MODELS_PATH:
            entry: dict[str, Any] = {"id": self.fake.model, "object": "model"}
            if self.fake.max_model_len:
                entry["max_model_len"] = self.fake.max_model_len
            models = {"object": "list", "data": [entry]}
            self._send_json(200, models, rec)
        elif self.path == "/props" and self.fake.props_n_ctx:
            props = {"default_generation_settings": {"n_ctx": self.fake.props_n_ctx}}
            self._send_json(200, props, rec)
        else:
            self._send_error(404, f"no route GET {self.path}", rec)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        rec = self._record(self.rfile.read(length))
        if self.path != CHAT_PATH:
            return self._send_error(404, f"no route POST {self.path}", rec)
        if self.fake.api_key and self.headers.get("Authorization") != f"Bearer {self.fake.api_key}":
            return self._send_error(401, "Incorrect API key provided.", rec)
        used = prompt_tokens(rec.json)
        limit = self.fake.context_tokens
        if limit is not None and used > limit:  # vLLM's words, checked by glasscoder's parser
            message = (f"This model's maximum context length is {limit} tokens. However, you "
                       f"requested {used} tokens in the messages. Please reduce the length of "
                       "the messages.")  # fmt: skip
            return self._send_error(400, message, rec)
        asks_summary = isinstance(rec.json, dict) and not rec.json.get("tools")
        if self.fake.summary_reply is not None and asks_summary:
            reply: FakeReply | None = FakeReply(content=self.fake.summary_reply)
        else:
            reply = self.fake.next_reply()
        if reply is None:
            return self._send_error(500, "FakeOpenAIServer has no scripted reply left", rec)
        if reply.delay:
            self.fake.stopping.wait(reply.delay)
        if limit is not None and reply.usage is not None:  # a window: count as it counts
            reply = replace(reply, usage={**reply.usage, "prompt_tokens": used})
        self._answer(reply, rec)

    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake

    def _record(self, body: bytes) -> RecordedRequest:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = RecordedRequest(self.command, self.path, headers, body, parsed)
        self.fake.record(rec)
        return rec

    def _answer(self, reply: FakeReply, rec: RecordedRequest) -> None:
        if reply.status != 200:
            body = reply.error_body if reply.error_body is not None else "scripted failure"
            return self._send_error(reply.status, body, rec, reply.headers)
        request = rec.json if isinstance(rec.json, dict) else {}
        if request.get("stream") and (reply.keepalive or reply.trickle):
            return self._send_endless(reply, rec)
        if request.get("stream"):
            options = request.get("stream_options") or {}
            events = _stream_events(reply, self.fake, bool(options.get("include_usage")))
            return self._send_sse(events, reply, rec)
        self._send_json(200, _completion(reply, self.fake.model), rec, reply.headers)

    def _send_error(
        self,
        status: int,
        body: str | dict[str, Any],
        rec: RecordedRequest,
        headers: dict[str, str] | None = None,
    ) -> None:
        if isinstance(body, str):
            body = {"error": {"message": body, "type": "fake_error", "code": status}}
        self._send_json(status, body, rec, headers)

    def _send_json(
        self,
        status: int,
        payload: Any,
        rec: RecordedRequest,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        rec.response_body += data
        self.wfile.write(data)

    def _send_sse(self, events: list[bytes], reply: FakeReply, rec: RecordedRequest) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for n, event in enumerate(events):
            if reply.cut_after is not None and n >= reply.cut_after:
                self.close_connection = True  # no final chunk: the body is cut mid-way
                return
            if reply.stall_after is not None and n >= reply.stall_after:
                self.fake.stopping.wait()  # the connection stays open and says nothing
                self.close_connection = True
                return
            rec.response_body += event  # before writing: once the client has it, so has rec
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def _send_endless(self, reply: FakeReply, rec: RecordedRequest) -> None:
        """A stream that never finishes: pings or single tokens until the client leaves."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        token = _chunk(self.fake.model, [{"index": 0, "delta": {"content": "x"}}])
        data = b"data: " + json.dumps(token).encode() + b"\n\n"
        event = b": ping\n\n" if reply.keepalive else data
        interval = reply.keepalive or reply.trickle or 1.0
        try:
            while not self.fake.stopping.is_set():
                rec.response_body += event
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                self.fake.stopping.wait(interval)
        except OSError:
            pass  # the client hung up: what this stream is for
        self.close_connection = True


def _as_reply(item: Scripted) -> FakeReply:
    return FakeReply(content=item) if isinstance(item, str) else item


def _call_id(call: FakeToolCall, index: int) -> dict[str, str]:
    return {} if call.omit_id else {"id": call.id or f"call_fake_{index}"}


def _arguments_text(call: FakeToolCall) -> str:
    return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)


def _finish_reason(reply: FakeReply) -> str | None:
    if reply.omit_finish_reason:
        return None
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _usage(reply: FakeReply) -> dict[str, int] | None:
    if reply.usage is None:
        return None
    total = reply.usage.get("prompt_tokens", 0) + reply.usage.get("completion_tokens", 0)
    return {**reply.usage, "total_tokens": total}


def _completion(reply: FakeReply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["content"] = reply.content or None
        message["tool_calls"] = [
            {**_call_id(c, i), "type": "function",
             "function": {"name": c.name, "arguments": _arguments_text(c)}}
            for i, c in enumerate(reply.tool_calls)
        ]  # fmt: skip
    choice = {"index": 0, "message": message, "finish_reason": _finish_reason(reply)}
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [choice],
    }
    if reply.usage is not None:
        body["usage"] = _usage(reply)
    return body


def _stream_events(reply: FakeReply, fake: FakeOpenAIServer, include_usage: bool) -> list[bytes]:
    size = fake.chunk_size
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": reply.content[i : i + size]} for i in range(0, len(reply.content), size)]
    for index, call in enumerate(reply.tool_calls):
        head = {"index": index, **_call_id(call, index), "type": "function"}
        deltas.append({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        args = _arguments_text(call)
        for i in range(0, len(args), size):
            part = {"index": index, "function": {"arguments": args[i : i + size]}}
            deltas.append({"tool_calls": [part]})
    chunks = [_chunk(fake.model, [{"index": 0, "delta": d, "finish_reason": None}]) for d in deltas]
    finish = _finish_reason(reply)
    if finish is not None:
        chunks.append(_chunk(fake.model, [{"index": 0, "delta": {}, "finish_reason": finish}]))
    if include_usage and reply.usage is not None:
        chunks.append({**_chunk(fake.model, []), "usage": _usage(reply)})
    events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    return [*events, b"data: [DONE]\n\n"]


def _chunk(model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": choices,
    }
