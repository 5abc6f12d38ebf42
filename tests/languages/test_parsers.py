"""Analyzer outputs into Diagnostics: real tool output where the tool is here, samples else.

The samples were written in each tool's documented format; real runs check that the format
still is what the parser expects.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glasscoder.languages.diagnostics import Diagnostic, parse, relative

RUFF = Path(sys.executable).with_name("ruff")


def _run(argv, cwd):
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def _keys(found):
    return [(d.file, d.line, d.column, d.rule, d.severity) for d in found]


def test_ruff_json_from_real_ruff(tmp_path):
    (tmp_path / "a.py").write_text("import os\n\n\ndef f():\n    return y\n")
    out = _run([str(RUFF), "check", "--isolated", "--output-format=json", "--no-fix", "a.py"],
               tmp_path)  # fmt: skip
    found = parse("ruff-json", out, tmp_path)
    assert _keys(found) == [("a.py", 1, 8, "F401", "warning"), ("a.py", 5, 12, "F821", "error")]
    assert found[1].message == "Undefined name `y`" and found[1].tool == "ruff"


def test_a_ruff_syntax_error_is_an_error(tmp_path):
    (tmp_path / "b.py").write_text("def f(:\n")
    out = _run([str(RUFF), "check", "--isolated", "--output-format=json", "b.py"], tmp_path)
    found = parse("ruff-json", out, tmp_path)
    assert found and all(d.severity == "error" for d in found)
    assert {d.rule for d in found} <= {"", "invalid-syntax"}  # ruff before 0.12 gave no code


@pytest.mark.skipif(not shutil.which("gcc"), reason="gcc is not installed")
def test_gcc_from_real_gcc(tmp_path):
    (tmp_path / "m.c").write_text(
        '#include <stdio.h>\nint main(void) { int x; printf("%d\\n"); }\n'
    )
    found = parse("gcc", _run(["gcc", "-fsyntax-only", "-Wall", "m.c"], tmp_path), tmp_path)
    assert ("m.c", 2, 22, "-Wunused-variable", "warning") in _keys(found)
    assert any(d.rule == "-Wformat=" for d in found)


@pytest.mark.skipif(not shutil.which("g++"), reason="g++ is not installed")
def test_gxx_error_from_real_gxx(tmp_path):
    (tmp_path / "u.cpp").write_text("int f() { return undefined_thing; }\n")
    found = parse("gcc", _run(["g++", "-fsyntax-only", "u.cpp"], tmp_path), tmp_path)
    assert _keys(found) == [("u.cpp", 1, 18, "", "error")]
    assert "undefined_thing" in found[0].message


@pytest.mark.skipif(not shutil.which("javac"), reason="javac is not installed")
def test_javac_from_real_javac(tmp_path):
    (tmp_path / "A.java").write_text(
        "import java.util.*;\nclass A {\n  List x = new ArrayList();\n  int f() { return z; }\n}\n"
    )
    out = _run(["javac", "-Xlint:all", "-proc:none", "-d", str(tmp_path / "out"), "A.java"],
               tmp_path)  # fmt: skip
    found = parse("javac", out, tmp_path)
    assert ("A.java", 3, 3, "rawtypes", "warning") in _keys(found)
    assert ("A.java", 4, 20, "", "error") in _keys(found)


@pytest.mark.skipif(not shutil.which("cargo"), reason="cargo is not installed")
def test_clippy_json_from_real_clippy(tmp_path):
    probe = subprocess.run(["cargo", "clippy", "--version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("clippy is not installed")
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text("pub fn f(x: i32) -> i32 {\n    return x + 1;\n}\n")
    out = _run(["cargo", "clippy", "--quiet", "--offline", "--message-format=json"], tmp_path)
    found = parse("clippy-json", out, tmp_path)
    assert [(d.file, d.line, d.rule) for d in found] == [
        ("src/lib.rs", 2, "clippy::needless_return")
    ]


def test_bash_syntax_from_real_bash(tmp_path):
    (tmp_path / "s.sh").write_text("#!/bin/bash\nif [ 1 ; then\n")
    found = parse("generic", _run(["bash", "-n", "s.sh"], tmp_path), tmp_path)
    assert _keys(found) == [("s.sh", 3, 0, "", "error")]


# --- recorded samples, for tools not on this machine ---------------------------------------


def test_eslint_json(tmp_path):
    out = json.dumps([{
        "filePath": str(tmp_path / "src" / "a.js"),
        "messages": [
            {"ruleId": "no-unused-vars", "severity": 2, "message": "'x' is assigned a value but "
             "never used.", "line": 1, "column": 7},
            {"ruleId": "eqeqeq", "severity": 1, "message": "Expected '===' and instead saw '=='.",
             "line": 3, "column": 9},
        ],
    }])  # fmt: skip
    found = parse("eslint-json", "(node:1) ExperimentalWarning: banner\n" + out, tmp_path)
    assert _keys(found) == [
        ("src/a.js", 1, 7, "no-unused-vars", "error"), ("src/a.js", 3, 9, "eqeqeq", "warning"),
    ]  # fmt: skip


def test_bandit_json(tmp_path):
    out = json.dumps({"errors": [], "results": [
        {"filename": "./app.py", "line_number": 4, "col_offset": 0, "test_id": "B602",
         "issue_severity": "HIGH", "issue_text": "subprocess call with shell=True identified"},
        {"filename": "./app.py", "line_number": 1, "col_offset": 0, "test_id": "B404",
         "issue_severity": "LOW", "issue_text": "Consider possible security implications."},
    ]})  # fmt: skip
    found = parse("bandit-json", out, tmp_path)
    assert _keys(found) == [("app.py", 4, 1, "B602", "error"), ("app.py", 1, 1, "B404", "note")]


def test_semgrep_json(tmp_path):
    out = json.dumps({"results": [{
        "check_id": "python.lang.security.eval", "path": "src/x.py",
        "start": {"line": 9, "col": 5}, "end": {"line": 9, "col": 20},
        "extra": {"message": "Detected eval", "severity": "ERROR"},
    }], "errors": []})  # fmt: skip
    assert _keys(parse("semgrep-json", out, tmp_path)) == [
        ("src/x.py", 9, 5, "python.lang.security.eval", "error")
    ]


def test_sarif(tmp_path):
    out = json.dumps({"version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "CodeQL"}},
        "results": [{
            "ruleId": "py/sql-injection", "level": "error", "message": {"text": "SQL from input"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f"file://{tmp_path}/db.py"},
                "region": {"startLine": 12, "startColumn": 3}}}],
        }, {"ruleId": "py/unused", "message": {"text": "no level"}, "locations": []}],
    }]})  # fmt: skip
    found = parse("sarif", out, tmp_path)
    assert _keys(found) == [("db.py", 12, 3, "py/sql-injection", "error"),
                            ("", 0, 0, "py/unused", "warning")]  # fmt: skip
    assert found[0].tool == "CodeQL"


def test_cppcheck_template(tmp_path):
    out = (
        "m.c:5:9:error:nullPointer:Null pointer dereference: p\n"
        "m.c:7:0:style:unusedFunction:The function 'g' is never used.\n"
        "nofile:0:0:information:missingIncludeSystem:Cannot find all includes.\n"
        "Checking m.c ...\n"
    )
    assert _keys(parse("cppcheck", out, tmp_path)) == [
        ("m.c", 5, 9, "nullPointer", "error"), ("m.c", 7, 0, "unusedFunction", "note"),
        ("nofile", 0, 0, "missingIncludeSystem", "note"),
    ]  # fmt: skip


def test_tsc_and_msbuild(tmp_path):
    tsc = "src/app.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\n"
    assert _keys(parse("tsc", tsc, tmp_path)) == [("src/app.ts", 3, 7, "TS2322", "error")]
    line = (f"{tmp_path}/Program.cs(5,13): warning CS0168: The variable 'e' is declared but "
            f"never used [{tmp_path}/App.csproj]\n")  # fmt: skip
    found = parse("msbuild", line + "Build succeeded.\n" + line, tmp_path)
    assert _keys(found) == [("Program.cs", 5, 13, "CS0168", "warning")]  # printed twice, kept once
    assert found[0].message == "The variable 'e' is declared but never used"


def test_go_vet_and_staticcheck(tmp_path):
    vet = "# example.com/svc\n./main.go:8:2: fmt.Printf format %d has arg s of wrong type string\n"
    assert _keys(parse("go-vet", vet, tmp_path)) == [("main.go", 8, 2, "", "warning")]
    sc = "main.go:3:6: func unused is unused (U1000)\n"
    assert _keys(parse("generic", sc, tmp_path)) == [("main.go", 3, 6, "U1000", "warning")]


def test_shellcheck_and_swiftlint_gcc_style(tmp_path):
    out = (
        "deploy.sh:3:1: warning: foo appears unused. Verify use (or export if used externally). "
        "[SC2034]\n"
        "Sources/App.swift:10:5: error: Force Cast Violation: Force casts should be avoided "
        "(force_cast)\n"
    )
    assert _keys(parse("gcc", out, tmp_path)) == [
        ("deploy.sh", 3, 1, "SC2034", "warning"), ("Sources/App.swift", 10, 5, "", "error"),
    ]  # fmt: skip


def test_ktlint_plain_and_ruby_warnings(tmp_path):
    out = (
        'src/Main.kt:4:1: Unexpected blank line(s) before "}" '
        "(standard:no-blank-line-before-rbrace)\n"
        "lib/calc.rb:3: warning: assigned but unused variable - x\n"
        "Syntax OK\n"
    )
    assert _keys(parse("generic", out, tmp_path)) == [
        ("src/Main.kt", 4, 1, "standard:no-blank-line-before-rbrace", "warning"),
        ("lib/calc.rb", 3, 0, "", "warning"),
    ]  # fmt: skip


def test_rubocop_json(tmp_path):
    out = json.dumps({"files": [{"path": "lib/calc.rb", "offenses": [
        {"severity": "convention", "message": "Use snake_case.", "cop_name": "Naming/MethodName",
         "location": {"start_line": 2, "start_column": 5}},
        {"severity": "error", "message": "unexpected token", "cop_name": "Lint/Syntax",
         "location": {"start_line": 4, "start_column": 1}},
    ]}]})  # fmt: skip
    assert _keys(parse("rubocop-json", out, tmp_path)) == [
        ("lib/calc.rb", 2, 5, "Naming/MethodName", "note"),
        ("lib/calc.rb", 4, 1, "Lint/Syntax", "error"),
    ]


def test_php_lint(tmp_path):
    text = 'PHP Parse error:  syntax error, unexpected token "}" in src/Calc.php on line 7\n'
    out = text + text.removeprefix("PHP ") + "Errors parsing src/Calc.php\n"
    found = parse("php-lint", out, tmp_path)
    assert _keys(found) == [("src/Calc.php", 7, 0, "", "error")]


def test_garbage_gives_nothing():
    for parser in (
        "ruff-json", "eslint-json", "sarif", "clippy-json", "bandit-json", "gcc", "javac",
        "cppcheck", "tsc", "php-lint", "rubocop-json", "semgrep-json",
    ):  # fmt: skip
        assert parse(parser, '[1, 2\n{broken\nhello world\n["x"]\n{}\n', Path("/r")) == []


def test_unknown_parser_reads_generic(tmp_path):
    assert parse("no-such-format", "a.py:3: bad\n", tmp_path) == [
        Diagnostic("a.py", 3, 0, "", "warning", "bad", "no")
    ]


def test_relative_paths(tmp_path):
    assert relative(str(tmp_path / "x" / "y.py"), tmp_path) == "x/y.py"
    assert relative("./x/y.py", tmp_path) == "x/y.py"
    assert relative("/elsewhere/z.py", tmp_path) == "/elsewhere/z.py"
    assert relative(f"file://{tmp_path}/q.py", tmp_path) == "q.py"
