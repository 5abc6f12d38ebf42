"""run_tests: real test runners through the `none` sandbox, summarised."""

import shutil
import sys
from pathlib import Path

import pytest

from glasscoder.sandbox.base import Result
from glasscoder.sandbox.none import NoSandbox
from glasscoder.tools.base import ToolContext, ToolError
from glasscoder.tools.registry import default_tools
from glasscoder.tools.tests import RunTests
from glasscoder.workspace import Workspace
from tests.languages.polyglot import write_tree

VENV_BIN = str(Path(sys.executable).parent)
CALC = "def add(a, b):\n    return a - b\n"
TESTS = (
    "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_zero():\n    assert add(0, 0) == 0\n"
)


@pytest.fixture(autouse=True)
def _tools_on_path(monkeypatch):
    # python3 is glasscoder's own (it has pytest); node and cargo from wherever they are.
    extra = [str(Path(p).parent) for p in (shutil.which("node"), shutil.which("cargo")) if p]
    monkeypatch.setenv("PATH", ":".join([VENV_BIN, *extra, "/usr/local/bin", "/usr/bin", "/bin"]))


def run_tests(root, sandbox=None, args=None, **extra):
    ctx = ToolContext(workspace=Workspace(root), sandbox=sandbox or NoSandbox(), **extra)
    return RunTests().run(args or {}, ctx)


def python_repo(root):
    return write_tree(root, {"calc.py": CALC, "tests/test_calc.py": TESTS,
                             "pytest.ini": "[pytest]\npythonpath = .\n"})  # fmt: skip


def test_pytest_failures_are_summarised(tmp_path):
    obs = run_tests(python_repo(tmp_path))
    lines = obs.text.splitlines()
    assert lines[0].startswith("$ python3 -m pytest -q --tb=short  (from pytest configuration)")
    assert lines[1] == "FAILED: 1 failed, 1 passed (exit code 1)"
    assert lines[2] == "FAIL tests/test_calc.py::test_add"
    assert "assert -1 == 5" in lines[3]
    assert not obs.is_error  # failing tests are a result, not a tool error


def test_a_target_narrows_the_run(tmp_path):
    obs = run_tests(python_repo(tmp_path), args={"target": "test_zero"})
    assert obs.text.splitlines()[0].startswith("$ python3 -m pytest -q --tb=short -k test_zero")
    assert "PASSED: 1 passed" in obs.text


def test_a_target_that_is_an_option_is_refused(tmp_path):
    with pytest.raises(ToolError, match="not an option"):
        run_tests(python_repo(tmp_path), args={"target": "--rootdir=/"})


def test_the_configured_command_wins(tmp_path):
    python_repo(tmp_path)
    obs = run_tests(tmp_path, test_command="python3 -m pytest -q tests/test_calc.py::test_zero")
    assert "(from test_command)" in obs.text and "PASSED: 1 passed" in obs.text


def test_refused_without_a_sandbox(tmp_path):
    python_repo(tmp_path)
    ctx = ToolContext(workspace=Workspace(tmp_path), sandbox=None, sandbox_refusal="No sandbox.")
    obs = RunTests().run({}, ctx)
    assert (obs.text, obs.is_error) == ("No sandbox.", True)


def test_no_test_command_found(tmp_path):
    (tmp_path / "README.md").write_text("hello\n")
    with pytest.raises(ToolError, match="no test command found"):
        run_tests(tmp_path)


def test_a_hanging_suite_is_stopped(tmp_path):
    python_repo(tmp_path)
    obs = run_tests(tmp_path, test_command="sleep 30", args={"timeout": 1})
    assert obs.is_error and "TIMED OUT" in obs.text


class Recording:
    name = "recording"

    def __init__(self):
        self.calls = []

    def run(self, argv, cwd, env, limits):
        self.calls.append((argv, cwd, env, limits))
        return Result(exit_code=0, output="3 passed in 0.1s\n")


def test_it_goes_through_the_sandbox_with_a_minimal_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GLASSCODER_API_KEY", "sk-secret")
    box = Recording()
    obs = run_tests(python_repo(tmp_path), sandbox=box)
    [(argv, cwd, env, limits)] = box.calls
    assert argv[:3] == ["python3", "-m", "pytest"] and cwd == tmp_path.resolve()
    assert "GLASSCODER_API_KEY" not in env and "PATH" in env
    assert limits.timeout == 300 and "PASSED: 3 passed" in obs.text


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed")
def test_node_test_runner(tmp_path):
    write_tree(tmp_path, {
        "package.json": '{"name": "m", "scripts": {"test": "node --test"}}\n',
        "math.test.js": (
            "const test = require('node:test');\nconst assert = require('node:assert');\n"
            "test('adds', () => assert.strictEqual(1 + 1, 2));\n"
            "test('subtracts', () => assert.strictEqual(3 - 1, 1));\n"
        ),
    })  # fmt: skip
    obs = run_tests(tmp_path)
    assert "(from package.json scripts.test)" in obs.text
    assert "FAILED: 1 passed, 1 failed" in obs.text and "FAIL subtracts" in obs.text
    assert "2 !== 1" in obs.text


@pytest.mark.skipif(not shutil.which("cargo"), reason="cargo is not installed")
def test_cargo_test(tmp_path):
    write_tree(tmp_path, {
        "Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n',
        "src/lib.rs": (
            "pub fn add(a: i32, b: i32) -> i32 { a - b }\n#[cfg(test)]\nmod tests {\n"
            "    #[test]\n    fn adds() { assert_eq!(super::add(2, 3), 5); }\n"
            "    #[test]\n    fn zero() { assert_eq!(super::add(0, 0), 0); }\n}\n"
        ),
    })  # fmt: skip
    obs = run_tests(tmp_path, args={"timeout": 300})
    assert "FAILED: 1 passed, 1 failed" in obs.text, obs.text
    assert "FAIL tests::adds" in obs.text and "left: -1" in obs.text


@pytest.mark.skipif(not shutil.which("javac"), reason="javac is not installed")
def test_a_java_suite_through_a_configured_command(tmp_path):
    # No JUnit offline: a main() that fails like a test would, built and run by make.
    write_tree(tmp_path, {
        "CalcTest.java": (
            "class CalcTest {\n  public static void main(String[] a) {\n"
            "    if (2 - 3 != 5) throw new AssertionError(\"add(2, 3) was -1\");\n  }\n}\n"
        ),
        "Makefile": "test:\n\tjavac -d out CalcTest.java && java -cp out CalcTest\n",
    })  # fmt: skip
    obs = run_tests(tmp_path, args={"timeout": 120})
    assert "(from Makefile target 'test')" in obs.text and "FAILED" in obs.text
    assert "AssertionError: add(2, 3) was -1" in obs.text  # generic head and tail


def test_registered_in_the_default_tools():
    assert "run_tests" in [t.name for t in default_tools()]
    tool = RunTests()
    assert tool.runs_commands and not tool.read_only
