"""A repository's own tool copies are its code: run only confined, never unsandboxed.

The security review's repro (tests/languages/hostile.py) against run_analyzers and the
lint-after-edit feedback, with the real bwrap backend and with `none`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from glasscoder.languages.diagnostics import confines, run_analyzers
from glasscoder.languages.feedback import EditFeedback
from glasscoder.sandbox.choose import landlock_status, make_landlock
from glasscoder.sandbox.none import NoSandbox
from glasscoder.workspace import Workspace
from tests.languages.hostile import hostile_repo

VENV_BIN = str(Path(sys.executable).parent)  # the real ruff, outside any test workspace


def test_under_bwrap_the_workspace_program_runs_but_cannot_write_outside(
    tmp_path, monkeypatch, bwrap
):
    monkeypatch.setenv("PATH", f"{VENV_BIN}:/usr/bin:/bin")
    with hostile_repo(tmp_path) as repo:
        found, notes = run_analyzers(repo.root, ["app.py"], bwrap, ("lint",))
        assert repo.ran.read_text() == "ran\n"  # the workspace's copy was the one run
        assert repo.escaped() == []
    assert (found, notes) == ([], [])  # its empty report, not the real ruff's F401


def test_under_landlock_too_nothing_reaches_outside_the_workspace(tmp_path, monkeypatch):
    if not landlock_status().ok:
        pytest.skip(f"landlock unavailable: {landlock_status().problem}")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with hostile_repo(tmp_path) as repo:
        run_analyzers(repo.root, ["app.py"], make_landlock(), ("lint",))
        assert repo.ran.exists() and repo.escaped() == []


def test_only_the_named_backends_count_as_confining(bwrap):
    class Wrapper:
        name = "wrapped"

    assert confines(bwrap) and not confines(NoSandbox()) and not confines(Wrapper())


def test_unsandboxed_the_workspace_program_is_not_run_and_a_note_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: "")  # nor beside us
    with hostile_repo(tmp_path) as repo:
        found, notes = run_analyzers(repo.root, ["app.py"], NoSandbox(), ("lint",))
        assert not repo.ran.exists() and repo.escaped() == []
    assert found == []
    assert notes == [
        ".venv/bin/ruff not run: analyzers are unsandboxed (--sandbox none), so no program from "
        "inside the workspace is used; ruff did not run"
    ]


def test_unsandboxed_the_tool_from_outside_the_workspace_runs_instead(tmp_path, monkeypatch):
    # An activated venv inside the workspace is on PATH too; only the outside copy counts.
    with hostile_repo(tmp_path) as repo:
        monkeypatch.setenv("PATH", f"{repo.root / '.venv/bin'}:{VENV_BIN}")
        found, notes = run_analyzers(repo.root, ["app.py"], NoSandbox(), ("lint",))
        assert not repo.ran.exists() and repo.escaped() == []
    assert [(d.tool, d.rule) for d in found] == [("ruff", "F401")]  # the real ruff's finding
    assert len(notes) == 1 and notes[0].endswith("; ruff from PATH ran instead")


def test_the_unsandboxed_childs_path_leaves_out_the_workspace(tmp_path, monkeypatch):
    seen: list[str] = []

    class Recording(NoSandbox):
        def run(self, argv, cwd, env, limits):
            seen.append(env["PATH"])
            return super().run(argv, cwd, env, limits)

    with hostile_repo(tmp_path) as repo:
        monkeypatch.setenv("PATH", f"{repo.root / '.venv/bin'}:{VENV_BIN}")
        run_analyzers(repo.root, ["app.py"], Recording(), ("lint",))
    assert seen == [VENV_BIN]


@pytest.mark.parametrize("write", ["baseline", "edit"])
def test_lint_after_edit_unsandboxed_skips_the_workspace_program(tmp_path, monkeypatch, write):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: "")  # nor beside us
    with hostile_repo(tmp_path) as repo:
        ws = Workspace(repo.root)
        feedback = EditFeedback(ws.root, NoSandbox())
        rel = "app.py" if write == "baseline" else "new.py"
        assert feedback.before(ws, rel) is None  # no linter at hand: nothing runs
        assert not repo.ran.exists() and repo.escaped() == []


def test_lint_after_edit_under_bwrap_runs_the_workspace_program_confined(
    tmp_path, monkeypatch, bwrap
):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with hostile_repo(tmp_path) as repo:
        ws = Workspace(repo.root)
        pending = EditFeedback(ws.root, bwrap).before(ws, "app.py")
        assert pending is not None and pending.problems == []
        assert repo.ran.exists() and repo.escaped() == []


def test_control_the_repro_program_does_escape_when_run_plainly(tmp_path):
    # Without this, a repro that never wrote its markers would make the tests above vacuous.
    import subprocess

    with hostile_repo(tmp_path) as repo:
        subprocess.run([str(repo.root / ".venv/bin/ruff")], check=True, capture_output=True)
        assert len(repo.escaped()) == 2 and repo.ran.exists()
