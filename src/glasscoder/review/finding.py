"""The one finding type every layer produces, and severity ordering."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

SEVERITIES = ("note", "warning", "error")  # ascending


@dataclass(frozen=True)
class Finding:
    file: str  # workspace-relative POSIX path
    line: int  # 1-based; 0 when the finding is about the whole file
    rule: str  # the tool's rule id ("F401"), or "" when it gives none
    severity: str  # "error" | "warning" | "note"
    message: str
    tool: str  # "ruff", "gcc", or the model's name
    layer: str  # "static" | "model"
    confidence: float  # 0..1; analyzers are taken at their word (1.0)
    category: str  # "lint", "security", "compiler", or the model's category ("logic", ...)
    quote: str  # the text of the line the finding is about ("" when none)
    also: tuple[str, ...] = field(default=())  # other tools that reported the same problem

    @property
    def rule_id(self) -> str:
        """Stable id across runs: the tool with its rule, as SARIF and --fail-on see it."""
        return f"{self.tool}/{self.rule}" if self.rule else self.tool

    def with_line(self, line: int) -> Finding:
        return replace(self, line=line)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def at_or_above(finding: Finding, level: str) -> bool:
    return severity_rank(finding.severity) >= severity_rank(level)


def normal_severity(value: object, default: str = "warning") -> str:
    """A tool's or model's word for severity mapped onto ours."""
    text = str(value).strip().lower() if value is not None else ""
    if text in SEVERITIES:
        return text
    if text in ("critical", "high", "fatal", "bug", "major"):
        return "error"
    if text in ("info", "information", "low", "minor", "style", "convention", "refactor"):
        return "note"
    if text in ("medium", "moderate", "warn"):
        return "warning"
    return default
