from glasscoder.review.finding import Finding
from glasscoder.review.merge import merge


def finding(line: int, message: str, *, rule: str = "", tool: str = "ruff",
            layer: str = "static", severity: str = "warning") -> Finding:  # fmt: skip
    return Finding("a.py", line, rule, severity, message, tool, layer,
                   1.0 if layer == "static" else 0.7, "lint", "x = 1")  # fmt: skip


def test_a_model_finding_that_repeats_an_analyzer_is_folded_into_it() -> None:
    static = finding(3, "Undefined name `hieght`", rule="F821", severity="error")
    model = finding(3, "undefined name 'hieght'", rule="logic", tool="qwen", layer="model")
    (kept,) = merge([model, static])
    assert kept.layer == "static" and kept.rule_id == "ruff/F821" and kept.also == ("qwen",)


def test_the_same_rule_from_two_tools_is_one_finding_keeping_the_worst_severity() -> None:
    a = finding(7, "unused import os", rule="F401", tool="ruff")
    b = finding(7, "'os' imported but unused", rule="F401", tool="flake8", severity="error")
    (kept,) = merge([a, b])
    assert kept.severity == "error" and set((kept.tool, *kept.also)) == {"ruff", "flake8"}


def test_different_problems_stay_apart() -> None:
    found = merge([
        finding(3, "Undefined name `y`", rule="F821"),
        finding(4, "Undefined name `y`", rule="F821"),  # another line
        finding(3, "Loop skips the last element", rule="off-by-one", layer="model", tool="q"),
    ])  # fmt: skip
    assert [(f.line, f.rule) for f in found] == [(3, "off-by-one"), (3, "F821"), (4, "F821")]


def test_an_analyzer_and_a_model_naming_the_same_identifier_are_one_problem() -> None:
    static = finding(5, "Undefined name `hieght`", rule="F821", severity="error")
    model = finding(5, "hieght is undefined; the parameter is h.", rule="logic", tool="q",
                    layer="model")  # fmt: skip
    assert len(merge([static, model])) == 1
    unrelated = finding(5, "Division by zero when the list is empty", rule="null", tool="q",
                        layer="model")  # fmt: skip
    assert len(merge([static, unrelated])) == 2
