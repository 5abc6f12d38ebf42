"""Text and JSON renderings of a review."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from glasscoder.review.finding import SEVERITIES, Finding
from glasscoder.review.model_layer import Dropped
from glasscoder.safetext import printable, scrub


def counts(findings: list[Finding]) -> dict[str, int]:
    tally = Counter(f.severity for f in findings)
    return {severity: tally.get(severity, 0) for severity in reversed(SEVERITIES)}


def to_text(
    findings: list[Finding],
    notes: list[str],
    dropped: list[Dropped],
    incomplete: Sequence[str] = (),
) -> str:
    """One line a finding (tool output and model words shown, never obeyed by the terminal);
    a review missing an analyzer's result says so in its last line."""
    lines = [_text_line(f) for f in findings]
    if dropped:
        lines.append(f"({len(dropped)} model finding(s) dropped: their quote did not match "
                     "the file, or they were malformed)")  # fmt: skip
    lines += [f"note: {printable(note)}" for note in notes if note not in incomplete]
    lines += [f"INCOMPLETE: {printable(line)}" for line in incomplete]
    tally = counts(findings)
    summary = ", ".join(f"{n} {severity}" for severity, n in tally.items())
    lines.append(f"{len(findings)} finding(s): {summary}" + incomplete_suffix(incomplete))
    return "\n".join(lines) + "\n"


def incomplete_suffix(incomplete: Sequence[str]) -> str:
    if not incomplete:
        return ""
    return (f"; INCOMPLETE: {len(incomplete)} analyzer(s) gave no result, so this is not a "
            "clean review")  # fmt: skip


def _text_line(f: Finding) -> str:
    where = f"{f.file}:{f.line}" if f.line else f.file
    tools = ", ".join((f.rule_id, *f.also))
    extra = f" (model, {f.category}, confidence {f.confidence:.2f})" if f.layer == "model" else ""
    return printable(f"{where}: {f.severity}: {f.message} [{tools}]{extra}").replace("\n", " ")


def to_json(
    findings: list[Finding],
    notes: list[str],
    dropped: list[Dropped],
    session_id: str | None,
    incomplete: Sequence[str] = (),
) -> str:
    doc: dict[str, Any] = {
        "findings": [_finding_object(f) for f in findings],
        "counts": counts(findings),
        "dropped": [asdict(d) for d in dropped],
        "notes": notes,
        "incomplete": list(incomplete),  # analyzers that gave no result; empty: complete
        "session_id": session_id,
    }
    return json.dumps(scrub(doc), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _finding_object(f: Finding) -> dict[str, Any]:
    obj = asdict(f)
    obj["also"] = list(f.also)
    obj["rule_id"] = f.rule_id
    return obj
