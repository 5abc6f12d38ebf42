"""Test-command discovery: the project's own configuration first, then manifests, defaults."""

import json

import pytest

from glasscoder.languages import project
from glasscoder.languages.project import discover, guess_format, narrowed
from tests.languages.polyglot import POLYGLOT, write_tree


def _found(root, configured=""):
    cmd = project.test_command(root, configured)
    assert cmd is not None
    return cmd


@pytest.mark.parametrize(
    ("files", "argv", "fmt"),
    [
        ({"pyproject.toml": "[tool.pytest.ini_options]\n"},
         ("python3", "-m", "pytest", "-q", "--tb=short"), "pytest"),
        ({"pytest.ini": "[pytest]\n"}, ("python3", "-m", "pytest", "-q", "--tb=short"), "pytest"),
        ({"tox.ini": "[tox]\n[pytest]\n"}, ("python3", "-m", "pytest", "-q", "--tb=short"),
         "pytest"),
        ({"Cargo.toml": "[package]\n"}, ("cargo", "test"), "cargo-test"),
        ({"go.mod": "module m\n"}, ("go", "test", "./..."), "go-test"),
        ({"pom.xml": "<project/>"}, ("mvn", "-q", "test"), "surefire"),
        ({"pom.xml": "<project/>", "mvnw": ""}, ("./mvnw", "-q", "test"), "surefire"),
        ({"build.gradle.kts": "", "gradlew": ""}, ("./gradlew", "test"), "surefire"),
        ({"build.gradle": ""}, ("gradle", "test"), "surefire"),
        ({"CMakeLists.txt": ""}, ("ctest", "--test-dir", "build", "--output-on-failure"),
         "ctest"),
        ({"App.csproj": ""}, ("dotnet", "test", "--nologo"), "generic"),
        ({"Gemfile": "", "spec/calc_spec.rb": ""}, ("bundle", "exec", "rspec"), "generic"),
        ({"Package.swift": ""}, ("swift", "test"), "generic"),
        ({"phpunit.xml": ""}, ("phpunit",), "generic"),
        ({"package.json": json.dumps({"scripts": {"test": "vitest run"}})}, ("npm", "test"),
         "jest"),
        ({"composer.json": json.dumps({"scripts": {"test": ["phpunit"]}})},
         ("composer", "test"), "generic"),
        ({"tests/test_calc.py": ""}, ("python3", "-m", "pytest", "-q", "--tb=short"), "pytest"),
        ({"math.test.js": ""}, ("node", "--test"), "node-test"),
    ],
)  # fmt: skip
def test_each_ecosystem(tmp_path, files, argv, fmt):
    cmd = _found(write_tree(tmp_path, files))
    assert (cmd.argv, cmd.format) == (argv, fmt)


def test_nothing_to_go_on(tmp_path):
    write_tree(tmp_path, {"README.md": "hi\n", "src/app.py": ""})
    assert project.test_command(tmp_path) is None and discover(tmp_path) == []


def test_the_projects_own_configuration_wins(tmp_path):
    write_tree(tmp_path, {
        "pyproject.toml": "[tool.pytest.ini_options]\n",
        "Cargo.toml": "",
        "package.json": json.dumps({"scripts": {"test": "jest"}}),
        "Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./run-tests\n",
    })  # fmt: skip
    order = [c.source for c in discover(tmp_path)]
    assert order == [
        "Makefile target 'test'", "package.json scripts.test", "pytest configuration", "Cargo.toml",
    ]  # fmt: skip
    configured = _found(tmp_path, "tox -e py311 -- -x")
    assert configured.argv == ("tox", "-e", "py311", "--", "-x")
    assert configured.source == "test_command"


def test_npm_placeholder_and_makefile_assignments_do_not_count(tmp_path):
    write_tree(tmp_path, {
        "package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified"'}}),
        "Makefile": "test:=value\nbuild:\n\ttrue\n",
        "Cargo.toml": "",
    })  # fmt: skip
    assert _found(tmp_path).argv == ("cargo", "test")


def test_a_broken_package_json_is_skipped(tmp_path):
    write_tree(tmp_path, {"package.json": "{not json", "go.mod": "module m\n"})
    assert _found(tmp_path).argv == ("go", "test", "./...")


def test_the_projects_venv_python_runs_pytest(tmp_path):
    write_tree(tmp_path, {"pytest.ini": "[pytest]\n", ".venv/bin/python": ""})
    assert _found(tmp_path).argv[0] == ".venv/bin/python"


def test_a_polyglot_monorepo_offers_its_root_makefile(tmp_path):
    write_tree(tmp_path, {**POLYGLOT, "Makefile": "test:\n\tmake -C py test\n"})
    assert _found(tmp_path).argv == ("make", "test")


def test_configured_command_runner_and_format():
    for text, runner, fmt in [
        ("python -m pytest -x", "pytest", "pytest"),
        ("bundle exec rspec", "rspec", "generic"),
        ("./gradlew test", "gradle", "surefire"),
        ("./run-tests.sh", "custom", "generic"),
    ]:
        cmd = discover_configured(text)
        assert (cmd.runner, cmd.format) == (runner, fmt), text


def discover_configured(text):
    from pathlib import Path

    return discover(Path("/nonexistent-root-for-test"), text)[0]


CMD = {
    "pytest": project.TestCommand(("python3", "-m", "pytest"), "pytest", "pytest", ""),
    "npm": project.TestCommand(("npm", "test"), "npm", "jest", ""),
    "go": project.TestCommand(("go", "test", "./..."), "go", "go-test", ""),
    "cargo": project.TestCommand(("cargo", "test"), "cargo", "cargo-test", ""),
    "mvn": project.TestCommand(("mvn", "-q", "test"), "mvn", "surefire", ""),
    "gradle": project.TestCommand(("gradle", "test"), "gradle", "surefire", ""),
    "make": project.TestCommand(("make", "test"), "make", "generic", ""),
}


@pytest.mark.parametrize(
    ("runner", "target", "argv"),
    [
        ("pytest", "tests/t.py::test_x", ("python3", "-m", "pytest", "tests/t.py::test_x")),
        ("pytest", "test_add", ("python3", "-m", "pytest", "-k", "test_add")),
        ("npm", "math", ("npm", "test", "--", "math")),
        ("go", "./pkg/calc", ("go", "test", "./pkg/calc/...")),
        ("go", "TestAdd", ("go", "test", "-run", "TestAdd", "./...")),
        ("cargo", "adds", ("cargo", "test", "adds")),
        ("mvn", "CalcTest", ("mvn", "-q", "test", "-Dtest=CalcTest",
                             "-Dsurefire.failIfNoSpecifiedTests=false")),
        ("gradle", "CalcTest", ("gradle", "test", "--tests", "CalcTest")),
    ],
)  # fmt: skip
def test_narrowing(runner, target, argv):
    assert narrowed(CMD[runner], target) == (argv, "")


def test_a_command_that_cannot_be_narrowed_says_so():
    argv, note = narrowed(CMD["make"], "test_add")
    assert argv == ("make", "test") and "cannot be narrowed" in note


def test_guess_format():
    assert guess_format("jest --ci") == "jest"
    assert guess_format("node --test test/") == "node-test"
    assert guess_format("mocha") == "generic"


def test_a_repositorys_config_may_set_the_test_command(tmp_path, xdg):
    from glasscoder.config import load_settings

    write_tree(tmp_path, {".glasscoder/config.toml": 'test_command = "make check"\n'
                          "lint_on_edit = false\n"})  # fmt: skip
    settings = load_settings(tmp_path, {})
    assert (settings.test_command, settings.lint_on_edit, settings.warnings) == (
        "make check",
        False,
        [],
    )
    assert project.test_command(tmp_path, settings.test_command).argv == ("make", "check")
