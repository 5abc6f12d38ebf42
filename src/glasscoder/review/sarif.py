"""SARIF 2.1.0 for GitHub code scanning: one run whose driver is glasscoder, one rule per
tool/rule pair, one result per finding with its file and line.

GitHub keys alerts on ruleId and partialFingerprints; the fingerprint here hashes the rule, the
file and the line's text (not its number), so an alert survives lines moving above it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote as uri_quote

from glasscoder import __version__
from glasscoder.review.finding import Finding
from glasscoder.safetext import scrub

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def to_sarif(findings: list[Finding], incomplete: Sequence[str] = ()) -> str:
    """``incomplete``: the analyzers that gave no result, reported as failed tool executions
    (the run's invocation is then not successful), so a scan is never taken as clean."""
    rules, index = _rules(findings)
    run = {
        "tool": {"driver": {"name": "glasscoder", "version": __version__,
                            "rules": rules}},
        "invocations": [_invocation(incomplete)],
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The reviewed root."}}},
        "results": [_result(f, index[f.rule_id]) for f in findings],
        "columnKind": "unicodeCodePoints",
    }  # fmt: skip
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(scrub(log), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _invocation(incomplete: Sequence[str]) -> dict[str, Any]:
    notes = [{"level": "error", "message": {"text": line},
              "descriptor": {"id": line.split(" ", 1)[0]}} for line in incomplete]  # fmt: skip
    return {"executionSuccessful": not incomplete, "toolExecutionNotifications": notes}


def _rules(findings: list[Finding]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for f in findings:
        if f.rule_id in index:
            continue
        index[f.rule_id] = len(rules)
        rules.append({
            "id": f.rule_id,
            "shortDescription": {"text": _rule_text(f)},
            "defaultConfiguration": {"level": f.severity},
            "properties": {"tags": [f.layer, f.category]},
        })  # fmt: skip
    return rules, index


def _rule_text(f: Finding) -> str:
    if f.layer == "model":
        return f"Possible {f.category} bug found by a model review"
    return f"{f.tool} {f.rule}".strip()


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    # A file name that is not UTF-8 arrives with surrogate escapes: its original bytes are sent.
    uri = uri_quote(f.file, errors="surrogateescape")
    location: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if f.line >= 1:
        region: dict[str, Any] = {"startLine": f.line}
        if f.quote:
            region["snippet"] = {"text": f.quote}
        location["region"] = region
    return {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": f.severity,
        "message": {"text": f.message or f.rule_id},
        "locations": [{"physicalLocation": location}],
        "partialFingerprints": {"glasscoderLineHash/v1": _fingerprint(f)},
        "properties": {
            "tool": f.tool,
            "layer": f.layer,
            "confidence": f.confidence,
            "category": f.category,
            "alsoReportedBy": list(f.also),
        },
    }


def _fingerprint(f: Finding) -> str:
    text = "\0".join((f.rule_id, f.file, " ".join(f.quote.split())))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
