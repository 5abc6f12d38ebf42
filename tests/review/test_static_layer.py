"""Planted bugs found by the real analyzers (each skipped cleanly when its tool is missing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from glasscoder.review.runner import run_review
from glasscoder.sandbox.choose import Choice, choose
from glasscoder.workspace import Workspace
from tests.review.conftest import make_repo

PY = {
    "app/calc.py": "import os\n\n\ndef area(w, h):\n    return w * hieght\n",
    "secrets.env": "TOKEN=x\n",
    ".gitignore": "build/\n",
    "build/gen.py": "print(undefined_name)\n",
}
JS = {
    "eslint.config.js": (
        "export default [{ languageOptions: { sourceType: 'module', globals: { console: "
        "'readonly' } }, rules: { 'no-undef': 'error', 'use-isnan': 'error', "
        "'no-dupe-keys': 'error' } }];\n"
    ),
    "lib/check.js": (
        "export function isMissing(x) {\n  return x === NaN;\n}\n"
        "export function total(items) {\n  let sum = 0;\n  for (const i of items) sum += i;\n"
        "  return summ;\n}\n"
    ),
}
C = {
    "src/main.c": (
        "#include <stdio.h>\nint main(void) {\n  int a[3] = {0, 1, 2};\n  int x = 0;\n"
        '  if (x = 2) printf("%d\\n", a[0]);\n  a[3] = 1;\n  return 0;\n}\n'
    ),
}


def confined() -> Choice:
    """The default choice, as `glasscoder review` makes it; these tests need it to confine."""
    choice = choose("auto")
    if choice.sandbox is None:
        pytest.skip(f"no sandbox here: {choice.problem}")
    return choice


def review(root: Path) -> list[tuple[str, int, str]]:
    result = run_review(Workspace(root), [], None, None, lambda _: None, confined())
    return [(f.file, f.line, f.rule_id) for f in result.findings]


def needs(program: str) -> None:
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed here")


def test_python_bugs_found_by_ruff(tmp_path: Path, tools_on_path: None) -> None:
    needs("ruff")
    root = make_repo(tmp_path / "py", PY)
    found = review(root)
    assert ("app/calc.py", 5, "ruff/F821") in found  # the misspelt name
    assert ("app/calc.py", 1, "ruff/F401") in found
    assert not any(f.startswith("build/") for f, _, _ in found)  # ignored by .gitignore


def test_javascript_bugs_found_by_eslint(tmp_path: Path) -> None:
    needs("eslint")
    root = make_repo(tmp_path / "js", JS)
    found = review(root)
    assert ("lib/check.js", 2, "eslint/use-isnan") in found
    assert ("lib/check.js", 7, "eslint/no-undef") in found


def test_c_bugs_found_by_gcc_and_cppcheck(tmp_path: Path) -> None:
    needs("gcc")
    root = make_repo(tmp_path / "c", C)
    found = review(root)
    assert ("src/main.c", 5, "gcc/-Wparentheses") in found  # `if (x = 2)`
    if shutil.which("cppcheck"):
        assert ("src/main.c", 6, "cppcheck/arrayIndexOutOfBounds") in found


def test_a_missing_analyzer_is_a_note_with_the_install_hint(tmp_path: Path, monkeypatch) -> None:
    root = make_repo(tmp_path / "py", {"a.py": "x = 1\n"})
    choice = confined()  # before PATH loses bwrap
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr("glasscoder.languages.registry.own_scripts", lambda: "")  # nor beside us
    result = run_review(Workspace(root), [], None, None, lambda _: None, choice)
    assert result.findings == []
    assert any("ruff not found" in note and "pip install ruff" in note for note in result.notes)
