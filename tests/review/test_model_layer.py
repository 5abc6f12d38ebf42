"""The model layer against a real HTTP server replaying a recorded review, through the real
model client, egress guard and audit log."""

from __future__ import annotations

import json
from pathlib import Path

from glasscoder.guard.audit import AuditLog, iter_records
from glasscoder.models.openai_compat import OpenAICompatModel
from glasscoder.review import model_layer
from glasscoder.review.model_layer import Dropped, diff_unit, file_units, parse_reply, verify
from tests.fakes.openai_server import FakeOpenAIServer

SOURCE = """\
def find_max(xs):
    best = xs[0]
    for i in range(1, len(xs) - 1):
        if xs[i] > best:
            best = xs[i]
    return best


def average(xs):
    return sum(xs) / len(xs)
"""
LINES = SOURCE.splitlines()
# What a model answered: one right finding, one whose quote is not in the file (invented), one
# whose line number is two off (its quote is line 10's).
REPLY = json.dumps([
    {"file": "stats.py", "line": 3, "quote": "for i in range(1, len(xs) - 1):",
     "category": "off-by-one", "severity": "error", "confidence": 0.9,
     "message": "The loop stops before the last element, so a maximum there is missed."},
    {"file": "stats.py", "line": 5, "quote": "best = max(best, xs[i])",
     "category": "logic", "severity": "error", "confidence": 0.8, "message": "Invented."},
    {"file": "stats.py", "line": 8, "quote": "return sum(xs) / len(xs)",
     "category": "null", "severity": "warning", "confidence": "medium",
     "message": "An empty list divides by zero."},
])  # fmt: skip


def test_a_wrong_quote_is_dropped_and_a_drifted_line_is_corrected(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    reply = f"<think>Looking at the loop bounds.</think>\n```json\n{REPLY}\n```"
    with FakeOpenAIServer([reply]) as srv:
        model = OpenAICompatModel(srv.base_url, "fake-model", audit=audit)
        (unit,) = file_units("stats.py", LINES)
        found, dropped = model_layer.review_unit(model, unit, LINES)
        model.close()
    assert [(f.line, f.category, f.severity) for f in found] == [
        (3, "off-by-one", "error"),
        (10, "null", "warning"),  # the model said 8: corrected to where its quote is
    ]
    assert found[1].quote == "return sum(xs) / len(xs)" and found[1].confidence == 0.6
    assert all(f.layer == "model" and f.tool == "fake-model" for f in found)
    assert dropped == [Dropped("stats.py", 5, "best = max(best, xs[i])",
                               "its quote does not match the file near that line")]  # fmt: skip
    sent = srv.requests[0].json["messages"]
    assert sent[0]["content"] == model_layer.system_prompt()
    assert "    3 |     for i in range(1, len(xs) - 1):" in sent[1]["content"]
    kinds = [record["kind"] for record in iter_records(audit.path)]
    assert kinds == ["request", "response"]  # the request went through the audited path


def test_a_reply_that_is_not_json_drops_nothing_silently(tmp_path: Path) -> None:
    with FakeOpenAIServer(["The code looks fine to me."]) as srv:
        model = OpenAICompatModel(srv.base_url, "fake-model")
        found, dropped = model_layer.review_unit(model, file_units("stats.py", LINES)[0], LINES)
    assert found == []
    assert dropped[0].reason == "the model's reply was not the JSON asked for"


def test_parse_reply_reads_lists_objects_and_fences() -> None:
    assert parse_reply("[]") == []
    assert parse_reply('Sure: {"findings": [{"line": 1}]} done') == [{"line": 1}]
    assert parse_reply('```json\n[{"a": 1}, 7, "x"]\n```') == [{"a": 1}]
    assert parse_reply("no bugs [found] here") is None
    assert parse_reply("<think>[1, 2]</think> nothing") is None


def test_verify_rejects_other_files_and_empty_messages() -> None:
    base = {"line": 10, "quote": "return sum(xs) / len(xs)", "message": "m"}
    assert verify({**base, "file": "./stats.py"}, "stats.py", LINES, "m").line == 10
    other = verify({**base, "file": "other.py"}, "stats.py", LINES, "m")
    assert isinstance(other, Dropped) and "another file" in other.reason
    silent = verify({**base, "message": " "}, "stats.py", LINES, "m")
    assert isinstance(silent, Dropped) and silent.reason == "it has no message"
    odd = verify({**base, "confidence": 85, "severity": "critical", "category": "Null Deref!"},
                 "stats.py", LINES, "m")  # fmt: skip
    assert (odd.confidence, odd.severity, odd.category) == (0.85, "error", "null-deref")


def test_long_files_go_in_overlapping_windows() -> None:
    lines = [f"x{i} = {i}" for i in range(1, 901)]
    units = file_units("big.py", lines)
    assert len(units) == 3
    assert units[1].code.splitlines()[0] == f"{381:>5} | x381 = 381"  # 400 - 20 overlap
    assert units[-1].code.splitlines()[-1] == f"{900:>5} | x900 = 900"


def test_diff_units_number_new_lines_and_mark_changes() -> None:
    diff = (
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n"
        "@@ -3,3 +3,3 @@ def f():\n"
        "     a = 1\n-    b = 2\n+    b = 3\n     return a + b\n"
    )
    unit = diff_unit("m.py", diff)
    assert unit is not None and unit.kind == "diff"
    assert unit.code.splitlines() == [
        "  ...", "    3       a = 1", "      -     b = 2", "    4 +     b = 3",
        "    5       return a + b",
    ]  # fmt: skip
    only_removed = diff.replace("+    b = 3\n", "")
    assert diff_unit("m.py", only_removed) is None


def test_a_model_file_is_named_by_its_file_name() -> None:
    assert model_layer.tool_name("/models/Qwen3-Coder-30B-Q4_K_M.gguf") == (
        "Qwen3-Coder-30B-Q4_K_M.gguf"
    )
    assert model_layer.tool_name("qwen3-coder") == "qwen3-coder"
