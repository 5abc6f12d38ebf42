"""run_shell with the `none` sandbox and real commands, plus a recording sandbox for limits."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from glasscoder.sandbox.base import Limits, Result
from glasscoder.sandbox.none import NoSandbox
from glasscoder.tools.base import ToolContext, ToolError
from glasscoder.tools.shell import MAX_TIMEOUT, RunShell
from glasscoder.workspace import Workspace


@dataclass
class RecordingSandbox:
    """Remembers what it was asked to run and answers with a canned Result."""

    name: str = "recording"
    calls: list[tuple[list[str], Path, dict[str, str], Limits]] = field(default_factory=list)

    def run(self, argv, cwd, env, limits):
        self.calls.append((argv, cwd, env, limits))
        return Result(exit_code=0, output="ok\n")


def make_ctx(tmp_path, sandbox, **extra):
    return ToolContext(workspace=Workspace(tmp_path), sandbox=sandbox, **extra)


def shell(ctx, command, **extra):
    return RunShell().run({"command": command, **extra}, ctx)


def test_refuses_without_a_sandbox(tmp_path):
    ctx = make_ctx(tmp_path, None, sandbox_refusal="No sandbox: use the file tools.")
    obs = shell(ctx, "touch created-by-model")
    assert (obs.text, obs.is_error) == ("No sandbox: use the file tools.", True)
    assert not (tmp_path / "created-by-model").exists()


def test_runs_in_workspace_root_and_reports_exit_code(tmp_path):
    ctx = make_ctx(tmp_path, NoSandbox())
    obs = shell(ctx, "pwd; echo oops >&2; exit 4")
    assert obs.text == f"{ctx.workspace.root}\noops\n[exit code 4]"
    assert obs.files_changed == [] and not obs.is_error


def test_files_created_by_the_command_land_in_the_workspace(tmp_path):
    obs = shell(make_ctx(tmp_path, NoSandbox()), "echo hi > made.txt")
    assert obs.text == "(no output)\n[exit code 0]"
    assert (tmp_path / "made.txt").read_text() == "hi\n"


def test_timeout_is_reported(tmp_path):
    obs = shell(make_ctx(tmp_path, NoSandbox()), "echo begin; sleep 30", timeout=1)
    assert obs.text == "begin\n[timed out after 1 s; the process group was killed]"
    assert obs.is_error


def test_output_limit_from_context_truncates(tmp_path):
    ctx = make_ctx(tmp_path, NoSandbox(), output_limit=100)
    obs = shell(ctx, "seq 1 100000")
    assert obs.text.startswith("1\n2\n3\n")
    assert "characters cut ...]" in obs.text
    assert obs.text.endswith("99999\n100000\n[exit code 0]")
    assert len(obs.text) < 200


def test_secrets_in_the_parent_environment_are_not_passed(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_API_KEY", "sk-do-not-leak")
    obs = shell(make_ctx(tmp_path, NoSandbox()), 'echo "key=${MODEL_API_KEY-unset}"')
    assert obs.text == "key=unset\n[exit code 0]"


def test_timeout_defaults_to_context_and_is_capped(tmp_path):
    sandbox = RecordingSandbox()
    ctx = make_ctx(tmp_path, sandbox, shell_timeout=42, output_limit=500)
    shell(ctx, "true")
    shell(ctx, "true", timeout=10_000)
    shell(ctx, "true", timeout="7")
    (argv, cwd, _, first), (_, _, _, second), (_, _, _, third) = sandbox.calls
    assert argv == ["bash", "-c", "true"] and cwd == ctx.workspace.root
    assert (first.timeout, first.output_chars) == (42, 500)
    assert (second.timeout, third.timeout) == (MAX_TIMEOUT, 7)


def test_falls_back_to_sh_when_bash_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder with no bash in it
    sandbox = RecordingSandbox()
    shell(make_ctx(tmp_path, sandbox), "echo hi")
    assert sandbox.calls[0][0] == ["/bin/sh", "-c", "echo hi"]


@pytest.mark.parametrize(
    "args",
    [{}, {"command": ""}, {"command": 3}, {"command": "true", "timeout": -1},
     {"command": "true", "timeout": True}, {"command": "true", "timeout": "soon"},
     {"command": "true", "timeout": "²"}, {"command": "true", "timeout": float("nan")},
     {"command": "echo hi\0; rm -rf x"}],
)  # fmt: skip
def test_bad_arguments_are_tool_errors(tmp_path, args):
    sandbox = RecordingSandbox()
    with pytest.raises(ToolError):
        RunShell().run(args, make_ctx(tmp_path, sandbox))
    assert sandbox.calls == []


def test_huge_and_infinite_timeouts_are_capped(tmp_path):
    sandbox = RecordingSandbox()
    ctx = make_ctx(tmp_path, sandbox)
    for timeout in (10**400, float("inf")):  # float(10**400) would overflow
        shell(ctx, "true", timeout=timeout)
    assert [call[3].timeout for call in sandbox.calls] == [MAX_TIMEOUT, MAX_TIMEOUT]
