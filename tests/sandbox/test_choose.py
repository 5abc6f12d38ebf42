"""Choosing the backend from the setting, `sandbox check` / `sandbox run`, and the agent's
default: on a machine with bwrap, commands run confined without anyone choosing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from glasscoder.errors import UsageError
from glasscoder.sandbox import cgroup
from glasscoder.sandbox import choose as choose_module
from glasscoder.sandbox.choose import choose, forget_probe
from glasscoder.sandbox.none import NoSandbox
from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import xml_call


@pytest.fixture
def no_bwrap(tmp_path, monkeypatch):
    """A PATH without bwrap, and the once-per-process probe forgotten before and after; no
    landlock fallback either (tests/sandbox/test_landlock.py covers that one)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    unavailable = choose_module.Status(False, "no Landlock here")
    monkeypatch.setattr(choose_module, "landlock_status", lambda: unavailable)
    forget_probe()
    yield
    forget_probe()


def glasscoder(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, "-m", "glasscoder", *args], cwd=cwd,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_none_only_when_asked() -> None:
    assert isinstance(choose("none").sandbox, NoSandbox)
    with pytest.raises(UsageError, match="Unknown sandbox 'docker'"):
        choose("docker")


def test_auto_without_bwrap_disables_commands_and_names_the_fix(no_bwrap) -> None:
    chosen = choose("auto")
    assert (chosen.sandbox, chosen.name) == (None, "disabled")
    assert "bwrap" in chosen.problem and "apt-get install bubblewrap" in chosen.problem


def test_forcing_bwrap_without_it_is_a_usage_error(no_bwrap) -> None:
    with pytest.raises(UsageError, match="apt-get install bubblewrap"):
        choose("bwrap")


def test_auto_is_bwrap_where_it_works(sandbox) -> None:
    assert choose("auto").name == "bwrap" and choose("bwrap").name == "bwrap"
    assert choose_module.bwrap_status() is choose_module.bwrap_status()  # probed once


def test_check_lists_protections_and_degradations(sandbox, tmp_path, xdg) -> None:
    run = glasscoder("sandbox", "check", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "backend: bwrap" in run.stdout and "protected:" in run.stdout
    assert "AF_UNIX, AF_VSOCK" in run.stdout and "degraded:" in run.stdout
    assert "network allow-list" in run.stdout


def test_check_without_bwrap_says_what_to_install(tmp_path, xdg) -> None:
    run = glasscoder("sandbox", "check", cwd=tmp_path, env={"PATH": str(tmp_path)})
    if choose_module.landlock_status().ok:  # the fallback is taken, and says why
        assert run.returncode == 0 and "backend: landlock (degraded" in run.stdout
    else:
        assert run.returncode == 1 and "commands are refused" in run.stdout
    assert "apt-get install bubblewrap" in run.stdout


def test_run_prints_output_and_exits_with_the_commands_code(sandbox, tmp_path, xdg) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    run = glasscoder("sandbox", "run", "--cwd", str(ws), "--", "sh", "-c",
                     "echo out; touch made; exit 3", cwd=tmp_path)  # fmt: skip
    assert (run.returncode, run.stdout) == (3, "out\n"), run.stderr
    assert (ws / "made").exists()


def test_run_uses_the_configured_timeout(sandbox, tmp_path, xdg) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("shell_timeout = 1\n")
    run = glasscoder("sandbox", "run", "--", "sleep", "30", cwd=tmp_path)
    assert run.returncode == 124 and "timed out after 1 s" in run.stderr


def test_run_without_a_command_is_a_usage_error(tmp_path, xdg) -> None:
    run = glasscoder("sandbox", "run", cwd=tmp_path)
    assert run.returncode == 2 and "No command given" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_agent_runs_commands_under_bwrap_by_default(sandbox, buggy_repo, xdg) -> None:
    command = "touch made; grep Seccomp: /proc/self/status; ls ~/.ssh"
    replies = [xml_call("run_shell", command=command), "Done."]
    with FakeOpenAIServer(replies) as srv:
        flags = ["--approval", "auto", "--output-format", "stream-json"]
        run = glasscoder("-p", "Go.", "--endpoint", srv.base_url, *flags, cwd=buggy_repo)
    assert run.returncode == 0, run.stderr
    init = json.loads(run.stdout.splitlines()[0])
    assert init["subtype"] == "init" and init["sandbox"] == "bwrap"
    result = srv.requests[1].json["messages"][-1]["content"]
    assert "Seccomp:\t2" in result and "No such file or directory" in result
    assert (buggy_repo / "made").exists()
    assert "WITHOUT a sandbox" not in run.stderr


def test_a_pids_cgroup_is_removed_after_use() -> None:
    group = cgroup.PidsCgroup.create(5)
    if group is None:
        pytest.skip("no writable pids cgroup here")
    assert (group.path / "pids.max").read_text().strip() == "5"
    group.remove()
    assert not group.path.exists()
