"""A real terminal for tests: the program runs in a detached tmux session, keys are typed
with `send-keys` and the screen is read with `capture-pane`."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")


class Terminal:
    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str],
                 width: int = 120, height: int = 40) -> None:  # fmt: skip
        assert TMUX is not None
        self.name = f"gc-{uuid.uuid4().hex[:8]}"
        self.socket = f"gc-test-{os.getpid()}"
        # A shell waits for the program and writes its exit status down (tmux's own record of
        # a dead pane proved unreliable), then the pane stays so its last screen can be read.
        self.status_file = cwd.parent / f".{self.name}.status"
        command = (" ".join(shlex.quote(a) for a in argv)
                   + f"; echo $? > {shlex.quote(str(self.status_file))}; sleep 600")  # fmt: skip
        self._tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                   "-c", str(cwd), *[f"-e{k}={v}" for k, v in env.items()], command)  # fmt: skip

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=20, check=False)  # fmt: skip
        return proc.stdout

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-J", "-S", "-2000", "-t", self.name)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            if self.exited() is not None and text not in self.screen():
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; the screen:\n{self.screen()}")

    def wait_until(self, check: Callable[[str], bool], timeout: float = 60) -> str:
        """The screen once `check` holds for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"the screen never became what was waited for:\n{self.screen()}")

    def exited(self) -> int | None:
        try:
            return int(self.status_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def wait_exit(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.exited()
            if status is not None:
                return status
            time.sleep(0.1)
        raise AssertionError(f"the program did not exit; the screen:\n{self.screen()}")

    def pane_pid(self) -> str:
        """The pane's shell, whose child is the program."""
        return self._tmux("display-message", "-p", "-t", self.name, "#{pane_pid}").strip()

    def close(self) -> None:
        self._tmux("kill-server")
