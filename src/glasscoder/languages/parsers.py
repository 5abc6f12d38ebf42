"""Analyzer output formats, each read into Raw findings (paths still as the tool wrote them).

`diagnostics.parse` turns these into Diagnostics: paths made workspace-relative, whitespace
folded, duplicates dropped. Every parser tolerates noise around its format: a banner on
stderr, a progress line, a summary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Raw:
    file: str
    line: int
    column: int
    rule: str
    severity: str
    message: str
    tool: str = ""


def json_documents(output: str) -> Iterator[Any]:
    """Each JSON array or object that starts a line of the output, in order."""
    decoder = json.JSONDecoder()
    pos = 0
    for match in re.finditer(r"^[ \t]*[\[{]", output, re.MULTILINE):
        start = match.end() - 1
        if start < pos:
            continue
        try:
            doc, pos = decoder.raw_decode(output, start)
        except (ValueError, RecursionError):  # nested past what json reads: not a report
            continue
        yield doc


def severity(word: str) -> str:
    """Any tool's level word as error, warning or note."""
    word = word.strip().lower()
    if word in ("error", "fatal", "fatal error", "high", "failure", "parse error"):
        return "error"
    if word in ("note", "info", "information", "low", "style", "convention", "refactor",
                "remark", "help", "none"):  # fmt: skip
        return "note"
    return "warning"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# --- JSON formats -----------------------------------------------------------------------------

# Ruff has no levels; these codes are sure bugs (undefined names, syntax, bad comparisons).
_RUFF_ERRORS = ("E9", "F63", "F7", "F82")


def ruff_json(output: str) -> list[Raw]:
    found = []
    for doc in json_documents(output):
        for item in _dicts(doc):
            code = _str(item.get("code"))
            loc = item.get("location") or {}
            bad = code in ("", "invalid-syntax") or code.startswith(_RUFF_ERRORS)
            found.append(
                Raw(_str(item.get("filename")), _int(loc.get("row")), _int(loc.get("column")),
                    code, "error" if bad else "warning", _str(item.get("message")), "ruff")
            )  # fmt: skip
    return found


def eslint_json(output: str) -> list[Raw]:
    found = []
    for doc in json_documents(output):
        for entry in _dicts(doc):
            for m in _dicts(entry.get("messages")):
                level = "error" if m.get("severity") == 2 else "warning"
                found.append(
                    Raw(_str(entry.get("filePath")), _int(m.get("line")), _int(m.get("column")),
                        _str(m.get("ruleId")), level, _str(m.get("message")), "eslint")
                )  # fmt: skip
    return found


def sarif(output: str) -> list[Raw]:
    found = []
    for doc in json_documents(output):
        if not isinstance(doc, dict):
            continue
        for run in _dicts(doc.get("runs")):
            tool = _str(((run.get("tool") or {}).get("driver") or {}).get("name"))
            for res in _dicts(run.get("results")):
                found.append(_sarif_result(res, tool))
    return found


def _sarif_result(res: dict[str, Any], tool: str) -> Raw:
    locations = _dicts(res.get("locations"))
    physical = (locations[0].get("physicalLocation") or {}) if locations else {}
    region = physical.get("region") or {}
    uri = _str((physical.get("artifactLocation") or {}).get("uri"))
    message = _str((res.get("message") or {}).get("text"))
    level = severity(_str(res.get("level")) or "warning")
    return Raw(uri, _int(region.get("startLine")), _int(region.get("startColumn")),
               _str(res.get("ruleId")), level, message, tool)  # fmt: skip


def clippy_json(output: str) -> list[Raw]:
    found = []
    for doc in json_documents(output):
        if not isinstance(doc, dict) or doc.get("reason") != "compiler-message":
            continue
        msg = doc.get("message")
        if not isinstance(msg, dict):
            continue
        spans = [s for s in _dicts(msg.get("spans")) if s.get("is_primary")]
        if not spans or msg.get("level") not in ("error", "warning"):
            continue  # summaries ("2 warnings emitted") have no span
        code = _str((msg.get("code") or {}).get("code"))
        span = spans[0]
        found.append(
            Raw(
                _str(span.get("file_name")),
                _int(span.get("line_start")),
                _int(span.get("column_start")),
                code,
                msg["level"],
                _str(msg.get("message")),
                "clippy",
            )
        )
    return found


def bandit_json(output: str) -> list[Raw]:
    found = []
    for doc in json_documents(output):
        results = doc.get("results") if isinstance(doc, dict) else None
        for r in _dicts(results):
            col = _int(r.get("col_offset")) + 1  # bandit counts columns from 0
            found.append(
                Raw(_str(r.get("filename")), _int(r.get("line_number")), col,
                    _str(r.get("test_id")), severity(_str(r.get("issue_severity"))),
                    _str(r.get("issue_text")), "bandit")
            )  # fmt: skip
    return found


def semgrep_json(output: str) -> list[Raw]:
    found = []
    for doc in json_documents(output):
        results = doc.get("results") if isinstance(doc, dict) else None
        for r in _dicts(results):
            start = r.get("start") or {}
            extra = r.get("extra") or {}
            found.append(
                Raw(_str(r.get("path")), _int(start.get("line")), _int(start.get("col")),
                    _str(r.get("check_id")), severity(_str(extra.get("severity"))),
                    _str(extra.get("message")), "semgrep")
            )  # fmt: skip
    return found


def rubocop_json(output: str) -> list[Raw]:
    found = []
    for doc in json_documents(output):
        files = doc.get("files") if isinstance(doc, dict) else None
        for f in _dicts(files):
            for o in _dicts(f.get("offenses")):
                loc = o.get("location") or {}
                found.append(
                    Raw(_str(f.get("path")), _int(loc.get("start_line")),
                        _int(loc.get("start_column")), _str(o.get("cop_name")),
                        severity(_str(o.get("severity"))), _str(o.get("message")), "rubocop")
                )  # fmt: skip
    return found


# --- line formats -----------------------------------------------------------------------------

# file:line[:col]: [level:] message [rule]   (gcc, clang-tidy, shellcheck -f gcc, swiftlint)
_GCC = re.compile(
    r"^(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
    r"(?P<sev>fatal error|error|warning|note|remark):\s*(?P<msg>.*?)"
    r"(?:\s+\[(?P<rule>[\w\-.,=+:/]+)\])?\s*$",
    re.MULTILINE,
)
# file:line[:col]: message   (go vet, staticcheck, ktlint plain, phpstan raw, ruby -wc)
_GENERIC = re.compile(
    r"^(?:vet: )?(?P<file>[^\s:][^:\n]*?):(?P<line>\d+)(?::(?P<col>\d+))?:\s*(?P<msg>\S.*?)\s*$",
    re.MULTILINE,
)
# bash -n: "script.sh: line 3: syntax error ..."
_BASH = re.compile(r"^(?P<file>[^\s:][^:\n]*): line (?P<line>\d+): (?P<msg>.+?)\s*$", re.MULTILINE)
_LEVEL_PREFIX = re.compile(r"^(?P<sev>error|warning|note|info)\s*:\s*", re.IGNORECASE)
_TRAILING_RULE = re.compile(r"\s+\((?P<rule>[\w\-]+(?::[\w\-]+)?)\)$")
# file(line,col): level CODE: message [project]   (tsc, MSBuild / dotnet build)
_PAREN = re.compile(
    r"^(?P<file>[^\s(][^(\n]*)\((?P<line>\d+),(?P<col>\d+)\): (?P<sev>error|warning|info) "
    r"(?P<rule>\w+): (?P<msg>.*?)(?:\s+\[[^\]]*\])?\s*$",
    re.MULTILINE,
)
_JAVAC = re.compile(
    r"^(?P<file>[^\n]+?\.java):(?P<line>\d+): (?P<sev>error|warning|note): "
    r"(?:\[(?P<rule>[\w\-]+)\] )?(?P<msg>.*)$",
    re.MULTILINE,
)
_PHP = re.compile(
    r"(?:PHP )?(?P<sev>Parse error|Fatal error|Warning|Deprecated):\s+(?P<msg>.+?) in "
    r"(?P<file>\S.*?) on line (?P<line>\d+)"
)


def gcc(output: str) -> list[Raw]:
    return [
        Raw(
            m["file"],
            int(m["line"]),
            int(m["col"] or 0),
            m["rule"] or "",
            severity(m["sev"]),
            m["msg"],
        )
        for m in _GCC.finditer(output)
    ]


def generic(output: str) -> list[Raw]:
    found = []
    for m in _GENERIC.finditer(output):
        msg = m["msg"]
        level = _LEVEL_PREFIX.match(msg)
        sev = severity(level["sev"]) if level else "warning"
        msg = msg[level.end() :] if level else msg
        rule = _TRAILING_RULE.search(msg)
        if rule:
            msg = msg[: rule.start()]
        found.append(Raw(m["file"], int(m["line"]), int(m["col"] or 0),
                         rule["rule"] if rule else "", sev, msg))  # fmt: skip
    found += [
        Raw(m["file"], int(m["line"]), 0, "", "error", m["msg"]) for m in _BASH.finditer(output)
    ]
    return found


def go_vet(output: str) -> list[Raw]:
    return [Raw(r.file, r.line, r.column, r.rule, "warning", r.message) for r in generic(output)]


def paren(output: str) -> list[Raw]:
    return [
        Raw(
            m["file"].strip(),
            int(m["line"]),
            int(m["col"]),
            m["rule"],
            severity(m["sev"]),
            m["msg"],
        )
        for m in _PAREN.finditer(output)
    ]


def javac(output: str) -> list[Raw]:
    lines = output.splitlines()
    found = []
    for m in _JAVAC.finditer(output):
        found.append(
            Raw(
                m["file"],
                int(m["line"]),
                _caret_column(lines, m),
                m["rule"] or "",
                severity(m["sev"]),
                m["msg"],
            )
        )
    return found


def _caret_column(lines: list[str], m: re.Match[str]) -> int:
    """javac marks the column with a caret two lines below the message."""
    index = m.string.count("\n", 0, m.start())
    if index + 2 < len(lines):
        caret = lines[index + 2]
        if caret.strip() == "^":
            return caret.index("^") + 1
    return 0


def cppcheck(output: str) -> list[Raw]:
    """The template registry.CPPCHECK asks for: file:line:column:severity:id:message."""
    found = []
    for text in output.splitlines():
        parts = text.split(":", 5)
        if len(parts) < 6 or not parts[0] or not parts[1].isdigit():
            continue
        file, line, col, sev, rule, msg = parts
        found.append(Raw(file, int(line), int(col) if col.isdigit() else 0, rule, severity(sev),
                         msg.strip()))  # fmt: skip
    return found


def php_lint(output: str) -> list[Raw]:
    return [
        Raw(m["file"], int(m["line"]), 0, "", severity(m["sev"]), m["msg"])
        for m in _PHP.finditer(output)
    ]


PARSERS: dict[str, Callable[[str], list[Raw]]] = {
    "ruff-json": ruff_json,
    "eslint-json": eslint_json,
    "sarif": sarif,
    "gcc": gcc,
    "go-vet": go_vet,
    "clippy-json": clippy_json,
    "bandit-json": bandit_json,
    "semgrep-json": semgrep_json,
    "rubocop-json": rubocop_json,
    "cppcheck": cppcheck,
    "javac": javac,
    "tsc": paren,
    "msbuild": paren,
    "php-lint": php_lint,
    "generic": generic,
}
