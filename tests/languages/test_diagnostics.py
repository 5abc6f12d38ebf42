"""run_analyzers: real linters on a polyglot repository, missing tools, failures, timeouts."""

import shutil
import stat
import sys
from pathlib import Path

import pytest

from glasscoder.languages.diagnostics import BATCH, plan, run_analyzers
from glasscoder.sandbox.base import Result
from glasscoder.sandbox.none import NoSandbox
from tests.languages.polyglot import write_tree

VENV_BIN = str(Path(sys.executable).parent)

BUGGY = {
    "app.py": "import os\n\n\ndef f():\n    return y\n",
    "m.c": "int main(void) { int unused; return 0; }\n",
    "A.java": "import java.util.*;\nclass A { List x = new ArrayList<String>(); }\n",
    "deploy.sh": "#!/bin/bash\nif [ 1 ; then\n",
}


@pytest.fixture
def tools_path(monkeypatch):
    """ruff from glasscoder's own environment plus the system's tools."""
    monkeypatch.setenv("PATH", f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin")


def _script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("javac")), reason="no gcc/javac")
def test_real_linters_on_a_polyglot_repository(tmp_path, tools_path):
    write_tree(tmp_path, BUGGY)
    found, notes = run_analyzers(tmp_path, None, NoSandbox())
    got = {(d.tool, d.file, d.line, d.rule) for d in found}
    assert {
        ("ruff", "app.py", 1, "F401"), ("ruff", "app.py", 5, "F821"),
        ("gcc", "m.c", 1, "-Wunused-variable"), ("javac", "A.java", 2, "rawtypes"),
        ("bash-syntax", "deploy.sh", 3, ""),
    } <= got  # fmt: skip
    for tool, hint in [("bandit", "pip install bandit"), ("shellcheck", "apt install shellcheck"),
                       ("cppcheck", "apt install cppcheck")]:  # fmt: skip
        if not shutil.which(tool):
            assert any(n.startswith(f"{tool} not found") and hint in n for n in notes), notes


def test_files_narrow_both_tools_and_findings(tmp_path, tools_path):
    write_tree(tmp_path, {**BUGGY, "other.py": "import sys\n"})
    found, _ = run_analyzers(tmp_path, ["app.py"], NoSandbox(), purposes=("lint",))
    assert {(d.tool, d.file) for d in found} == {("ruff", "app.py")}


def test_a_missing_tool_is_a_note_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: "")  # nor beside us
    write_tree(tmp_path, {"app.py": "x = 1\n"})
    found, notes = run_analyzers(tmp_path, None, NoSandbox())
    assert found == []
    assert any(n.startswith("ruff not found (python lint: ruff); get it: pip install ruff")
               for n in notes)  # fmt: skip


def test_a_tool_that_fails_without_findings_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    write_tree(tmp_path / "ws", {"app.py": "x = 1\n"})
    _script(tmp_path / "bin/ruff", "echo 'ruff: invalid pyproject.toml' >&2; exit 2")
    found, notes = run_analyzers(tmp_path / "ws", ["app.py"], NoSandbox(), purposes=("lint",))
    assert found == [] and notes == ["ruff failed (exit 2): ruff: invalid pyproject.toml"]


def test_a_tool_that_hangs_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    write_tree(tmp_path / "ws", {"app.py": "x = 1\n"})
    _script(tmp_path / "bin/ruff", "sleep 60")
    found, notes = run_analyzers(
        tmp_path / "ws", ["app.py"], NoSandbox(), purposes=("lint",), timeout=0.5
    )
    assert found == [] and notes == ["ruff timed out after 0.5 s"]


def test_many_files_are_split_into_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", VENV_BIN)
    write_tree(tmp_path, {f"m{i:04}.py": "" for i in range(BATCH * 2 + 5)})
    jobs, _ = plan(tmp_path, None, ("lint",), confined=False)
    assert [len(j.files) for j in jobs] == [BATCH, BATCH, 5]


def test_a_command_shared_by_languages_runs_once_over_all_their_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    write_tree(tmp_path, {"a.py": "", "b.js": "", "c.txt": "", ".semgrep.yml": "rules: []\n"})
    _script(tmp_path / ".venv/bin/semgrep", "exit 0")
    jobs, _ = plan(tmp_path, None, ("analyze",), confined=True)
    semgrep = [j for j in jobs if j.command.name == "semgrep"]
    assert [j.files for j in semgrep] == [("a.py", "b.js")]


def test_semgrep_is_not_run_without_the_projects_rules(tmp_path, monkeypatch):
    # Without rules of its own semgrep would download some: no network behind the person's back.
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    write_tree(tmp_path, {"a.py": ""})
    _script(tmp_path / ".venv/bin/semgrep", "exit 0")
    jobs, notes = plan(tmp_path, None, ("analyze",), confined=True)
    assert not [j for j in jobs if j.command.name == "semgrep"]
    assert not [n for n in notes if n.startswith("semgrep")]


class Recording:
    """A sandbox that runs nothing and remembers what it was asked to run."""

    name = "recording"

    def __init__(self):
        self.seen = []

    def run(self, argv, cwd, env, limits):
        self.seen.append((argv, cwd, env, limits))
        return Result(0, "")


def test_the_sandbox_gets_expanded_templates_and_the_minimal_env(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-linters")
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: "")  # nor beside us
    write_tree(tmp_path, {"A.java": "class A {}\n", "B.java": "class B {}\n"})
    if not shutil.which("javac"):
        pytest.skip("javac is not installed")
    box = Recording()
    found, notes = run_analyzers(tmp_path, None, box, ("lint",), timeout=7)
    assert found == [] and notes == []
    [(argv, cwd, env, limits)] = box.seen
    assert argv[0] == shutil.which("javac") and argv[-2:] == ["A.java", "B.java"]
    assert argv[argv.index("-d") + 1].startswith("/") and "{tmp}" not in " ".join(argv)
    assert (cwd, limits.timeout) == (tmp_path, 7)
    assert env["PATH"] == "/usr/bin:/bin" and "OPENAI_API_KEY" not in env
