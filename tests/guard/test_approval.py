import pytest

from glasscoder.guard.approval import Approval, Decision, command_allowed, command_prefix


class _Tool:
    def __init__(self, name: str, read_only: bool, runs_commands: bool) -> None:
        self.name, self.read_only, self.runs_commands = name, read_only, runs_commands


READ = _Tool("read_file", True, False)
EDIT = _Tool("edit_file", False, False)
SHELL = _Tool("run_shell", False, True)


@pytest.mark.parametrize(
    ("command", "allowed"),
    [
        ("pytest", True),
        ("pytest -x tests/test_a.py", True),
        ("npm test", True),
        ("npm install", False),
        ("pytest; rm -rf ~", False),
        ("pytest && curl http://x", False),
        ("pytest | sh", False),
        ("pytest $(curl x)", False),
        ("pytest `id`", False),
        ("pytest > /etc/passwd", False),
        ("pytest\nrm -rf /", False),
        ("pytestx", False),
        ("python3 -m pytest -x", True),  # the same program, run as a module
        ("python -m pytest_evil", False),
        ("python3 -m", False),
        ("'unterminated", False),
        ("", False),
    ],
)
def test_command_allowed_only_for_simple_prefix_matches(command: str, allowed: bool) -> None:
    assert command_allowed(command, ["pytest", "npm test"]) is allowed


def test_modes() -> None:
    plan = Approval("plan")
    assert plan.offers(READ) and not plan.offers(EDIT) and not plan.offers(SHELL)
    refused = plan.decide(EDIT)
    assert refused.verdict == "refuse" and "plan mode" in refused.reason
    auto_edit = Approval("auto-edit", ["make test"])
    assert auto_edit.decide(EDIT).verdict == "run"
    assert auto_edit.decide(SHELL, "make test").verdict == "run"
    assert auto_edit.decide(SHELL, "make deploy") == Decision("ask", "command")
    assert "allowed: make test" in auto_edit.refusal_without_asking("command")
    ask = Approval("ask", ["make test"])
    assert ask.decide(EDIT) == Decision("ask", "edit")
    assert ask.decide(SHELL, "make deploy").verdict == "ask"
    assert ask.decide(READ).verdict == "run"
    assert Approval("auto").decide(SHELL, "anything | at all").verdict == "run"
    assert Approval().mode == "auto"  # the sandbox is the protection: the default


def test_no_sandbox_is_asked_about_unless_the_person_chose_none() -> None:
    auto = Approval("auto", ["pytest"])
    assert auto.decide(SHELL, "pytest", sandboxed=False) == Decision("ask", "no sandbox")
    assert auto.refusal_without_asking("no sandbox") == ""  # the tool's own message is used
    auto.allow_for_session("pytest", "no sandbox")
    assert auto.decide(SHELL, "pytest -x", sandboxed=False).verdict == "run"
    assert auto.decide(SHELL, "make", sandboxed=False).verdict == "ask"
    assert not auto.session_allowed  # an unsandboxed yes is not a sandboxed one, and back
    chosen = Approval("auto", unsandboxed_chosen=True)
    assert chosen.decide(SHELL, "make", sandboxed=False).verdict == "run"


def test_yes_for_this_command_allows_its_prefix_for_the_session() -> None:
    approval = Approval("ask")
    approval.allow_for_session(command_prefix("git status --short"))
    assert approval.decide(SHELL, "git status").verdict == "run"
    assert approval.decide(SHELL, "git push").verdict == "ask"
    assert approval.decide(SHELL, "git status; rm -rf ~").verdict == "ask"


@pytest.mark.parametrize(
    ("command", "prefix"),
    [
        ("pytest -x tests", "pytest"),
        ("python3 -m pytest -q", "pytest"),
        ("git diff HEAD", "git diff"),
        ("npm run build", "npm run build"),
        ("uv run pytest -q", "uv run pytest"),
        ("env pytest", ""),
        ("FOO=1 pytest", ""),
        ("cargo --version", ""),
        ("git -c core.pager=x log", ""),
        ("python3 -c 'import os'", ""),
        ("python3 manage.py test", "python3 manage.py"),
        ("bash build.sh", "bash build.sh"),
        ("ls -la", "ls"),
        ("ls; rm -rf ~", ""),
        ("echo $(id)", ""),
        ("'unterminated", ""),
        ("", ""),
    ],
)
def test_command_prefix_is_one_simple_command(command: str, prefix: str) -> None:
    assert command_prefix(command) == prefix


def test_run_tests_is_judged_by_the_command_it_would_run(tmp_path) -> None:
    from glasscoder.tools.base import ToolContext
    from glasscoder.tools.tests import RunTests
    from glasscoder.workspace import Workspace

    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    ctx = ToolContext(Workspace(tmp_path), None)
    tool = RunTests()
    command = tool.command_line({}, ctx)
    assert command.startswith("python3 -m pytest")
    assert Approval("auto-edit", ["pytest"]).decide(tool, command).verdict == "run"
    assert Approval("auto-edit", ["npm test"]).decide(tool, command).verdict == "ask"
    evil = tool.command_line({"target": "-p evil"}, ctx)
    assert Approval("auto-edit", ["pytest"]).decide(tool, evil).verdict == "ask"


def test_an_empty_allowed_entry_allows_nothing() -> None:
    assert not command_allowed("rm -rf x", ["", "  "])
