"""One file's tags: the definitions it makes and the names it refers to, from its syntax tree."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from glasscoder import textcut
from glasscoder.repomap.languages import parser_and_queries
from glasscoder.repomap.queries import QUERIES

SIGNATURE_CHARS = 120  # a definition's line is cut here in the map


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str
    line: int  # 1-based
    signature: str  # the definition's first line, stripped


@dataclass
class FileTags:
    lang: str
    defs: list[Definition] = field(default_factory=list)
    refs: dict[str, int] = field(default_factory=dict)  # name -> times referred to


def extract(lang: str, source: bytes) -> FileTags:
    """Parse `source` as `lang` and collect its tags."""
    from tree_sitter import QueryCursor

    parser, defs_query, refs_query = parser_and_queries(lang)
    root = parser.parse(source).root_node
    lines = source.split(b"\n")
    tags = FileTags(lang)
    def_spans: set[tuple[int, int]] = set()
    seen: set[tuple[str, int]] = set()
    for capture, nodes in QueryCursor(defs_query).captures(root).items():
        if not capture.startswith("def."):
            continue
        for node in nodes:
            name = _text(node)
            line = node.start_point[0]
            def_spans.add((node.start_byte, node.end_byte))
            if name and (name, line) not in seen:
                seen.add((name, line))
                tags.defs.append(Definition(name, capture[4:], line + 1, _signature(lines, line)))
    tags.defs.sort(key=lambda d: (d.line, d.name))
    refs: Counter[str] = Counter()
    for node in _reference_nodes(lang, root, refs_query):
        if (node.start_byte, node.end_byte) not in def_spans:
            refs[_text(node)] += 1
    refs.pop("", None)
    tags.refs = dict(refs)
    return tags


def _reference_nodes(lang: str, root: Any, refs_query: Any) -> list[Any]:
    from tree_sitter import QueryCursor

    if refs_query is not None:
        return [n for nodes in QueryCursor(refs_query).captures(root).values() for n in nodes]
    query_set = QUERIES[lang]
    return _nodes_of_types(root, frozenset(query_set.refs), frozenset(query_set.skip))


def _nodes_of_types(root: Any, types: frozenset[str], skip: frozenset[str]) -> list[Any]:
    """Every node of one of `types` outside `skip` subtrees, walking the tree with a cursor."""
    found = []
    cursor = root.walk()
    while True:
        kind = cursor.node.type
        if kind in types:
            found.append(cursor.node)
        if kind not in skip and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return found


def _text(node: Any) -> str:
    return node.text.decode("utf-8", "replace").strip() if node.text else ""


def _signature(lines: list[bytes], line: int) -> str:
    text = lines[line].decode("utf-8", "replace").strip() if line < len(lines) else ""
    return text if len(text) <= SIGNATURE_CHARS else textcut.head(text, SIGNATURE_CHARS - 3) + "..."
