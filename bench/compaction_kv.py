"""KV-cache reuse on the embedded backend over a long session with compactions.

A scripted session of TURNS turns (a user step, the model's reply, a tool output of about
700 characters) runs through the real `LlamaCppModel` (llama.cpp in its worker) with a small
context, and the real `Compactor` between turns, which compacts past 80% of the window (old
tool outputs stubbed, then a summary the model writes). Per turn: the prompt's tokens and the
tokens llama.cpp evaluated (the rest came from the KV cache). Reported: the totals, the
evaluated share on ordinary turns and on the turns right after a compaction, and the same
session replayed with the cache dropped before every turn (every prompt token evaluated).

Run: .venv/bin/python bench/compaction_kv.py [--gguf PATH] [--turns N] [--ctx N]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glasscoder.agent.compaction import Compactor
from glasscoder.agent.session import apply_splices
from glasscoder.models.base import ContextTooLong
from glasscoder.models.llamacpp import LlamaCppModel

sys.path.insert(0, str(Path(__file__).parent))
from embedded import default_gguf  # the bench folder's own helper

THREADS = 2


class MemorySession:
    """What the Compactor needs of a session, in memory."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": "You are a coding assistant. Answer in one line."},
            {"role": "user", "content": "Go through the modules one by one."},
        ]
        self.compactions = 0

    def compact(self, splices: list[Any], note: dict[str, Any]) -> None:
        self.messages = apply_splices(self.messages, splices)
        self.compactions += 1


@dataclass
class Totals:
    prompt: int = 0
    evaluated: int = 0
    after_compaction: list[tuple[int, int]] = field(default_factory=list)  # (prompt, evaluated)
    summary_evaluated: int = 0


def tool_output(i: int) -> str:
    lines = [f"    step_{i}_{j} = compute({i}, {j})" for j in range(18)]
    return f"src/module_{i}.py:\ndef handler_{i}(request):\n" + "\n".join(lines)


def run(model: LlamaCppModel, turns: int, drop_cache: bool, replies: list[str]) -> Totals:
    session, totals = MemorySession(), Totals()
    compactor = Compactor(model, session, schemas=[])
    model.reset_cache()
    for i in range(1, turns + 1):
        session.messages.append({"role": "user", "content": f"Step {i}: read module {i}."})
        before = session.compactions
        result = compactor.compact("window")
        if result is not None:
            totals.summary_evaluated += result.usage.evaluated_tokens
        if drop_cache:
            model.reset_cache()
        try:
            reply = model.complete(session.messages, [])
        except ContextTooLong:  # as the agent does: compact, forced, and once more
            compactor.compact("context error", force=True)
            reply = model.complete(session.messages, [])
        compactor.learn(reply.usage.prompt_tokens)
        totals.prompt += reply.usage.prompt_tokens
        totals.evaluated += reply.usage.evaluated_tokens
        if session.compactions != before:
            totals.after_compaction.append((reply.usage.prompt_tokens,
                                            reply.usage.evaluated_tokens))  # fmt: skip
        text = replies[i - 1] if drop_cache else reply.content.strip() or "ok"
        if not drop_cache:
            replies.append(text)
        session.messages += [{"role": "assistant", "content": text},
                             {"role": "user", "content": tool_output(i)}]  # fmt: skip
    totals.compactions = session.compactions  # type: ignore[attr-defined]
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gguf", type=Path, default=None)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--ctx", type=int, default=2048)
    args = parser.parse_args()
    path = args.gguf or default_gguf()
    model = LlamaCppModel(path, n_ctx=args.ctx, n_threads=THREADS, seed=0, temperature=0.0,
                          max_tokens=24)  # fmt: skip
    started = time.perf_counter()
    replies: list[str] = []
    kept = run(model, args.turns, False, replies)
    dropped = run(model, args.turns, True, replies)
    model.close()
    print(f"model: {path.name}, n_ctx {args.ctx}, {args.turns} turns, "
          f"{kept.compactions} compactions")  # type: ignore[attr-defined]  # fmt: skip
    print(f"{'measure':<52} {'value':>10}")
    print(f"{'prompt tokens (sum over turns)':<52} {kept.prompt:>10}")
    print(f"{'evaluated, cache kept':<52} {kept.evaluated:>10}")
    print(f"{'  evaluated / prompt, cache kept':<52} {kept.evaluated / kept.prompt:>10.3f}")
    print(f"{'evaluated, cache dropped each turn':<52} {dropped.evaluated:>10}")
    print(f"{'  dropped / kept':<52} {dropped.evaluated / kept.evaluated:>10.2f}")
    after = kept.after_compaction
    if after:
        share = sum(e for _, e in after) / sum(p for p, _ in after)
        print(f"{'turns right after a compaction: evaluated / prompt':<52} {share:>10.3f}")
    print(f"{'summary requests: tokens evaluated':<52} {kept.summary_evaluated:>10}")
    print(f"measured in {time.perf_counter() - started:.0f} s, {THREADS} threads")
    print(f"reproduce: .venv/bin/python bench/compaction_kv.py --turns {args.turns} "
          f"--ctx {args.ctx}")  # fmt: skip


if __name__ == "__main__":
    main()
