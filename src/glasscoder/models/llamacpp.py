"""An embedded model: a GGUF file run in-process by llama.cpp (llama-cpp-python), no server.

The prompt is rendered with the GGUF's own chat template, so the model sees what it was trained
on; tool calls come back as text and go through the same parser as the server path's. The model
stays loaded for the session and keeps its KV cache: each turn evaluates only the tokens after
the longest prefix it shares with what the cache already holds (the prompt is append-only, so
that is nearly everything).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glasscoder.errors import UsageError
from glasscoder.guard.audit import AuditLog
from glasscoder.models.base import Message, ModelError, Reply, Usage
from glasscoder.models.placement import (
    Override,
    OverrideArray,
    buffer_types,
    load_llama,
    overrides_from_settings,
    placed_by,
)
from glasscoder.models.textgate import TextGate
from glasscoder.models.toolcalls import (
    assistant_turns,
    has_tool_call_markup,
    parse_text_tool_calls,
    schemas_of,
)

INSTALL_HINT = (
    "The embedded backend needs llama-cpp-python: "
    "CMAKE_ARGS=\"-DLLAVA_BUILD=OFF\" pip install 'glasscoder[local]' "
    "(it compiles llama.cpp, a few minutes), or serve the model and pass --endpoint URL."
)
# Text that ends a turn in common templates, besides what the GGUF marks as end-of-generation.
# messages -> (messages as the model may see them, {secret kind: count replaced})
MessageRedactor = Callable[[list[Message]], tuple[list[Message], dict[str, int]]]
_END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")


@dataclass
class TurnStats:
    """One turn's numbers, for benchmarks and the report; usage carries the token counts."""

    prompt_tokens: int = 0
    evaluated_tokens: int = 0
    reused_tokens: int = 0
    generated_tokens: int = 0
    first_token_s: float = 0.0  # prompt evaluation plus the first sample
    decode_s: float = 0.0  # the rest of generation

    @property
    def decode_tokens_per_s(self) -> float:
        return (self.generated_tokens - 1) / self.decode_s if self.decode_s > 0 else 0.0


def import_llama_cpp() -> Any:
    try:
        import jinja2.sandbox  # noqa: F401  (the chat template needs it; same extra)
        import llama_cpp
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return llama_cpp


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
        grammar: Any = None,
        cpu_moe: bool = False,
        n_cpu_moe: int = 0,
        override_tensor: Sequence[str] = (),
        redact: MessageRedactor | None = None,
    ) -> None:
        """``grammar`` (a llama_cpp.LlamaGrammar) constrains every reply; tests force calls.
        ``cpu_moe``, ``n_cpu_moe`` and ``override_tensor`` place tensors (models/placement.py)."""
        llama_cpp = import_llama_cpp()
        self.path = Path(model_path)
        self.name = self.path.name
        self.max_tokens = max_tokens
        self.grammar = grammar
        self.last = TurnStats()
        self._audit = audit
        self._redact = redact  # the same secret redaction a server request gets
        self._sampling = {"temp": temperature, "top_p": top_p, "top_k": top_k, "min_p": 0.0}
        self._lib = llama_cpp
        # Kept as long as the model: llama.cpp holds pointers into it.
        self.placement: OverrideArray | None = None
        self.placement_note: str | None = None  # what the overrides place, for the notice
        overrides = overrides_from_settings(override_tensor, cpu_moe, n_cpu_moe)
        params = {"n_ctx": n_ctx, "n_threads": n_threads, "n_gpu_layers": n_gpu_layers,
                  "seed": seed, "verbose": False}  # fmt: skip
        try:
            self._llm = self._load(overrides, params)
        except (ValueError, RuntimeError) as exc:
            raise UsageError(f"llama.cpp could not load {self.path}: {exc}") from None
        if overrides:
            self.placement_note = self._describe_placement(overrides)
        self._template = self._llm.metadata.get("tokenizer.chat_template") or ""
        if not self._template:
            raise UsageError(f"{self.path} has no chat template (tokenizer.chat_template).")
        self._bos = self._special_text(self._llm.token_bos())
        self._eos = self._special_text(self._llm.token_eos())
        self._stop_ids = self._end_of_turn_ids()

    def _load(self, overrides: list[Override], params: dict[str, Any]) -> Any:
        if not overrides:
            return self._lib.Llama(str(self.path), **params)
        self.placement = OverrideArray(overrides, buffer_types(self._lib))
        return load_llama(self._lib, self.placement, str(self.path), **params)

    def _describe_placement(self, overrides: list[Override]) -> str:
        try:
            placed = placed_by(self.path, overrides).describe()
        except Exception as exc:  # gguf may not know a newer tensor type; the model loaded
            placed = f"tensors not counted ({exc})"
        return f"{self.name}: tensor overrides place {placed}."

    def close(self) -> None:
        self._llm.close()

    def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        on_text: Callable[[str], None] | None = None,
    ) -> Reply:
        redactions: dict[str, int] = {}
        if self._redact is not None:
            messages, redactions = self._redact(messages)
        prompt = render_prompt(self._template, messages, tools, self._bos, self._eos)
        tokens = self._tokenize(prompt)
        budget = self._budget(len(tokens))
        request_seq = self._record_request(messages, tools, prompt, len(tokens), redactions)
        reused = self._reuse_prefix(tokens)
        self.last = TurnStats(len(tokens), len(tokens) - reused, reused)
        text, finish = self._generate(tokens[reused:], budget, on_text)
        self._record_response(request_seq, text, finish)
        usage = Usage(len(tokens), self.last.generated_tokens, len(tokens) - reused, reused)
        return _to_reply(text, finish, usage, tools, messages)

    def _tokenize(self, prompt: str) -> list[int]:
        # A template that writes the BOS itself must not get a second one from the tokenizer.
        add_bos = not (self._bos and prompt.startswith(self._bos))
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def _budget(self, prompt_tokens: int) -> int:
        room = self._llm.n_ctx() - prompt_tokens
        if room <= 0:
            raise ModelError(
                f"The conversation ({prompt_tokens} tokens) no longer fits the embedded model's "
                f"context of {self._llm.n_ctx()} tokens; raise context_size or start a new task."
            )
        return min(room, self.max_tokens) if self.max_tokens else room

    def _reuse_prefix(self, tokens: list[int]) -> int:
        """Keep the cached tokens this prompt starts with; the rest is dropped from the cache."""
        llm = self._llm
        shared = 0
        for cached, new in zip(llm._input_ids.tolist(), tokens, strict=False):
            if cached != new:
                break
            shared += 1
        # At least one token must be evaluated: sampling needs fresh logits for the last one.
        shared = min(shared, len(tokens) - 1)
        if shared < llm.n_tokens and not llm._ctx.kv_cache_seq_rm(-1, shared, -1):
            shared = 0  # this model's cache cannot be cut part-way: start over
            llm.reset()
        llm.n_tokens = shared
        return shared

    def _generate(
        self, new_tokens: list[int], budget: int, on_text: Callable[[str], None] | None
    ) -> tuple[str, str]:
        gate, decoder = TextGate(on_text), codecs.getincrementaldecoder("utf-8")("replace")
        parts: list[str] = []
        finish, started = "length", time.perf_counter()
        stream = self._llm.generate(new_tokens, reset=False, grammar=self.grammar,
                                    repeat_penalty=1.0, **self._sampling)  # fmt: skip
        for count, token in enumerate(stream, start=1):
            if count == 1:
                self.last.first_token_s = time.perf_counter() - started
            self.last.generated_tokens = count
            if token in self._stop_ids or self._lib.llama_vocab_is_eog(self._vocab(), token):
                finish = "stop"
                break
            piece = decoder.decode(self._llm.detokenize([token]))
            parts.append(piece)
            gate.feed(piece)
            if count >= budget:
                break
        stream.close()
        self.last.decode_s = time.perf_counter() - started - self.last.first_token_s
        tail = decoder.decode(b"", final=True)
        parts.append(tail)
        gate.feed(tail)
        gate.flush()
        return "".join(parts), finish

    def _vocab(self) -> Any:
        return self._lib.llama_model_get_vocab(self._llm.model)

    def _special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", "replace")

    def _end_of_turn_ids(self) -> set[int]:
        """Tokens that end a turn: the known end-of-turn texts that are one special token."""
        ids = {self._llm.token_eos()}
        for text in _END_OF_TURN:
            found = self._llm.tokenize(text.encode(), add_bos=False, special=True)
            if len(found) == 1:
                ids.add(found[0])
        return ids

    def _record_request(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]],
        prompt: str,
        n_tokens: int,
        redactions: dict[str, int],
    ) -> int | None:
        """The same record shape as a server request, so `audit show` reads both alike."""
        if self._audit is None:
            return None
        body = {"model": self.name, "messages": messages, "tools": tools}
        return self._audit.append("request", {
            "method": "EMBEDDED", "url": str(self.path), "bytes": len(prompt.encode()),
            "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest(),
            "prompt_tokens": n_tokens, "redactions": redactions,
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
