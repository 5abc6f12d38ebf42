"""Deeply nested JSON made harmless: parsing with a depth bound, walks that never recurse.

Any text in a session can nest without end: a file the model reads (``"[" * 100000``), a
command's output, a tool argument, a model reply. CPython's json module recurses per level and
raises RecursionError somewhere below 1000 levels, and so does any recursive walk over what it
returned, so one such string used to end the run and make its session unresumable.

The rule here: a text is opened as JSON only when it nests at most ``MAX_DEPTH`` levels
(``loads_bounded``); deeper, the caller treats it as an opaque string (still redacted as text,
still stored as text). Values are walked with an explicit stack (``rebuild``), and a value
deeper than its bound is cut there, so whatever is stored or printed can be encoded again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# How deep a JSON text glasscoder opens; real data (configs, fixtures, API bodies) nests far
# less, and beyond it the text is handled as a string.
MAX_DEPTH = 100
# How deep a stored or printed value may be: a message wraps its arguments in a few levels.
KEEP_DEPTH = MAX_DEPTH + 28


class TooDeep(ValueError):
    """A JSON text or value nests deeper than allowed."""


def too_deep_marker(limit: int) -> str:
    return f"[nested deeper than {limit} levels: left out]"


def depth(value: Any, limit: int) -> int:
    """How many container levels value has (a scalar 0, [] 1), counting stops at limit + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > limit:
            return limit + 1
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_depth(value: Any, limit: int = MAX_DEPTH) -> Any:
    """value itself, or TooDeep when it nests deeper than limit."""
    if depth(value, limit) > limit:
        raise TooDeep(f"nested more than {limit} levels deep")
    return value


def loads_bounded(text: str | bytes, limit: int = MAX_DEPTH) -> Any:
    """json.loads, but TooDeep (a ValueError) for a text nesting deeper than limit."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(f"nested more than {limit} levels deep") from None
    return check_depth(value, limit)


def dumps_bounded(value: Any, limit: int = MAX_DEPTH, **options: Any) -> str:
    """json.dumps of value, with every container deeper than limit replaced by a marker."""
    return json.dumps(bound(value, limit), **options)


def bound(value: Any, limit: int = KEEP_DEPTH) -> Any:
    """value unchanged when it nests at most limit levels, else a copy cut there."""
    if depth(value, limit) <= limit:
        return value
    return rebuild(value, lambda leaf, level: leaf, limit=limit)


def rebuild(
    value: Any,
    leaf: Callable[[Any, int], Any],
    key: Callable[[Any], Any] = lambda k: k,
    limit: int = KEEP_DEPTH,
) -> Any:
    """A copy of a JSON-like value: leaf(item, level) for every non-container, key(k) for
    every dict key, tuples as lists, containers below limit levels replaced by a marker.

    Iterative, so any depth is safe. When two keys map to one, the later wins, as in a dict
    comprehension.
    """
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]
    while stack:
        item, parent, slot, level = stack.pop()
        if isinstance(item, dict | list | tuple) and level >= limit:
            parent[slot] = too_deep_marker(limit)
        elif isinstance(item, dict):
            copy: dict[Any, Any] = {}
            children = [(child, copy, key(k), level + 1) for k, child in item.items()]
            for _, _, new_key, _ in children:
                copy[new_key] = None  # keys in their order now, values filled as popped
            parent[slot] = copy
            stack.extend(reversed(children))
        elif isinstance(item, list | tuple):
            items: list[Any] = [None] * len(item)
            parent[slot] = items
            stack.extend(reversed([(child, items, i, level + 1) for i, child in enumerate(item)]))
        else:
            parent[slot] = leaf(item, level)
    return root[0]
