"""Which definitions matter for a task: personalised PageRank over the files' reference graph.

An edge runs from a file that refers to a name to each file that defines it, weighted by how
specific the name is (defined in few files, long and compound, mentioned in the task) and by
how often it is used. The walk restarts at the files in play, the files the task names and
those defining the names it mentions, so rank flows to what they use. A definition's score is
the rank that reaches it over its edges.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from glasscoder.repomap.tags import Definition, FileTags

DAMPING = 0.6  # lower than the web's 0.85: rank should stay near the files in play
ITERATIONS = 40
SMALL_GRAPH_EDGES = 5_000  # up to here plain Python is about as fast as importing numpy
IN_PLAY_SHARE = 0.95  # the rest of the restart mass is spread over every file
FOCUS_DEFS = 8  # definitions of a file in play put first; its others rank like any
WEAK_MENTION = 0.2  # a plain lowercase word (`render`) may be English as much as code
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CODE_SHAPED = re.compile(r"._|[A-Z]|\d")  # snake_case, CamelCase, digits
_PATHISH = re.compile(r"[\w./-]+")


@dataclass(frozen=True)
class Ranked:
    score: float
    path: str
    definition: Definition


def mentions(task: str, files: dict[str, FileTags]) -> tuple[dict[str, float], set[str]]:
    """(defined names the task mentions -> strength 0..1, files the task names by path).

    A name that looks like code (or is written `quoted` or called()) is a strong mention.
    """
    defined = {d.name for tags in files.values() for d in tags.defs}
    quoted = set(re.findall(r"`([^`]+)`|(?<!\w)([A-Za-z_]\w*)\(", task))
    quoted_words = {w for pair in quoted for part in pair for w in _WORD.findall(part)}
    names = {}
    for word in set(_WORD.findall(task)):
        if len(word) >= 3 and word in defined:
            strong = word in quoted_words or _CODE_SHAPED.search(word)
            names[word] = 1.0 if strong else WEAK_MENTION
    tokens = {t.strip("./") for t in _PATHISH.findall(task)}
    paths = {p for p in files if p in tokens}
    by_base: dict[str, list[str]] = defaultdict(list)
    for path in files:
        by_base[path.rsplit("/", 1)[-1]].append(path)
    for token in tokens:
        candidates = by_base.get(token, [])
        if 0 < len(candidates) <= 3:  # `views.py` in a big repo names nothing in particular
            paths.update(candidates)
    return names, paths


def rank(
    files: dict[str, FileTags], focus: Iterable[str] = (), mentioned: dict[str, float] | None = None
) -> list[Ranked]:
    """Every definition, most relevant first; `mentioned` maps names to strengths 0..1.

    Strongly mentioned definitions come first, then the few best of each file in play, then
    the rest by the rank that reaches them.
    """
    focus_set, names = set(focus) & files.keys(), mentioned or {}
    edges = _edges(files, names)
    file_rank = _pagerank(list(files), edges, _restart(files, focus_set, names))
    reached: dict[tuple[str, str], float] = defaultdict(float)
    for src, targets in edges.items():
        share = file_rank[src] / sum(targets.values())
        for key, weight in targets.items():
            reached[key] += share * weight
    ranked = []
    for path, tags in files.items():
        scored = sorted(
            ((reached.get((path, d.name), 0.0) + 0.01 * file_rank[path], d) for d in tags.defs),
            key=lambda pair: -pair[0],
        )
        for i, (score, d) in enumerate(scored):
            bonus = 1.0 if names.get(d.name, 0.0) >= 1.0 else 0.0  # weak: through the graph
            bonus += 1.0 if path in focus_set and i < FOCUS_DEFS else 0.0
            ranked.append(Ranked(score + bonus, path, d))
    ranked.sort(key=lambda r: (-r.score, r.path, r.definition.line))
    return ranked


def _restart(
    files: dict[str, FileTags], focus: set[str], names: dict[str, float]
) -> dict[str, float]:
    """Where the walk restarts: files in play and where the task's names are defined hold
    IN_PLAY_SHARE of the restart mass between them, however large the repository."""
    strength = {path: 1.0 for path in focus}
    for path, tags in files.items():
        best = max((names.get(d.name, 0.0) for d in tags.defs), default=0.0)
        if best > strength.get(path, 0.0):
            strength[path] = best
    boost = IN_PLAY_SHARE / (1 - IN_PLAY_SHARE) * len(files) / (sum(strength.values()) or 1.0)
    return {path: 1.0 + boost * strength.get(path, 0.0) for path in files}


def specificity(name: str, defining_files: int, mentioned: float = 0.0) -> float:
    weight = (1.0 + 9.0 * mentioned) / defining_files
    if name.startswith("_"):
        weight *= 0.1
    if len(name) <= 2:
        weight *= 0.1
    elif not _CODE_SHAPED.search(name):  # `append`, `text`: also every library's method names
        weight *= 0.5
    elif len(name) >= 8:
        weight *= 2
    return weight


def _edges(
    files: dict[str, FileTags], mentioned: dict[str, float]
) -> dict[str, dict[tuple[str, str], float]]:
    definers: dict[str, set[str]] = defaultdict(set)
    for path, tags in files.items():
        for d in tags.defs:
            definers[d.name].add(path)
    # A name that most files use (`text`, `path`) is mostly local variables, not this definition.
    users: dict[str, int] = defaultdict(int)
    for tags in files.values():
        for name in tags.refs:
            users[name] += 1
    # A name's weight, apart from how often each file uses it, once per name, not per user.
    named: dict[str, tuple[float, set[str]]] = {
        name: (specificity(name, len(paths), mentioned.get(name, 0.0))
               * (math.log((len(files) + 1) / users[name]) + 0.1), paths)
        for name, paths in definers.items() if name in users
    }  # fmt: skip
    edges: dict[str, dict[tuple[str, str], float]] = {}
    for src, tags in files.items():
        out: dict[tuple[str, str], float] = {}
        for name, count in tags.refs.items():
            if (found := named.get(name)) is None:
                continue
            weight = found[0] * math.sqrt(count)
            for dst in found[1]:
                if dst != src:
                    out[(dst, name)] = weight
        if out:
            edges[src] = out
    return edges


def _pagerank(
    nodes: list[str], edges: dict[str, dict[tuple[str, str], float]], weights: dict[str, float]
) -> dict[str, float]:
    """Power iteration on the file graph. A big repository's graph has hundreds of thousands
    of edges and wants numpy; a small one is ranked in plain Python, sparing the ~70 ms that
    importing numpy adds to the first turn."""
    if sum(len(targets) for targets in edges.values()) <= SMALL_GRAPH_EDGES:
        return _pagerank_plain(nodes, edges, weights)
    return _pagerank_numpy(nodes, edges, weights)


def _pagerank_plain(
    nodes: list[str], edges: dict[str, dict[tuple[str, str], float]], weights: dict[str, float]
) -> dict[str, float]:
    total = sum(weights.get(n, 1.0) for n in nodes) or 1.0
    restart = {n: weights.get(n, 1.0) / total for n in nodes}
    out = {src: sum(targets.values()) for src, targets in edges.items()}
    ranks = dict(restart)
    for _ in range(ITERATIONS):
        dangling = sum(r for n, r in ranks.items() if not out.get(n))
        nxt = {n: (1 - DAMPING + DAMPING * dangling) * restart[n] for n in nodes}
        for src, targets in edges.items():
            if out[src]:
                share = DAMPING * ranks[src] / out[src]
                for (dst, _name), w in targets.items():
                    nxt[dst] += share * w
        delta = sum(abs(nxt[n] - ranks[n]) for n in nodes)
        ranks = nxt
        if delta < 1e-9:
            break
    return ranks


def _pagerank_numpy(
    nodes: list[str], edges: dict[str, dict[tuple[str, str], float]], weights: dict[str, float]
) -> dict[str, float]:
    import numpy as np

    position = {n: i for i, n in enumerate(nodes)}
    restart = np.array([weights.get(n, 1.0) for n in nodes])
    restart /= restart.sum() or 1.0
    count = sum(len(targets) for targets in edges.values())
    src_a = np.repeat(
        np.fromiter((position[s] for s in edges), np.int64, len(edges)),
        np.fromiter((len(targets) for targets in edges.values()), np.int64, len(edges)),
    )
    dst_a = np.fromiter(
        (position[d] for targets in edges.values() for d, _name in targets), np.int64, count
    )
    weight = np.fromiter((w for targets in edges.values() for w in targets.values()), float, count)
    out = np.bincount(src_a, weights=weight, minlength=len(nodes))
    fraction = weight / out[src_a] if count else np.array([])
    dangling = out == 0
    ranks = restart.copy()
    for _ in range(ITERATIONS):
        nxt = (1 - DAMPING + DAMPING * ranks[dangling].sum()) * restart
        nxt += DAMPING * np.bincount(dst_a, weights=ranks[src_a] * fraction, minlength=len(nodes))
        delta = np.abs(nxt - ranks).sum()
        ranks = nxt
        if delta < 1e-9:
            break
    return dict(zip(nodes, ranks.tolist(), strict=True))
