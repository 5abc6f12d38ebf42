"""The static layer: the project's own analyzers (languages/diagnostics.py) as findings."""

from __future__ import annotations

from glasscoder.review.finding import Finding, normal_severity
from glasscoder.review.sources import Sources

_CATEGORIES = {
    "bandit": "security", "semgrep": "security",
    "gcc": "compiler", "g++": "compiler", "clang": "compiler", "javac": "compiler",
    "tsc": "compiler", "dotnet": "compiler", "php": "compiler", "swiftc": "compiler",
}  # fmt: skip


def static_findings(
    sources: Sources, files: list[str] | None, timeout: float = 120
) -> tuple[list[Finding], list[str]]:
    """Findings from every available analyzer for the languages present, and notes on the
    tools that are missing (with how to install them) or failed. `files` None: everything."""
    from glasscoder.languages.diagnostics import run_analyzers

    diagnostics, notes = run_analyzers(sources.workspace.root, files, timeout=timeout)
    findings = []
    for diag in diagnostics:
        if sources.lines(diag.file) is None:
            continue  # a file the workspace hides (ignored, a secret file) or cannot read
        findings.append(
            Finding(
                file=diag.file, line=diag.line, rule=diag.rule,
                severity=normal_severity(diag.severity), message=diag.message.strip(),
                tool=diag.tool, layer="static", confidence=1.0,
                category=_CATEGORIES.get(diag.tool, "lint"),
                quote=sources.line(diag.file, diag.line).strip(),
            )
        )  # fmt: skip
    return findings, list(notes)
