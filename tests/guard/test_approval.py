import pytest

from glasscoder.guard.approval import Approval, command_allowed


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
    assert "plan mode" in (plan.refusal(EDIT, {}) or "")
    auto_edit = Approval("auto-edit", ["make test"])
    assert auto_edit.refusal(EDIT, {}) is None
    assert auto_edit.refusal(SHELL, {"command": "make test"}) is None
    refusal = auto_edit.refusal(SHELL, {"command": "make deploy"})
    assert refusal and "allowed: make test" in refusal
    assert Approval("auto").refusal(SHELL, {"command": "anything | at all"}) is None


def test_run_tests_is_judged_by_the_command_it_would_run(tmp_path) -> None:
    from glasscoder.tools.base import ToolContext
    from glasscoder.tools.tests import RunTests
    from glasscoder.workspace import Workspace

    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    ctx = ToolContext(Workspace(tmp_path), None)
    tool = RunTests()
    assert tool.command_line({}, ctx).startswith("python3 -m pytest")
    assert Approval("auto-edit", ["pytest"]).refusal(tool, {}, ctx) is None
    assert Approval("auto-edit", ["npm test"]).refusal(tool, {}, ctx) is not None
    assert Approval("auto-edit", ["pytest"]).refusal(tool, {"target": "-p evil"}, ctx) is not None


def test_an_empty_allowed_entry_allows_nothing() -> None:
    assert not command_allowed("rm -rf x", ["", "  "])
