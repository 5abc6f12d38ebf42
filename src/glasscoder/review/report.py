"""Text and JSON renderings of a review."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from typing import Any

from glasscoder.review.finding import SEVERITIES, Finding
from glasscoder.review.model_layer import Dropped
from glasscoder.safetext import printable, scrub


def counts(findings: list[Finding]) -> dict[str, int]:
    tally = Counter(f.severity for f in findings)
    return {severity: tally.get(severity, 0) for severity in reversed(SEVERITIES)}


def to_text(findings: list[Finding], notes: list[str], dropped: list[Dropped]) -> str:
    """One line a finding (tool output and model words shown, never obeyed by the terminal)."""
    lines = [_text_line(f) for f in findings]
    if dropped:
        lines.append(f"({len(dropped)} model finding(s) dropped: their quote did not match "
                     "the file, or they were malformed)")  # fmt: skip
    lines += [f"note: {printable(note)}" for note in notes]
    tally = counts(findings)
    summary = ", ".join(f"{n} {severity}" for severity, n in tally.items())
    lines.append(f"{len(findings)} finding(s): {summary}")
    return "\n".join(lines) + "\n"


def _text_line(f: Finding) -> str:
    where = f"{f.file}:{f.line}" if f.line else f.file
    tools = ", ".join((f.rule_id, *f.also))
    extra = f" (model, {f.category}, confidence {f.confidence:.2f})" if f.layer == "model" else ""
    return printable(f"{where}: {f.severity}: {f.message} [{tools}]{extra}").replace("\n", " ")


def to_json(
    findings: list[Finding], notes: list[str], dropped: list[Dropped], session_id: str | None
) -> str:
    doc: dict[str, Any] = {
        "findings": [_finding_object(f) for f in findings],
        "counts": counts(findings),
        "dropped": [asdict(d) for d in dropped],
        "notes": notes,
        "session_id": session_id,
    }
    return json.dumps(scrub(doc), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _finding_object(f: Finding) -> dict[str, Any]:
    obj = asdict(f)
    obj["also"] = list(f.also)
    obj["rule_id"] = f.rule_id
    return obj
