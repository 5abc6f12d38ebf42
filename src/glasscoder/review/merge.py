"""One list of findings from all layers: duplicates folded, most severe and surest first.

Two findings are the same problem when they are on the same line of the same file and either
share a rule id or say nearly the same thing. The analyzer's finding is kept (its rule id is
stable across runs); the other reporters are listed in `also`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from difflib import SequenceMatcher

from glasscoder.review.finding import Finding, severity_rank

SIMILAR = 0.6  # SequenceMatcher ratio above which two messages say the same thing


def merge(findings: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(findings, key=_preference):
        twin = next((i for i, other in enumerate(kept) if same_problem(other, finding)), None)
        if twin is None:
            kept.append(finding)
        else:
            kept[twin] = _fold(kept[twin], finding)
    return sorted(kept, key=lambda f: (f.file, f.line, -severity_rank(f.severity), f.rule_id))


def same_problem(a: Finding, b: Finding) -> bool:
    if a.file != b.file or a.line != b.line:
        return False
    if a.rule and a.rule == b.rule and a.layer == b.layer:
        return True
    return _similar(a.message, b.message)


def _similar(a: str, b: str) -> bool:
    """Nearly the same text, or most of the shorter one's words (names, mostly) in the other:
    "Undefined name `hieght`" and "hieght is undefined here" are one problem."""
    a, b = " ".join(a.lower().split()), " ".join(b.lower().split())
    if a == b or SequenceMatcher(None, a, b).ratio() >= SIMILAR:
        return True
    words_a, words_b = _words(a), _words(b)
    shared = len(words_a & words_b)
    return shared >= 2 and shared / min(len(words_a), len(words_b)) >= SIMILAR


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z_][a-z0-9_]{2,}", text)) - _COMMON


_COMMON = frozenset(
    ["the", "and", "for", "not", "but", "this", "that", "with", "are", "was", "has", "have",
     "its", "can", "may"]
)  # fmt: skip


def _preference(finding: Finding) -> tuple[int, int, float]:
    """Static before model, then more severe, then surer: the first of twins is kept."""
    return (finding.layer != "static", -severity_rank(finding.severity), -finding.confidence)


def _fold(kept: Finding, twin: Finding) -> Finding:
    also = tuple(dict.fromkeys((*kept.also, twin.tool, *twin.also)))
    also = tuple(tool for tool in also if tool != kept.tool)
    severity = max(kept.severity, twin.severity, key=severity_rank)
    return replace(kept, also=also, severity=severity)
