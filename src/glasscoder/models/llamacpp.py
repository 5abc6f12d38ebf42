"""An embedded model: a GGUF file run by llama.cpp (llama-cpp-python) on this machine, no server.

llama.cpp runs in a worker process the session owns (models/worker.py, models/engine.py), so a
crash there (a bad build's illegal instruction, the out-of-memory killer) ends the turn with a
ModelError naming the signal and the fix, not the session. The prompt is rendered here with the
GGUF's own chat template, in Jinja's sandbox, after redaction and before the audit record; tool
calls come back as text and go through the same parser as the server path's. The worker keeps
the model loaded and its KV cache: each turn evaluates only the tokens after the longest prefix
it shares with what the cache already holds (the prompt is append-only, so that is nearly
everything).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glasscoder.errors import UsageError
from glasscoder.guard.audit import AuditLog
from glasscoder.models.base import Message, ModelError, OutOfTime, Reply, Usage
from glasscoder.models.placement import Override, overrides_from_settings, placed_by
from glasscoder.models.textgate import TextGate
from glasscoder.models.toolcalls import (
    assistant_turns,
    has_tool_call_markup,
    parse_text_tool_calls,
    schemas_of,
)
from glasscoder.models.worker_process import Overdue, WorkerDied, WorkerProcess

INSTALL_HINT = (
    "The embedded backend needs llama-cpp-python: "
    'CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" pip install --no-cache-dir '
    "'glasscoder[local]' (it compiles a portable llama.cpp, several minutes; in a checkout "
    "scripts/llama-wheel.sh does it), or serve the model and pass --endpoint URL."
)
MAX_TIME_STOP = "Stopped: max time reached during a model request."
# messages -> (messages as the model may see them, {secret kind: count replaced})
MessageRedactor = Callable[[list[Message]], tuple[list[Message], dict[str, int]]]


@dataclass(frozen=True)
class _Request:
    """One turn's prompt and what it was rendered from, for the audit record."""

    messages: list[Message]
    tools: list[dict[str, Any]]
    prompt: str
    redactions: dict[str, int]
    deadline: float | None  # time.monotonic() when the run's max_time runs out


@dataclass
class TurnStats:
    """One turn's numbers, for benchmarks and the report; usage carries the token counts."""

    prompt_tokens: int = 0
    evaluated_tokens: int = 0
    reused_tokens: int = 0
    generated_tokens: int = 0
    # Timed by the session as the worker's messages arrive, so the pipe's cost is included.
    first_token_s: float = 0.0  # prompt evaluation plus the first sample
    decode_s: float = 0.0  # the rest of generation

    @property
    def decode_tokens_per_s(self) -> float:
        return (self.generated_tokens - 1) / self.decode_s if self.decode_s > 0 else 0.0


def check_llama_cpp() -> None:
    """The `local` extra is installed. Found, not imported: llama.cpp loads only in the worker."""
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("jinja2") is None:
        raise UsageError(INSTALL_HINT)


class LlamaCppModel:
    def __init__(
        self,
        model_path: str | Path,
        audit: AuditLog | None = None,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        seed: int = 0,
        max_tokens: int | None = None,
        temperature: float = 0.7,
        top_p: float = 0.8,
        top_k: int = 20,
        grammar: str | None = None,
        cpu_moe: bool = False,
        n_cpu_moe: int = 0,
        override_tensor: Sequence[str] = (),
        redact: MessageRedactor | None = None,
    ) -> None:
        """Starts the worker and loads the model there (a file llama.cpp refuses: UsageError).
        ``grammar`` (GBNF text) constrains every reply; tests force calls. ``cpu_moe``,
        ``n_cpu_moe`` and ``override_tensor`` place tensors (models/placement.py)."""
        check_llama_cpp()
        self.path = Path(model_path)
        self.name = self.path.name
        self.max_tokens = max_tokens
        self.last = TurnStats()
        self._audit = audit
        self._redact = redact  # the same secret redaction a server request gets
        overrides = overrides_from_settings(override_tensor, cpu_moe, n_cpu_moe)
        self._n_ctx = n_ctx
        params = {"n_ctx": n_ctx, "n_threads": n_threads, "n_gpu_layers": n_gpu_layers,
                  "seed": seed}  # fmt: skip
        sampling = {"temp": temperature, "top_p": top_p, "top_k": top_k, "min_p": 0.0}
        self._load_request = {
            "path": str(self.path.resolve()), "params": params, "sampling": sampling,
            "overrides": [[o.pattern, o.buffer_type] for o in overrides], "grammar": grammar,
        }  # fmt: skip
        self._template = self._bos = self._eos = ""
        self._time_left: float | None = None  # the run's max_time left, for the next turn
        self._worker: WorkerProcess | None = None
        # A worker that dies while loading (a bad build can die on its first instruction) is
        # reported by the first turn, so the run ends with its session saved and resumable.
        self._died: WorkerDied | None = None
        try:
            self._start_worker()
        except WorkerDied as exc:
            self._died = exc
        self.placement_note: str | None = None  # what the overrides place, for the notice
        if overrides and self._died is None:
            self.placement_note = self._describe_placement(overrides)

    def _start_worker(self) -> WorkerProcess:
        worker = WorkerProcess()
        try:
            loaded = worker.call("load", load=self._load_request)
        except BaseException:
            worker.close(grace=0)
            raise
        self._template, self._bos, self._eos = loaded["template"], loaded["bos"], loaded["eos"]
        self._worker = worker
        return worker

    def _ready_worker(self) -> WorkerProcess:
        """The worker, started again if a Ctrl-C had to end the last one."""
        if self._died is not None:
            raise self._died
        return self._worker or self._start_worker()

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker else None

    def _describe_placement(self, overrides: list[Override]) -> str:
        try:
            placed = placed_by(self.path, overrides).describe()
        except Exception as exc:  # gguf may not know a newer tensor type; the model loaded
            placed = f"tensors not counted ({exc})"
        return f"{self.name}: tensor overrides place {placed}."

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def context_window(self) -> int | None:
        """llama.cpp's context, as loaded (context_size)."""
        return self._n_ctx

    def count_tokens(self, messages: list[Message], tools: list[dict[str, Any]]) -> int | None:
        """The prompt these messages make, in the model's own tokens (None: not now)."""
        worker = self._ready_worker()
        prompt = render_prompt(self._template, messages, tools, self._bos, self._eos)
        try:
            return int(worker.call("count", prompt=prompt)["tokens"])
        except WorkerDied:
            self.close()
            return None
        except (ModelError, UsageError, KeyError, ValueError):
            return None
        except BaseException:
            self._interrupted(worker)
            raise

    def cap_time(self, seconds: float) -> None:
        """The run's time left (max_time): the next turn is stopped when it runs out."""
        self._time_left = seconds

    def reset_cache(self) -> None:
        """Drop the KV cache: the next turn evaluates its whole prompt (tests, benchmarks)."""
        worker = self._ready_worker()
        try:
            worker.call("reset")
        except WorkerDied:
            self.close()
            raise
        except BaseException:
            self._interrupted(worker)
            raise

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
    ) -> Reply:
        worker = self._ready_worker()
        redactions: dict[str, int] = {}
        if self._redact is not None:
            messages, redactions = self._redact(messages)
        prompt = render_prompt(self._template, messages, tools, self._bos, self._eos)
        deadline = None if self._time_left is None else time.monotonic() + self._time_left
        request = _Request(messages, tools, prompt, redactions, deadline)
        try:
            text, finish, request_seq = self._turn(worker, request, on_text)
        except WorkerDied:
            self.close()  # the next turn, if any, starts a new worker
            raise
        except BaseException:  # Ctrl-C, SIGTERM, or an error here: the turn must not run on
            self._interrupted(worker)
            raise
        self._record_response(request_seq, text, finish)
        last = self.last
        usage = Usage(last.prompt_tokens, last.generated_tokens, last.evaluated_tokens,
                      last.reused_tokens)  # fmt: skip
        return _to_reply(text, finish, usage, tools, messages)

    def _turn(
        self, worker: WorkerProcess, request: _Request, on_text: Callable[[str], None] | None
    ) -> tuple[str, str, int | None]:
        """One turn through the worker: the audit record once the prompt's size is known, the
        text streamed through the gate, the timings taken here as the pieces arrive. A failure
        after the request went on record (the worker died, llama.cpp failed) is recorded too."""
        gate, parts = TextGate(on_text), []
        stats = self.last = TurnStats()
        finish, request_seq = "length", None
        started = first = 0.0
        try:
            for message in worker.stream(request.prompt, self.max_tokens, request.deadline):
                if "text" in message:
                    first = first or time.perf_counter()
                    parts.append(message["text"])
                    gate.feed(message["text"])
                elif "done" in message:
                    end = time.perf_counter()
                    first = first or end  # the first token ended the turn
                    stats.first_token_s, stats.decode_s = first - started, end - first
                    finish = message["done"]["finish"]
                    stats.generated_tokens = message["done"]["generated_tokens"]
                else:  # the prompt's size, before any reply: the request goes on record now
                    stats.prompt_tokens = message["prompt_tokens"]
                    stats.reused_tokens = message["reused_tokens"]
                    stats.evaluated_tokens = stats.prompt_tokens - stats.reused_tokens
                    request_seq = self._record_request(request, stats.prompt_tokens)
                    started = time.perf_counter()
        except (ModelError, Overdue) as exc:
            error = OutOfTime(MAX_TIME_STOP) if isinstance(exc, Overdue) else exc
            if self._audit is not None and request_seq is not None:
                self._audit.append("error", {"request_seq": request_seq, "error": str(error)})
            raise error from None
        gate.flush()
        return "".join(parts), finish, request_seq

    def _interrupted(self, worker: WorkerProcess) -> None:
        """After Ctrl-C or another exception mid-request: the worker ends what it was doing and
        stays, or it is ended (and started again by the next turn)."""
        if not worker.interrupt():
            worker.close(grace=0)
            self._worker = None

    def _record_request(self, request: _Request, n_tokens: int) -> int | None:
        """The same record shape as a server request, so `audit show` reads both alike."""
        if self._audit is None:
            return None
        prompt = request.prompt
        body = {"model": self.name, "messages": request.messages, "tools": request.tools}
        return self._audit.append("request", {
            "method": "EMBEDDED", "url": str(self.path), "bytes": len(prompt.encode()),
            "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
            "prompt_tokens": n_tokens, "redactions": request.redactions,
            "body": json.loads(json.dumps(body, default=str)),
        })["seq"]  # fmt: skip

    def _record_response(self, request_seq: int | None, text: str, finish: str) -> None:
        if self._audit is None:
            return
        self._audit.append("response", {
            "request_seq": request_seq, "status": finish, "bytes": len(text.encode()),
            "text": text, "evaluated_tokens": self.last.evaluated_tokens,
            "reused_tokens": self.last.reused_tokens,
            "completion_tokens": self.last.generated_tokens,
        })  # fmt: skip


def render_prompt(
    template: str, messages: list[Message], tools: list[dict[str, Any]], bos: str, eos: str
) -> str:
    """The chat template, run sandboxed: it comes with the model file and is untrusted code."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson  # as Hugging Face's: no HTML escaping of < > &
    env.globals["raise_exception"] = _raise_template_error
    try:
        return env.from_string(template).render(
            messages=messages, tools=tools or None, add_generation_prompt=True,
            bos_token=bos, eos_token=eos,
        )  # fmt: skip
    except (TemplateError, TypeError, ValueError) as exc:
        raise ModelError(f"The model's chat template failed: {exc}") from None


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


def _raise_template_error(message: str) -> None:
    from jinja2 import TemplateError

    raise TemplateError(message)


def _to_reply(
    text: str, finish: str, usage: Usage, tools: list[dict[str, Any]], messages: list[Message]
) -> Reply:
    if not has_tool_call_markup(text):
        return Reply(text, [], usage, finish)
    # Ids derived from the history, as the server path does, so the prompt stays byte-stable.
    turn = assistant_turns(messages)
    parsed = parse_text_tool_calls(text, schemas_of(tools), id_prefix=f"call_{turn}")
    return Reply(parsed.text, parsed.calls, usage, finish)
