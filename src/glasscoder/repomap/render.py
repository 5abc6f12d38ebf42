"""The map as text, `path:` then `  line: signature` lines, fitted to a token budget."""

from __future__ import annotations

from collections import defaultdict

from glasscoder.repomap.rank import Ranked


def count_tokens(text: str) -> int:
    """About four characters a token for code in BPE vocabularies: cheap and close enough."""
    return (len(text) + 3) // 4


def render(ranked: list[Ranked]) -> str:
    """Files in order of their best definition; each file's lines in source order."""
    by_file: dict[str, list[Ranked]] = defaultdict(list)
    for r in ranked:
        by_file[r.path].append(r)
    out = []
    for path, items in by_file.items():  # dicts keep insertion order: best file first
        out.append(f"{path}:")
        lines = sorted({r.definition.line: r.definition.signature for r in items}.items())
        out.extend(f"  {line}: {signature}" for line, signature in lines)
    return "\n".join(out) + ("\n" if out else "")


def fit(ranked: list[Ranked], tokens: int) -> str:
    """The longest prefix of `ranked` whose rendering fits in `tokens` (binary search)."""
    if tokens <= 0 or not ranked:
        return ""
    low, high = 0, len(ranked)
    # Rendering costs at least a few tokens a definition: no need to try more than that.
    high = min(high, tokens)
    best = ""
    while low < high:
        mid = (low + high + 1) // 2
        text = render(ranked[:mid])
        if count_tokens(text) <= tokens:
            low, best = mid, text
        else:
            high = mid - 1
    return best if low else ""
