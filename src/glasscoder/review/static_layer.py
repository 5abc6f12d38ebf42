"""The static layer: the project's own analyzers (languages/diagnostics.py) as findings.

The analyzers run in the sandbox a run would use (sandbox/choose.py): a repository under review
can ship its own `.venv/bin/ruff` or an `eslint.config.js`, code that must not run on the host.
With no sandbox to run them in the layer is skipped, unless the person chose `--sandbox none`.
"""

from __future__ import annotations

from glasscoder.review.finding import Finding, normal_severity
from glasscoder.review.sources import Sources
from glasscoder.sandbox.choose import Choice

_CATEGORIES = {
    "bandit": "security", "semgrep": "security",
    "gcc": "compiler", "g++": "compiler", "clang": "compiler", "javac": "compiler",
    "tsc": "compiler", "dotnet": "compiler", "php": "compiler", "swiftc": "compiler",
}  # fmt: skip


def static_findings(
    sources: Sources, files: list[str] | None, choice: Choice, timeout: float = 120
) -> tuple[list[Finding], list[str], list[str]]:
    """Findings from every available analyzer for the languages present, run through
    choice's sandbox; notes on the tools that are missing (with how to install them),
    skipped or failed; and the failed ones alone (could not start, timed out, failed without
    a finding): the review is incomplete without them. `files` None: everything."""
    from glasscoder.languages.diagnostics import analyze

    if choice.sandbox is None:
        return [], [skipped_note(choice.problem)], []
    done = analyze(sources.workspace.root, files, choice.sandbox, timeout=timeout)
    findings = []
    for diag in done.diagnostics:
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
    return findings, list(done.notes), list(done.failed)


def skipped_note(problem: str) -> str:
    """The one line saying the static layer did not run, and the two ways to make it run."""
    return (f"static layer skipped: no sandbox to run the project's analyzers in ({problem}); "
            "install bubblewrap, or pass --sandbox none to run them unconfined by your "
            "choice")  # fmt: skip
