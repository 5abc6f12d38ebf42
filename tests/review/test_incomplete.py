"""A review whose analyzer could not start is never reported clean: it says which analyzer and
which folder it needed, marks the result incomplete (text, JSON, SARIF) and exits 1.

The analyzer here is a `ruff` on PATH in a home folder that hands over to the real ruff in a
folder glasscoder does not recognise as a toolchain, so the sandbox does not show it. Run on
the host (--sandbox none) the same tool works, so the failure is the sandbox's alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from glasscoder.sandbox.choose import choose
from tests.review.conftest import TOOLS_PATH, make_repo, review

BUGGY = {"calc.py": "import os\n\n\ndef area(w, h):\n    return w * hieght\n"}


@pytest.fixture
def hidden_ruff(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The review's environment (HOME and PATH) and the folder the sandbox will not show."""
    real = shutil.which("ruff", path=TOOLS_PATH)
    if real is None:
        pytest.skip("ruff is not installed")
    if choose("auto").name != "bwrap":
        pytest.skip("needs the bwrap sandbox")
    home = tmp_path / "home"
    private = home / "private-tools"
    private.mkdir(parents=True)
    shutil.copy2(real, private / "ruff")
    wrapper = home / "bin" / "ruff"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {private}/ruff "$@"\n')
    wrapper.chmod(0o755)
    return {"HOME": str(home), "PATH": f"{wrapper.parent}:/usr/bin:/bin"}, private


def test_an_analyzer_that_cannot_start_makes_the_review_incomplete(
    tmp_path, xdg, hidden_ruff
) -> None:
    env, private = hidden_ruff
    repo = make_repo(tmp_path / "repo", BUGGY)
    text = review(cwd=repo, env=env)
    assert text.returncode == 1, text.stdout + text.stderr
    assert f"INCOMPLETE: ruff failed (exit 127): {private}/ruff could not run in the sandbox: " \
           f"it needs {private} (" in text.stdout  # fmt: skip
    assert "INCOMPLETE: 1 analyzer(s) gave no result" in text.stdout.splitlines()[-1]
    doc = json.loads(review("--format", "json", cwd=repo, env=env).stdout)
    assert doc["findings"] == [] and doc["incomplete"][0].startswith("ruff failed")
    sarif = json.loads(review("--format", "sarif", cwd=repo, env=env).stdout)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    notification = invocation["toolExecutionNotifications"][0]
    assert notification["descriptor"]["id"] == "ruff" and notification["level"] == "error"


def test_the_same_tool_on_the_host_gives_a_complete_review(tmp_path, xdg, hidden_ruff) -> None:
    env, _ = hidden_ruff
    repo = make_repo(tmp_path / "repo", BUGGY)
    done = review("--sandbox", "none", "--format", "json", cwd=repo, env=env)
    doc = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert doc["incomplete"] == [] and len(doc["findings"]) == 2
    sarif = json.loads(review("--sandbox", "none", "--format", "sarif", cwd=repo, env=env).stdout)
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is True
