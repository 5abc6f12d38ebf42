"""`glasscoder review` as a real process: exit codes, --diff, --output, the model layer through
a real HTTP server, --fix handing the findings to the agent."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.review.conftest import TOOLS_PATH, git, make_repo, review

pytestmark = pytest.mark.skipif(
    shutil.which("ruff", path=TOOLS_PATH) is None, reason="ruff is not installed"
)
BUGGY = {"calc.py": "import os\n\n\ndef area(w, h):\n    return w * hieght\n"}  # F401 + F821
ONLY_WARNING = {"calc.py": "import os\n\n\ndef area(w, h):\n    return w * h\n"}


def findings(proc) -> list[tuple[str, int, str]]:
    assert proc.returncode in (0, 1), proc.stderr
    return [(f["file"], f["line"], f["rule_id"]) for f in json.loads(proc.stdout)["findings"]]


@pytest.mark.parametrize(
    ("files", "fail_on", "code"),
    [(BUGGY, None, 0), (BUGGY, "error", 1), (BUGGY, "note", 1), (ONLY_WARNING, "error", 0),
     (ONLY_WARNING, "warning", 1), (ONLY_WARNING, "never", 0)],
)  # fmt: skip
def test_fail_on_sets_the_exit_code(tmp_path, xdg, files, fail_on, code) -> None:
    repo = make_repo(tmp_path / "repo", files)
    proc = review(*(["--fail-on", fail_on] if fail_on else []), cwd=repo)
    assert proc.returncode == code, proc.stderr
    assert "calc.py:1: warning: `os` imported but unused [ruff/F401]" in proc.stdout


def test_diff_limits_findings_to_changed_lines(tmp_path, xdg) -> None:
    repo = make_repo(tmp_path / "repo", {**BUGGY, "other.py": "import sys\n"})
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc.py").write_text(BUGGY["calc.py"] + "\n\ndef twice(x):\n    return x * tow\n")
    proc = review("--diff", base, "--format", "json", cwd=repo)
    assert findings(proc) == [("calc.py", 9, "ruff/F821")]  # not the old F401/F821, not other.py
    assert findings(review("--format", "json", cwd=repo)) == [
        ("calc.py", 1, "ruff/F401"), ("calc.py", 5, "ruff/F821"), ("calc.py", 9, "ruff/F821"),
        ("other.py", 1, "ruff/F401"),
    ]  # fmt: skip


def test_a_bad_revision_or_path_is_one_line_usage_error(tmp_path, xdg) -> None:
    repo = make_repo(tmp_path / "repo", BUGGY)
    bad_rev = review("--diff", "no-such-rev", cwd=repo)
    assert bad_rev.returncode == 2
    message = "glasscoder: --diff no-such-rev: no such revision in this repository."
    assert bad_rev.stderr.strip() == message
    assert "Traceback" not in bad_rev.stderr
    missing = review("nowhere.py", cwd=repo)
    assert missing.returncode == 2 and missing.stderr.startswith("glasscoder: Cannot review")


def test_output_file_gets_sarif_and_the_terminal_a_summary(tmp_path, xdg) -> None:
    repo = make_repo(tmp_path / "repo", BUGGY)
    out = tmp_path / "review.sarif"
    proc = review("--format", "sarif", "--output", str(out), "calc.py", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    log = json.loads(out.read_text())
    assert log["version"] == "2.1.0"
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {"ruff/F401", "ruff/F821"}
    assert proc.stdout.endswith("2 finding(s): 1 error, 1 warning, 0 note\n")


MODEL_REPLY = json.dumps([
    {"line": 5, "quote": "return w * hieght", "category": "logic", "severity": "error",
     "confidence": 0.9, "message": "hieght is undefined; the parameter is h."},
    {"line": 2, "quote": "def area(w, h, d):", "category": "logic", "confidence": 0.4,
     "message": "Made up."},
])  # fmt: skip


def test_model_layer_end_to_end_is_an_audited_session(tmp_path, xdg) -> None:
    repo = make_repo(tmp_path / "repo", BUGGY)
    with FakeOpenAIServer([MODEL_REPLY]) as srv:
        proc = review("--endpoint", srv.base_url, "--model", "fake-model", "--format", "json",
                      cwd=repo)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    line5 = [f for f in doc["findings"] if f["line"] == 5]
    assert len(line5) == 1 and line5[0]["rule_id"] == "ruff/F821"  # merged across layers
    assert line5[0]["also"] == ["fake-model"]
    assert [d["quote"] for d in doc["dropped"]] == ["def area(w, h, d):"]
    assert len(srv.requests) == 1
    assert "`calc.py`" in srv.requests[0].json["messages"][1]["content"]
    session = xdg / "data" / "glasscoder" / "sessions" / doc["session_id"]
    meta = json.loads((session / "meta.json").read_text())
    assert meta["kind"] == "review" and meta["status"] == "done"
    verify = subprocess.run(
        [sys.executable, "-m", "glasscoder", "audit", "verify", doc["session_id"]],
        cwd=repo, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0 and "ok (2 records)" in verify.stdout


def test_model_layer_with_diff_sends_only_the_changed_hunks(tmp_path, xdg) -> None:
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(40))
    repo = make_repo(tmp_path / "repo", {"many.py": body, "same.py": "x = 1\n"})
    (repo / "many.py").write_text(body.replace("return x + 30", "return x - 30"))
    reply = json.dumps([{"line": 122, "quote": "return x - 30", "category": "logic",
                         "severity": "warning", "confidence": 0.5,
                         "message": "Sign flipped."}])  # fmt: skip
    with FakeOpenAIServer([reply]) as srv:
        proc = review("--diff", "HEAD", "--endpoint", srv.base_url, "--format", "json",
                      cwd=repo)  # fmt: skip
    assert findings(proc) == [("many.py", 122, "qwen3-coder/logic")]
    assert len(srv.requests) == 1  # same.py did not change: not sent
    sent = srv.requests[0].json["messages"][1]["content"]
    assert "  122 +     return x - 30" in sent and "      -     return x + 30" in sent
    assert "return x + 1\n" not in sent  # far from the change: not sent


def test_fix_hands_the_findings_to_the_agent(tmp_path, xdg) -> None:
    repo = make_repo(tmp_path / "repo", BUGGY)
    with FakeOpenAIServer(["Fixed: hieght was a typo for h; removed the unused import."]) as srv:
        proc = review("--fix", "--no-model", "--endpoint", srv.base_url, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    task = srv.requests[0].json["messages"][-1]["content"]
    assert "calc.py:5: error: Undefined name `hieght` (ruff/F821, static)" in task
    assert "calc.py:1: warning: `os` imported but unused (ruff/F401, static)" in task


def test_the_model_sees_the_repo_map_of_what_the_file_uses(tmp_path, xdg) -> None:
    try:
        from glasscoder.repomap.languages import check_available

        check_available()
    except Exception:
        pytest.skip("the repo map's grammars are not installed")
    files = {"units.py": "def to_metres(feet):\n    return feet * 0.3048\n",
             "calc.py": "from units import to_metres\n\n\ndef height(f):\n"
                        "    return to_metres(f)\n"}  # fmt: skip
    repo = make_repo(tmp_path / "repo", files)
    with FakeOpenAIServer(["[]"]) as srv:
        proc = review("calc.py", "--endpoint", srv.base_url, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    sent = srv.requests[0].json["messages"][1]["content"]
    context = sent.split("Context from the rest of the repository")[1].split("`calc.py`:")[0]
    assert "units.py" in context and "def to_metres(feet)" in context


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_a_file_name_that_is_not_utf8_is_reported_not_a_crash(tmp_path, xdg, fmt) -> None:
    repo = make_repo(tmp_path / "repo", {"ok.py": "x = 1\n"})
    (repo / b"bad\xff.py".decode("utf-8", "surrogateescape")).write_text("print(nope)\n")
    reply = '[{"line": 1, "quote": "print(nope)", "message": "nope is not defined"}]'
    with FakeOpenAIServer([reply, "[]"]) as srv:  # bad\udcff.py sorts first
        proc = review("--format", fmt, "--endpoint", srv.base_url, cwd=repo)
    # ruff itself fails on such a name (exit 2), which makes the review incomplete: exit 1.
    assert proc.returncode == 0 or "review incomplete" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    if fmt == "sarif":
        uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in json.loads(proc.stdout)["runs"][0]["results"]]  # fmt: skip
        assert uris and set(uris) == {"bad%FF.py"}
    else:
        assert "bad" in proc.stdout and "nope" in proc.stdout


def test_files_the_agent_may_not_read_are_never_sent(tmp_path, xdg) -> None:
    files = {"app.py": "def f():\n    return 1\n",
             "credentials.py": "TOKEN = 'hunter2-very-secret'\n",  # on the secret-file list
             ".gitignore": "private/\n",
             "private/notes.py": "SECRET = 'also-hidden'\n"}  # fmt: skip
    repo = make_repo(tmp_path / "repo", files)
    with FakeOpenAIServer(["[]", "[]", "[]"]) as srv:
        proc = review("--endpoint", srv.base_url, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert len(srv.requests) == 1
    assert b"`app.py`" in srv.requests[0].body
    assert b"hunter2" not in srv.requests[0].body and b"also-hidden" not in srv.requests[0].body


def test_paths_are_relative_to_the_workspace_root(tmp_path, xdg) -> None:
    repo = make_repo(tmp_path / "repo", {**BUGGY, "sub/other.py": "import sys\n"})
    proc = review("--cwd", str(repo), "--format", "json", "sub", cwd=tmp_path)
    assert findings(proc) == [("sub/other.py", 1, "ruff/F401")]
    outside = review("--cwd", str(repo), str(tmp_path), cwd=tmp_path)
    assert outside.returncode == 2 and "Cannot review" in outside.stderr
