"""The llama.cpp side of the embedded backend; it runs only inside the worker process.

Everything that calls into llama.cpp lives here: loading the GGUF (with the tensor placement),
tokenizing a rendered prompt, keeping the KV cache's longest shared prefix, and generating. The
parent (models/llamacpp.py) renders, redacts, audits and parses; it sends a prompt as text and
gets text pieces back, so a crash in llama.cpp ends this process, never the session.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glasscoder.errors import UsageError
from glasscoder.models.base import ContextTooLong
from glasscoder.models.placement import OverrideArray, buffer_types, load_llama

# Text that ends a turn in common templates, besides what the GGUF marks as end-of-generation.
_END_OF_TURN = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")


@dataclass(frozen=True)
class LoadRequest:
    path: str
    params: dict[str, Any]  # Llama's keyword arguments: n_ctx, n_threads, n_gpu_layers, seed
    sampling: dict[str, float]  # temp, top_p, top_k, min_p
    overrides: list[tuple[str, str]]  # (regex, buffer type), first match wins
    grammar: str | None = None  # GBNF every reply must match


def system_info() -> dict[str, str]:
    """The build as llama.cpp reports it, for `glasscoder doctor`."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return {"system_info": info.strip(), "version": llama_cpp.__version__}


class Engine:
    """One loaded model and its KV cache, kept across turns."""

    def __init__(self, request: LoadRequest) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._sampling = request.sampling
        self._grammar = _grammar(llama_cpp, request.grammar)
        # Kept as long as the model: llama.cpp holds pointers into it.
        self._placement: OverrideArray | None = None
        try:
            self._llm = self._load(request)
        except (ValueError, RuntimeError) as exc:
            raise UsageError(f"llama.cpp could not load {request.path}: {exc}") from None
        self.template = self._llm.metadata.get("tokenizer.chat_template") or ""
        if not self.template:
            raise UsageError(f"{request.path} has no chat template (tokenizer.chat_template).")
        self.bos = self._special_text(self._llm.token_bos())
        self.eos = self._special_text(self._llm.token_eos())
        self._stop_ids = self._end_of_turn_ids()

    def _load(self, request: LoadRequest) -> Any:
        params = {**request.params, "verbose": False}
        if not request.overrides:
            return self._lib.Llama(request.path, **params)
        from glasscoder.models.placement import Override

        overrides = [Override(pattern, buft) for pattern, buft in request.overrides]
        self._placement = OverrideArray(overrides, buffer_types(self._lib))
        return load_llama(self._lib, self._placement, request.path, **params)

    def close(self) -> None:
        self._llm.close()

    def reset(self) -> None:
        """Drop the KV cache: the next turn evaluates its whole prompt."""
        self._llm.reset()

    def start(self, prompt: str, max_tokens: int | None) -> tuple[list[int], int, int]:
        """Tokenize and fit the prompt; returns (tokens, tokens reused from the cache, budget)."""
        tokens = self._tokenize(prompt)
        budget = self._budget(len(tokens), max_tokens)
        return tokens, self._reuse_prefix(tokens), budget

    def generate(
        self,
        new_tokens: list[int],
        budget: int,
        emit: Callable[[str], None],
        stop_requested: Callable[[], bool],
    ) -> tuple[str, int]:
        """Sample until an end-of-turn token, the budget or a stop request; each token's text
        goes to ``emit`` (empty while a character is incomplete). Returns the finish reason
        (stop, length or interrupted) and the number of tokens sampled."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        stream = self._llm.generate(new_tokens, reset=False, grammar=self._grammar,
                                    repeat_penalty=1.0, **self._sampling)  # fmt: skip
        finish, count = "length", 0
        try:
            for count, token in enumerate(stream, start=1):
                if token in self._stop_ids or self._lib.llama_vocab_is_eog(self._vocab(), token):
                    finish = "stop"
                    break
                emit(decoder.decode(self._llm.detokenize([token])))
                if count >= budget:
                    break
                if stop_requested():
                    finish = "interrupted"
                    break
        finally:
            stream.close()
        if tail := decoder.decode(b"", final=True):
            emit(tail)
        return finish, count

    def count(self, prompt: str) -> int:
        """The prompt's length in this model's tokens (the compaction's exact measure)."""
        return len(self._tokenize(prompt))

    def _tokenize(self, prompt: str) -> list[int]:
        # A template that writes the BOS itself must not get a second one from the tokenizer.
        add_bos = not (self.bos and prompt.startswith(self.bos))
        return self._llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)

    def _budget(self, prompt_tokens: int, max_tokens: int | None) -> int:
        room = self._llm.n_ctx() - prompt_tokens
        if room <= 0:
            raise ContextTooLong(
                f"The conversation ({prompt_tokens} tokens) no longer fits the embedded model's "
                f"context of {self._llm.n_ctx()} tokens; raise context_size or start a new task."
            )
        return min(room, max_tokens) if max_tokens else room

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


def _grammar(llama_cpp: Any, gbnf: str | None) -> Any:
    if gbnf is None:
        return None
    try:
        return llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
    except ValueError as exc:
        raise UsageError(f"The grammar is not valid GBNF: {exc}") from None
