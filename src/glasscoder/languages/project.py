"""Which command runs a project's tests: its own configuration first, then the defaults.

Order: the `test_command` setting, a Makefile `test:` target, package.json / composer.json
`scripts.test`, then what the manifests imply (pytest configuration, Cargo.toml, go.mod,
pom.xml, Gradle, CMake, .NET, Ruby, Swift), then plain defaults for test files lying about.
A Makefile comes before package.json because in a polyglot repository it is usually the
umbrella that runs every part's tests.

`test_command` may come from a repository's own .glasscoder/config.toml. That is allowed on
purpose: the command only ever runs through run_tests, which needs a sandbox and the same
approval as run_shell, so a repository gains nothing it could not get by asking the model to
run the command itself.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_NPM_PLACEHOLDER = "no test specified"  # what `npm init` puts in scripts.test
_MAKE_TEST = re.compile(r"^test\s*:(?!=)", re.MULTILINE)
_MAX_MANIFEST = 1 << 20


@dataclass(frozen=True)
class TestCommand:
    argv: tuple[str, ...]
    runner: str  # how to narrow it: pytest, npm, node, cargo, go, mvn, gradle, ctest, ...
    format: str  # how its output reads (tools.tests summaries): pytest, jest, go-test, ...
    source: str  # why this command, shown to the model: "package.json scripts.test"

    def shell(self) -> str:
        return shlex.join(self.argv)


def test_command(root: Path, configured: str = "") -> TestCommand | None:
    """The command run_tests runs, or None when nothing suggests one."""
    found = discover(root, configured)
    return found[0] if found else None


def discover(root: Path, configured: str = "") -> list[TestCommand]:
    """Every candidate, best first."""
    found: list[TestCommand] = []
    if configured.strip():
        argv = tuple(shlex.split(configured))
        found.append(TestCommand(argv, _runner_of(argv), guess_format(configured), "test_command"))
    for finder in (_make, _package_json, _composer, *_MANIFEST_FINDERS, _defaults):
        found += [c for c in finder(root) if c.argv not in {f.argv for f in found}]
    return found


def _make(root: Path) -> list[TestCommand]:
    for name in ("GNUmakefile", "makefile", "Makefile"):
        text = _read(root / name)
        if text and _MAKE_TEST.search(text):
            return [TestCommand(("make", "test"), "make", "generic", f"{name} target 'test'")]
    return []


def _package_json(root: Path) -> list[TestCommand]:
    script = _script(root / "package.json")
    if not script or _NPM_PLACEHOLDER in script:
        return []
    return [TestCommand(("npm", "test"), "npm", guess_format(script), "package.json scripts.test")]


def _composer(root: Path) -> list[TestCommand]:
    script = _script(root / "composer.json")
    if not script:
        return []
    return [TestCommand(("composer", "test"), "phpunit", "generic", "composer.json scripts.test")]


def _script(path: Path) -> str:
    try:
        data: Any = json.loads(_read(path) or "null")
    except ValueError:
        return ""
    scripts = data.get("scripts") if isinstance(data, dict) else None
    test = scripts.get("test") if isinstance(scripts, dict) else None
    if isinstance(test, list):  # composer allows a list of commands
        test = " && ".join(t for t in test if isinstance(t, str))
    return test if isinstance(test, str) else ""


def _pytest(root: Path) -> list[TestCommand]:
    configured = (
        re.search(r"^\[tool\.pytest(\.ini_options)?\]", _read(root / "pyproject.toml"), re.M)
        or (root / "pytest.ini").is_file()
        or "[pytest]" in _read(root / "tox.ini")
        or "[tool:pytest]" in _read(root / "setup.cfg")
        or (root / "conftest.py").is_file()
    )
    if not configured:
        return []
    return [_pytest_command(root, "pytest configuration")]


def _pytest_command(root: Path, source: str) -> TestCommand:
    python = ".venv/bin/python" if (root / ".venv/bin/python").is_file() else "python3"
    return TestCommand((python, "-m", "pytest", "-q", "--tb=short"), "pytest", "pytest", source)


def _simple(
    manifest: str, argv: tuple[str, ...], runner: str, fmt: str
) -> Callable[[Path], list[TestCommand]]:
    def finder(root: Path) -> list[TestCommand]:
        if any(root.glob(manifest)):
            return [TestCommand(argv, runner, fmt, manifest)]
        return []

    return finder


def _maven(root: Path) -> list[TestCommand]:
    if not (root / "pom.xml").is_file():
        return []
    mvn = "./mvnw" if (root / "mvnw").is_file() else "mvn"
    return [TestCommand((mvn, "-q", "test"), "mvn", "surefire", "pom.xml")]


def _gradle(root: Path) -> list[TestCommand]:
    if not any((root / n).is_file() for n in ("build.gradle", "build.gradle.kts")):
        return []
    if (root / "gradlew").is_file():
        return [TestCommand(("./gradlew", "test"), "gradle", "surefire", "gradle wrapper")]
    return [TestCommand(("gradle", "test"), "gradle", "surefire", "build.gradle")]


def _ruby(root: Path) -> list[TestCommand]:
    if (root / ".rspec").is_file() or (root / "spec").is_dir():
        return [TestCommand(("bundle", "exec", "rspec"), "rspec", "generic", "spec/")]
    if (root / "Rakefile").is_file():
        return [TestCommand(("bundle", "exec", "rake", "test"), "make", "generic", "Rakefile")]
    return []


def _phpunit(root: Path) -> list[TestCommand]:
    if not any((root / n).is_file() for n in ("phpunit.xml", "phpunit.xml.dist")):
        return []
    argv = ("vendor/bin/phpunit",) if (root / "vendor/bin/phpunit").is_file() else ("phpunit",)
    return [TestCommand(argv, "phpunit", "generic", "phpunit.xml")]


def _defaults(root: Path) -> list[TestCommand]:
    """No configuration at all: go by the test files that are there."""
    found = []
    top = _names(root) | {f"tests/{n}" for n in _names(root / "tests")}
    if any(re.search(r"(^|/)(test_\w+|\w+_test)\.py$", n) for n in top):
        found.append(_pytest_command(root, "test files (test_*.py)"))
    if any(re.search(r"\.test\.[cm]?js$", n) or n.startswith("test/") for n in top):
        found.append(TestCommand(("node", "--test"), "node", "node-test", "test files (*.test.js)"))
    return found


def _names(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.iterdir()}
    except OSError:
        return set()


_MANIFEST_FINDERS = (
    _pytest,
    _simple("Cargo.toml", ("cargo", "test"), "cargo", "cargo-test"),
    _simple("go.mod", ("go", "test", "./..."), "go", "go-test"),
    _maven,
    _gradle,
    _simple("CMakeLists.txt", ("ctest", "--test-dir", "build", "--output-on-failure"), "ctest",
            "ctest"),
    _simple("*.sln", ("dotnet", "test", "--nologo"), "dotnet", "generic"),
    _simple("*.csproj", ("dotnet", "test", "--nologo"), "dotnet", "generic"),
    _ruby,
    _phpunit,
    _simple("Package.swift", ("swift", "test"), "swift", "generic"),
)  # fmt: skip


def guess_format(script: str) -> str:
    """The output format of a test script, from the runner it names."""
    for word, fmt in (
        ("pytest", "pytest"), ("vitest", "jest"), ("jest", "jest"), ("node --test", "node-test"),
        ("cargo test", "cargo-test"), ("go test", "go-test"), ("mvn", "surefire"),
        ("gradle", "surefire"), ("ctest", "ctest"),
    ):  # fmt: skip
        if word in script:
            return fmt
    return "generic"


_RUNNERS = {
    "pytest": "pytest", "npm": "npm", "node": "node", "cargo": "cargo", "go": "go",
    "mvn": "mvn", "mvnw": "mvn", "gradle": "gradle", "gradlew": "gradle", "ctest": "ctest",
    "dotnet": "dotnet", "rspec": "rspec", "phpunit": "phpunit", "swift": "swift",
}  # fmt: skip


def _runner_of(argv: tuple[str, ...]) -> str:
    """The runner named in the first words ("python -m pytest", "bundle exec rspec")."""
    for word in argv[:3]:
        if (runner := _RUNNERS.get(Path(word).name)) is not None:
            return runner
    return "custom"


def narrowed(cmd: TestCommand, target: str) -> tuple[tuple[str, ...], str]:
    """The command limited to one path or test name, and a note when it cannot be limited."""
    argv, r = cmd.argv, cmd.runner
    is_path = "/" in target or "." in target.rsplit("::", 1)[0]
    if r == "pytest":
        return argv + ((target,) if is_path or "::" in target else ("-k", target)), ""
    if r == "npm":
        return (*argv, "--", target), ""
    if r in ("node", "cargo", "rspec"):
        return (*argv, target), ""
    if r == "go":
        if is_path:
            return ("go", "test", "./" + target.strip("/").removeprefix("./") + "/..."), ""
        return ("go", "test", "-run", target, "./..."), ""
    extra = {
        "mvn": (f"-Dtest={target}", "-Dsurefire.failIfNoSpecifiedTests=false"),
        "gradle": ("--tests", target),
        "ctest": ("-R", target),
        "dotnet": ("--filter", target),
        "swift": ("--filter", target),
        "phpunit": ("--filter", target),
    }.get(r)
    if extra:
        return argv + extra, ""
    return argv, f"'{cmd.shell()}' cannot be narrowed to '{target}'; ran the whole suite"


def _read(path: Path) -> str:
    """A small text file's content, or "" when it is missing, huge or unreadable."""
    try:
        if not path.is_file() or path.stat().st_size > _MAX_MANIFEST:
            return ""
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
