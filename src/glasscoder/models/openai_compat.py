"""A model behind an OpenAI-compatible chat-completions endpoint (vLLM, SGLang, llama.cpp's
server, Ollama, ...), spoken to with the official openai SDK over guard/egress's HTTP client.

The SDK does not validate replies, so every field is read defensively (``_text``, ``_field``,
``_count``): a server sending a number for content, null for a function or a list for an id
gets a clear ModelError or a best reading, never a crash.

Each request is bounded as a whole (guard/egress.py's ``Deadlines``): its first token within
``first_token_timeout``, all of it within ``request_timeout`` or the run's time left
(``cap_time``), whichever ends first. Streamed deltas say when a token has come; keep-alive
comments do not count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from glasscoder import __version__
from glasscoder.guard.audit import AuditLog
from glasscoder.guard.egress import (
    STALLED,
    TRANSPORT_ERRORS,
    BodyRedactor,
    DeadlinePassed,
    Deadlines,
    make_http_client,
    no_redaction,
)
from glasscoder.models.base import (
    ContextTooLong,
    Message,
    ModelError,
    OutOfTime,
    Reply,
    ToolCall,
    Usage,
)
from glasscoder.models.textgate import TextGate
from glasscoder.models.toolcalls import (
    assistant_turns,
    coerce_arguments,
    has_tool_call_markup,
    parse_text_tool_calls,
    schemas_of,
)
from glasscoder.nesting import MAX_DEPTH, dumps_bounded, loads_bounded

API_KEY_ENV = "GLASSCODER_API_KEY"
# Headers the SDK adds that describe this machine (OS, CPU, Python build) or pick up account
# ids from the environment; no inference server needs them, so they are not sent.
_SDK_HEADERS = (
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
    "X-Stainless-Retry-Count",
    "X-Stainless-Read-Timeout",
    "OpenAI-Organization",
    "OpenAI-Project",
)
_EXCERPT_CHARS = 300
# Delta fields that carry generated tokens (reasoning models stream thoughts before content).
_TOKEN_FIELDS = ("content", "tool_calls", "reasoning_content", "reasoning")


# How servers say a prompt is over the window: vLLM, llama.cpp's server, SGLang, OpenAI, others.
_CONTEXT_FULL = re.compile(
    r"maximum context length|context length|context_length_exceeded|context window|"
    r"exceeds the available context|too many tokens|prompt is too long|input is too long",
    re.IGNORECASE,
)


@dataclass
class _RawCall:
    id: str | None
    name: str
    arguments: str | dict[str, Any] | None


@dataclass
class _RawReply:
    content: str
    calls: list[_RawCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


def import_sdk() -> None:
    """Import the SDK now; called from a background thread while a run sets itself up."""
    import openai.resources.chat.completions  # noqa: F401  (the client loads it lazily)


class OpenAICompatModel:
    def __init__(
        self,
        endpoint: str,
        model: str,
        api_key: str | None = None,
        audit: AuditLog | None = None,
        *,
        stream: bool = True,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        extra_body: dict[str, Any] | None = None,
        timeout: float = 600.0,
        api_key_env: str = API_KEY_ENV,
        redact: BodyRedactor = no_redaction,
        first_token_timeout: float | None = None,
    ) -> None:
        self._deadlines = Deadlines()
        http_client = make_http_client(endpoint, audit, timeout, redact, self._deadlines)
        import openai  # here, not at module top: importing it costs ~0.4 s of startup

        self.name = model
        self.endpoint = endpoint.rstrip("/")
        self.stream = stream
        self._sdk = openai
        self._timeout = timeout
        self._first_token_timeout = first_token_timeout
        self._time_left: float | None = None
        self._api_key_env = api_key_env
        self._sampling = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}
        self._extra_body = extra_body
        self._headers: dict[str, Any] = {name: openai.Omit() for name in _SDK_HEADERS}
        self._headers["User-Agent"] = f"glasscoder/{__version__}"
        self._send_stream_options = True  # cleared when the server rejects stream_options
        self._window: int | None = None  # 0: asked, not known
        self._client = openai.OpenAI(
            base_url=endpoint,
            api_key=api_key or "not-needed",
            http_client=http_client,
            max_retries=1,
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def cap_time(self, seconds: float) -> None:
        """The run's time left (max_time): the next request may take no longer."""
        self._time_left = seconds

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
    ) -> Reply:
        params = self._params(messages, tools)
        self._arm_deadlines()
        try:
            raw = self._streamed(params, on_text) if self.stream else self._plain(params)
        except Exception as exc:
            error = self._error_for(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            self._deadlines.disarm()
        reply = _to_reply(raw, schemas_of(tools), assistant_turns(messages))
        if not self.stream and on_text is not None and reply.content:
            on_text(reply.content)  # all at once, so callers see the words either way
        return reply

    def _arm_deadlines(self) -> None:
        total, name = self._timeout, "request_timeout"
        if self._time_left is not None and self._time_left < total:
            total, name = max(self._time_left, 0.0), "max_time"
        self._time_left = None  # given again before each request
        first = self._first_token_timeout if self.stream else None
        self._deadlines.arm(total, name, first)

    def _error_for(self, exc: Exception) -> ModelError | None:
        """The one clear error an exception from a request stands for; None: raise it as is."""
        sdk = self._sdk
        passed = _deadline_in(exc)
        if passed is not None:
            return self._deadline_error(passed)
        if isinstance(exc, ModelError):
            return None
        if isinstance(exc, sdk.APIStatusError):
            return self._status_error(exc)
        if isinstance(exc, sdk.APIConnectionError):
            return self._unreachable(exc)
        if isinstance(exc, (sdk.OpenAIError, RecursionError, *TRANSPORT_ERRORS)):
            # RecursionError: the SDK parsed a reply nested past what Python's json can.
            return ModelError(f"The model endpoint at {self.endpoint} failed: {_reason(exc)}")
        return None

    def _deadline_error(self, passed: DeadlinePassed) -> ModelError:
        where, took = f"The model endpoint at {self.endpoint}", f"{passed.seconds:g} s"
        if passed.which == "max_time":
            return OutOfTime(f"Stopped: max time reached during a model request ({took} left).")
        if passed.which == STALLED:
            return ModelError(f"{where} went silent mid-reply: nothing for {took} after its "
                              "first token (first_token_timeout bounds such a silence too). Check "
                              "the server, or raise first_token_timeout.")  # fmt: skip
        if passed.which == "first_token_timeout":
            return ModelError(f"{where} sent no token within {took} (first_token_timeout): it "
                              "may be overloaded or stuck. Check the server, or raise "
                              "first_token_timeout.")  # fmt: skip
        return ModelError(f"{where} did not finish its reply within {took} (request_timeout). "
                          "Check the server, or raise request_timeout.")  # fmt: skip

    def _params(self, messages: list[Message], tools: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.name,
            "messages": [_wire_message(m) for m in messages],
            "extra_headers": self._headers,
        }
        if tools:
            params["tools"] = tools
        params.update({k: v for k, v in self._sampling.items() if v is not None})
        if self._extra_body:
            params["extra_body"] = self._extra_body
        return params

    def _plain(self, params: dict[str, Any]) -> _RawReply:
        try:
            resp = self._client.chat.completions.create(**params)
        except ValueError as exc:  # a 200 whose body is not JSON
            raise ModelError(
                f"The model endpoint at {self.endpoint} sent a reply that is not JSON ({exc})."
            ) from exc
        choices = _field(resp, "choices")
        message = _field(choices[0], "message") if isinstance(choices, list) and choices else None
        if message is None:
            raise ModelError(
                f"The model endpoint at {self.endpoint} sent a reply that is not a chat "
                "completion (it has no choices[0].message)."
            )
        calls = [
            _RawCall(_call_id(_field(c, "id")), _text(_field(fn, "name")), _field(fn, "arguments"))
            for c in _list(_field(message, "tool_calls"))
            if (fn := _field(c, "function")) is not None
        ]
        finish = _field(choices[0], "finish_reason")
        return _RawReply(_text(_field(message, "content")), calls, _usage(_field(resp, "usage")),
                         finish if isinstance(finish, str) else None)  # fmt: skip

    def _streamed(self, params: dict[str, Any], on_text: Callable[[str], None] | None) -> _RawReply:
        assembler = _StreamAssembler(on_text, self._deadlines.token_arrived)
        with self._open_stream(params) as stream:
            for chunk in self._chunks(stream):
                assembler.add(chunk)
        return assembler.result()

    def _open_stream(self, params: dict[str, Any]) -> Any:
        create = self._client.chat.completions.create
        if not self._send_stream_options:
            return create(**params, stream=True)
        try:
            return create(**params, stream=True, stream_options={"include_usage": True})
        except self._sdk.BadRequestError:
            # Some servers reject stream_options; without it they just don't report usage.
            stream = create(**params, stream=True)
            self._send_stream_options = False  # only once the retry proved it was the cause
            return stream

    def _chunks(self, stream: Any) -> Iterator[Any]:
        """The stream's chunks; a break mid-way becomes ModelError (chunks are not retried)."""
        iterator = iter(stream)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except (self._sdk.OpenAIError, *TRANSPORT_ERRORS, ValueError, RecursionError) as exc:
                if _deadline_in(exc) is not None:
                    raise  # complete() names the deadline that ended it
                raise _cut_off(_reason(exc)) from exc
            yield chunk

    def _status_error(self, exc: Any) -> ModelError:
        status = exc.status_code
        where = f"The model endpoint at {self.endpoint}"
        if status in (401, 403):
            return ModelError(
                f"{where} refused the API key (HTTP {status}). "
                f"Put the right key in the {self._api_key_env} environment variable."
            )
        if status == 404:
            return ModelError(
                f"{where} answered 404 Not Found. Check that it serves the model "
                f"'{self.name}' (GET {self.endpoint}/models lists them) and that the endpoint "
                "ends with the server's /v1 path, e.g. http://127.0.0.1:8000/v1."
            )
        if status in (400, 413) and _CONTEXT_FULL.search(_excerpt(exc)):
            return ContextTooLong(f"{where} answered HTTP {status}: {_excerpt(exc)}")
        return ModelError(f"{where} answered HTTP {status}: {_excerpt(exc)}")

    def context_window(self) -> int | None:
        """The server's context length for this model when its model list says (vLLM's
        `max_model_len`, others' `context_length`); asked once, through the audited client."""
        if self._window is None:
            self._window = self._ask_window() or 0
        return self._window or None

    def _ask_window(self) -> int | None:
        return self._window_from_models() or self._window_from_props()

    def _window_from_models(self) -> int | None:
        try:
            listing = self._client.models.list(extra_headers=self._headers)
            models = list(listing.data)
        except Exception:  # an old server without the route: the window stays unknown
            return None
        for model in sorted(models, key=lambda m: getattr(m, "id", "") != self.name):
            extra = getattr(model, "model_extra", None) or {}
            for key in ("max_model_len", "context_length", "context_window", "max_context_length"):
                if value := _positive(extra.get(key)):
                    return value
        return None

    def _window_from_props(self) -> int | None:
        """llama.cpp's server says its context at /props, beside /v1 (the same origin)."""
        root = self.endpoint.removesuffix("/v1")
        try:
            props = self._client.get(f"{root}/props", cast_to=object,
                                     options={"headers": self._headers})  # fmt: skip
        except Exception:  # not llama.cpp's server
            return None
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        return _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None

    def _unreachable(self, exc: Any) -> ModelError:
        if isinstance(exc, self._sdk.APITimeoutError):
            reason = f"no answer within {self._timeout:g} s"
        else:
            reason = _reason(exc)
        return ModelError(
            f"Cannot reach the model endpoint at {self.endpoint}: {reason}. "
            "Start the server or pass --endpoint."
        )


class _StreamAssembler:
    """Builds one reply from streamed chunks: content deltas and tool-call deltas by index."""

    def __init__(
        self, on_text: Callable[[str], None] | None, on_token: Callable[[], None] = lambda: None
    ) -> None:
        self._text = TextGate(on_text)
        self._on_token = on_token
        self._parts: list[str] = []
        self._calls: dict[int, _RawCall] = {}
        self._usage = Usage()
        self._finish: str | None = None

    def add(self, chunk: Any) -> None:
        if _field(chunk, "usage"):
            self._usage = _usage(_field(chunk, "usage"))
        for choice in _list(_field(chunk, "choices")):
            delta = _field(choice, "delta")
            if delta is not None:
                self._add_delta(delta)
            finish = _field(choice, "finish_reason")
            if finish and isinstance(finish, str):
                self._finish = finish

    def _add_delta(self, delta: Any) -> None:
        if any(_field(delta, name) for name in _TOKEN_FIELDS):
            self._on_token()  # the model is producing: the first-token deadline is met
        content = _text(_field(delta, "content"))
        if content:
            self._parts.append(content)
            self._text.feed(content)
        for part in _list(_field(delta, "tool_calls")):
            self._add_call_part(part)

    def _add_call_part(self, part: Any) -> None:
        index = _field(part, "index")
        part_id = _call_id(_field(part, "id"))
        if not isinstance(index, int) or isinstance(index, bool):
            # No index: a part with an id starts a new call, any other continues the last.
            fresh = part_id or not self._calls
            index = len(self._calls) if fresh else max(self._calls)
        call = self._calls.setdefault(index, _RawCall(None, "", ""))
        call.id = call.id or part_id
        fn = _field(part, "function")
        if fn is None:
            return
        name = _text(_field(fn, "name"))
        if name and not call.name:
            call.name = name  # sent once; servers that repeat it must not double it
        fragment = _field(fn, "arguments")
        if fragment:
            if not isinstance(fragment, str):
                fragment = dumps_bounded(fragment, ensure_ascii=False)
            call.arguments = f"{call.arguments or ''}{fragment}"

    def result(self) -> _RawReply:
        self._text.flush()
        if self._finish is None:
            raise _cut_off("the stream ended without a finish_reason")
        calls = [self._calls[i] for i in sorted(self._calls)]
        return _RawReply("".join(self._parts), calls, self._usage, self._finish)


def _to_reply(raw: _RawReply, schemas: dict[str, dict], turn: int) -> Reply:
    calls = [_tool_call(call, i, schemas, turn) for i, call in enumerate(raw.calls)]
    content = raw.content
    if not calls and has_tool_call_markup(content):
        parsed = parse_text_tool_calls(content, schemas, id_prefix=f"call_{turn}")
        content, calls = parsed.text, parsed.calls
    return Reply(content, calls, raw.usage, raw.finish_reason)


def _tool_call(raw: _RawCall, i: int, schemas: dict[str, dict], turn: int) -> ToolCall:
    args, error = coerce_arguments(raw.name, raw.arguments, schemas)
    # A missing id gets one derived from the history, never a random one: the prompt must stay
    # byte-identical turn after turn so the server's prefix cache is reused.
    return ToolCall(raw.id or f"call_{turn}_{i}", raw.name, args, error)


def _wire_message(message: Message) -> Message:
    """Tool-call arguments are dicts inside glasscoder, JSON strings on the wire."""
    calls = message.get("tool_calls")
    if message.get("role") != "assistant" or not calls:
        return message
    return {**message, "tool_calls": [_wire_call(c) for c in calls]}


def _wire_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    args = function.get("arguments")
    if isinstance(args, str):
        return call
    text = json.dumps(args if args is not None else {}, ensure_ascii=False)
    return {**call, "function": {**function, "arguments": text}}


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(_count(_field(usage, "prompt_tokens")), _count(_field(usage, "completion_tokens")))


def _field(obj: Any, name: str) -> Any:
    """obj.name, or obj[name] for a dict the SDK left unparsed; None when absent."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    """A text field: strings as they are, null as "", anything else as its JSON."""
    if value is None or isinstance(value, str):
        return value or ""
    return dumps_bounded(value, ensure_ascii=False, default=str)


def _call_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int:
    """A token count; a server's garbage (text, negative, NaN) counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        return 0
    return int(min(value, 2**53))


def _cut_off(reason: str) -> ModelError:
    return ModelError(
        f"The model's reply was cut off mid-stream ({reason}). "
        "Check the model server's log, then try again."
    )


def _excerpt(exc: Any) -> str:
    """The server's own words about an error, shortened: its message when the body is JSON."""
    try:
        text = exc.response.text
    except Exception:  # a body that cannot be read still leaves the SDK's message
        text = ""
    text = _error_message(text) or text or str(getattr(exc, "message", "") or exc)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > _EXCERPT_CHARS:
        text = text[:_EXCERPT_CHARS] + "..."
    return text or "(no details)"


def _error_message(body: str) -> str | None:
    # OpenAI and llama.cpp: {"error": {"message"}}; vLLM: {"message"}; FastAPI: {"detail"}.
    try:
        data = loads_bounded(body, MAX_DEPTH)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    found = error.get("message") if isinstance(error, dict) else error
    found = found or data.get("message") or data.get("detail")
    return found if isinstance(found, str) else None


def _deadline_in(exc: BaseException) -> DeadlinePassed | None:
    """The DeadlinePassed behind an error, through the SDK's and httpx's wrappers."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DeadlinePassed):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _reason(exc: BaseException) -> str:
    # The SDK's wrappers say only "Connection error."; the error under them says what broke.
    cause = exc.__cause__ or exc
    return str(cause) or type(cause).__name__
