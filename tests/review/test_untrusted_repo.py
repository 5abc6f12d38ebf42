"""`glasscoder review` on a repository that ships its own executable `.venv/bin/ruff` (the
security review's repro, tests/languages/hostile.py): confined under bwrap, never run with
`--sandbox none`, and with no sandbox at all the static layer is skipped with the fix named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from glasscoder.cli.main import cli
from glasscoder.sandbox import choose as choose_module
from glasscoder.sandbox.choose import bwrap_status, forget_probe
from tests.languages.hostile import hostile_repo
from tests.review.conftest import review

SKIPPED = "static layer skipped: no sandbox to run the project's analyzers in"


@pytest.fixture
def no_sandbox(tmp_path, monkeypatch):
    """A machine with neither bwrap (not on PATH) nor the landlock fallback."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(choose_module, "landlock_status",
                        lambda: choose_module.Status(False, "no Landlock here"))  # fmt: skip
    forget_probe()
    yield
    forget_probe()


def test_by_default_the_repos_program_runs_only_inside_bwrap(tmp_path: Path, xdg) -> None:
    if not bwrap_status().ok:
        pytest.skip(f"bwrap unavailable: {bwrap_status().problem}")
    with hostile_repo(tmp_path) as repo:
        proc = review("--no-model", "--format", "json", cwd=repo.root)
        assert proc.returncode == 0, proc.stderr
        assert repo.ran.exists()  # it did run: the workspace's copy is used when confined
        assert repo.escaped() == []  # but nothing it wrote outside reached the host
    assert json.loads(proc.stdout)["findings"] == []  # its empty report


def test_the_repos_own_config_cannot_turn_the_sandbox_off(tmp_path: Path, xdg) -> None:
    if not bwrap_status().ok:
        pytest.skip(f"bwrap unavailable: {bwrap_status().problem}")
    with hostile_repo(tmp_path) as repo:
        (repo.root / ".glasscoder").mkdir()
        (repo.root / ".glasscoder" / "config.toml").write_text('sandbox = "none"\n')
        proc = review("--no-model", cwd=repo.root)
        assert proc.returncode == 0, proc.stderr
        assert repo.ran.exists() and repo.escaped() == []  # still run, and still confined
    assert "WITHOUT a sandbox" not in proc.stderr


def test_with_sandbox_none_the_repos_program_is_not_run(tmp_path: Path, xdg) -> None:
    with hostile_repo(tmp_path) as repo:
        proc = review("--no-model", "--sandbox", "none", "--format", "json", cwd=repo.root)
        assert proc.returncode == 0, proc.stderr
        assert not repo.ran.exists() and repo.escaped() == []
    doc = json.loads(proc.stdout)
    assert any(n.startswith(".venv/bin/ruff not run: analyzers are unsandboxed") for n in
               doc["notes"]), doc["notes"]  # fmt: skip
    assert "WARNING: analyzers run WITHOUT a sandbox" in proc.stderr
    # ruff from outside the workspace (glasscoder's own, on the test's PATH) ran instead.
    assert [f["rule_id"] for f in doc["findings"]] == ["ruff/F401"]


def test_without_a_sandbox_the_static_layer_is_skipped_with_the_fix(
    tmp_path: Path, xdg, no_sandbox
) -> None:
    with hostile_repo(tmp_path) as repo:
        result = CliRunner().invoke(cli, ["review", "--no-model", "--cwd", str(repo.root)])
        assert not repo.ran.exists() and repo.escaped() == []
    assert result.exit_code == 0, result.output
    [note] = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert note.startswith(f"note: {SKIPPED} (bubblewrap (bwrap) is not installed")
    assert note.endswith("install bubblewrap, or pass --sandbox none to run them unconfined by "
                         "your choice")  # fmt: skip


def test_sarif_on_stdout_still_tells_of_the_skipped_layer(tmp_path: Path, xdg, no_sandbox):
    with hostile_repo(tmp_path) as repo:
        args = ["review", "--no-model", "--format", "sarif", "--cwd", str(repo.root)]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["version"] == "2.1.0"
    assert f"glasscoder: {SKIPPED}" in result.stderr


def test_insisting_on_bwrap_where_it_is_missing_is_a_usage_error(tmp_path: Path, xdg) -> None:
    with hostile_repo(tmp_path) as repo:
        proc = review("--no-model", "--sandbox", "bwrap", cwd=repo.root,
                      env={"PATH": str(tmp_path / "empty-bin")})  # fmt: skip
        assert not repo.ran.exists() and repo.escaped() == []
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "bubblewrap" in proc.stderr
