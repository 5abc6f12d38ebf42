"""SARIF output checked with jsonschema, twice.

Against the published SARIF 2.1.0 schema (tests/fixtures/sarif/, see the README there for where
it comes from), and against a stricter schema written here: the objects glasscoder emits with
what GitHub code scanning needs on top (a ruleId, a file location, message text,
startLine >= 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from glasscoder.review.finding import Finding
from glasscoder.review.sarif import to_sarif

LEVEL = {"enum": ["none", "note", "warning", "error"], "type": "string"}
BAG = {"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": True,
                                                 "items": {"type": "string"}}}}  # fmt: skip
MESSAGE = {"type": "object", "additionalProperties": False,
           "properties": {"text": {"type": "string"}, "id": {"type": "string"}},
           "anyOf": [{"required": ["text"]}, {"required": ["id"]}]}  # fmt: skip
TEXT = {"type": "object", "additionalProperties": False, "required": ["text"],
        "properties": {"text": {"type": "string"}}}  # fmt: skip
ARTIFACT_LOCATION = {
    "type": "object", "additionalProperties": False,
    "properties": {"uri": {"type": "string", "format": "uri-reference"},
                   "uriBaseId": {"type": "string"}, "index": {"type": "integer", "minimum": -1},
                   "description": MESSAGE},
}  # fmt: skip
REGION = {
    "type": "object", "additionalProperties": False,
    "properties": {"startLine": {"type": "integer", "minimum": 1},
                   "startColumn": {"type": "integer", "minimum": 1},
                   "snippet": {"type": "object", "additionalProperties": False,
                               "properties": {"text": {"type": "string"}}}},
}  # fmt: skip
RESULT = {
    "type": "object", "additionalProperties": False, "required": ["message", "ruleId", "locations"],
    "properties": {
        "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1},
        "level": LEVEL, "message": MESSAGE,
        "locations": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["physicalLocation"],
            "properties": {"physicalLocation": {
                "type": "object", "additionalProperties": False, "required": ["artifactLocation"],
                "properties": {"artifactLocation": ARTIFACT_LOCATION, "region": REGION}}}}},
        "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
        "properties": BAG,
    },
}  # fmt: skip
RULE = {
    "type": "object", "additionalProperties": False, "required": ["id"],
    "properties": {"id": {"type": "string"}, "shortDescription": TEXT,
                   "defaultConfiguration": {"type": "object", "additionalProperties": False,
                                            "properties": {"level": LEVEL}},
                   "properties": BAG},
}  # fmt: skip
INVOCATION = {  # an analyzer that gave no result: a failed tool execution
    "type": "object", "additionalProperties": False, "required": ["executionSuccessful"],
    "properties": {
        "executionSuccessful": {"type": "boolean"},
        "toolExecutionNotifications": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["message"],
            "properties": {"level": LEVEL, "message": TEXT, "descriptor": {
                "type": "object", "additionalProperties": False, "required": ["id"],
                "properties": {"id": {"type": "string"}}}}}},
    },
}  # fmt: skip
SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object", "additionalProperties": False, "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"enum": ["2.1.0"], "type": "string"},
        "runs": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
            "type": "object", "additionalProperties": False, "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "additionalProperties": False, "required": ["driver"],
                         "properties": {"driver": {
                             "type": "object", "additionalProperties": False,
                             "required": ["name"],
                             "properties": {"name": {"type": "string"},
                                            "version": {"type": "string"},
                                            "rules": {"type": "array", "items": RULE}}}}},
                "invocations": {"type": "array", "items": INVOCATION},
                "originalUriBaseIds": {"type": "object",
                                       "additionalProperties": ARTIFACT_LOCATION},
                "results": {"type": "array", "maxItems": 25000, "items": RESULT},
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
            }}},
    },
}  # fmt: skip

FINDINGS = [
    Finding("src/a b.py", 5, "F821", "error", "Undefined name `hieght`", "ruff", "static", 1.0,
            "lint", "return w * hieght"),
    Finding("src/a b.py", 9, "off-by-one", "warning", "Skips the last item", "qwen3", "model",
            0.7, "off-by-one", "for i in range(n - 1):", also=("eslint",)),
    Finding("lib/x.c", 0, "", "note", "", "cppcheck", "static", 1.0, "lint", ""),
    Finding("src/c.py", 2, "F821", "error", "Undefined name `y`", "ruff", "static", 1.0,
            "lint", "y"),
]  # fmt: skip


INCOMPLETE = ["ruff failed (exit 127): ruff could not run in the sandbox: it needs /opt/x"]


def sarif(findings: list[Finding], incomplete: list[str] | None = None) -> dict:
    return json.loads(to_sarif(findings, incomplete or []))


def test_the_log_is_valid_against_the_schema() -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA).validate(sarif(FINDINGS))
    jsonschema.Draft4Validator(SCHEMA).validate(sarif([]))
    jsonschema.Draft4Validator(SCHEMA).validate(sarif([], INCOMPLETE))


def test_an_incomplete_review_is_a_failed_tool_execution() -> None:
    invocation = sarif(FINDINGS[:1], INCOMPLETE)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {"level": "error", "message": {"text": INCOMPLETE[0]}, "descriptor": {"id": "ruff"}}
    ]
    assert sarif(FINDINGS)["runs"][0]["invocations"][0]["executionSuccessful"] is True


OFFICIAL = Path(__file__).parent.parent / "fixtures" / "sarif" / "sarif-2.1.0-rtm.5.json"


def test_the_log_is_valid_against_the_published_sarif_schema() -> None:
    schema = json.loads(OFFICIAL.read_text())
    validator = jsonschema.Draft4Validator(schema)
    validator.validate(sarif(FINDINGS))
    validator.validate(sarif([]))
    validator.validate(sarif(FINDINGS, INCOMPLETE))
    broken = sarif(FINDINGS)
    broken["runs"][0]["results"][0]["level"] = "fatal"  # so the check can fail
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_the_schema_catches_what_github_would_reject() -> None:
    validator = jsonschema.Draft4Validator(SCHEMA)
    for damage in (
        lambda log: log["runs"][0]["results"][0].update(level="fatal"),
        lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "region"
        ].update(startLine=0),
        lambda log: log["runs"][0]["results"][0].pop("ruleId"),
        lambda log: log["runs"][0]["tool"]["driver"].update(rulez=[]),
    ):
        log = sarif(FINDINGS)
        damage(log)
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(log)


def test_rules_results_locations_and_levels() -> None:
    run = sarif(FINDINGS)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["ruff/F821", "qwen3/off-by-one", "cppcheck"]
    results = run["results"]
    assert [(r["ruleId"], r["ruleIndex"], r["level"]) for r in results] == [
        ("ruff/F821", 0, "error"), ("qwen3/off-by-one", 1, "warning"), ("cppcheck", 2, "note"),
        ("ruff/F821", 0, "error"),
    ]  # fmt: skip
    where = results[0]["locations"][0]["physicalLocation"]
    assert where["artifactLocation"] == {"uri": "src/a%20b.py", "uriBaseId": "%SRCROOT%"}
    assert where["region"] == {"startLine": 5, "snippet": {"text": "return w * hieght"}}
    assert "region" not in results[2]["locations"][0]["physicalLocation"]  # a whole-file note
    assert results[2]["message"]["text"] == "cppcheck"  # never an empty message
    assert results[1]["properties"]["confidence"] == 0.7
    assert results[1]["properties"]["alsoReportedBy"] == ["eslint"]


def test_fingerprints_follow_the_line_text_not_its_number() -> None:
    moved = [f.with_line(f.line + 10) for f in FINDINGS]
    before = [r["partialFingerprints"] for r in sarif(FINDINGS)["runs"][0]["results"]]
    after = [r["partialFingerprints"] for r in sarif(moved)["runs"][0]["results"]]
    assert before == after
    assert len({json.dumps(p) for p in before}) == len(FINDINGS)
