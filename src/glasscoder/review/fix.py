"""--fix: the findings handed to the agent as one task."""

from __future__ import annotations

from glasscoder.review.finding import Finding, severity_rank

MAX_LISTED = 50  # a local model's context is small: the worst findings first, the rest counted


def fix_task(findings: list[Finding]) -> str:
    ordered = sorted(findings, key=lambda f: (-_rank(f), f.file, f.line))
    lines = [
        "`glasscoder review` reported the problems below. For each one, read the code, decide "
        "whether it is a real bug (analyzers and models can be wrong), and fix the real ones "
        "with the smallest change. Do not change unrelated code. If the project has tests, run "
        "them afterwards. End with one line per finding: fixed, or not a bug and why.",
        "",
    ]
    for f in ordered[:MAX_LISTED]:
        where = f"{f.file}:{f.line}" if f.line else f.file
        source = f"{f.rule_id}, {f.layer}" + (f", confidence {f.confidence:.2f}"
                                              if f.layer == "model" else "")  # fmt: skip
        lines.append(f"- {where}: {f.severity}: {' '.join(f.message.split())} ({source})")
    if len(ordered) > MAX_LISTED:
        lines.append(f"- ... and {len(ordered) - MAX_LISTED} less severe finding(s) not listed")
    return "\n".join(lines)


def _rank(f: Finding) -> float:
    return severity_rank(f.severity) + f.confidence / 10
