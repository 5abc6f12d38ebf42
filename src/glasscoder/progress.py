"""A progress display on stderr for work that takes a while, shown only to a person.

``with progress("mapping files", total=n) as advance: ... advance()`` draws a bar on stderr
(total 0: not known yet, until ``advance(0, total=n)``; None: a spinner and the time only),
and only when stderr is a terminal: piped output, JSON and SARIF on stdout, and test captures
get nothing. It appears after ``DELAY`` seconds (at once for a delay of 0), so a quick command
never flickers, and it is erased when the work ends.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

DELAY = 1.0  # seconds of work before anything is drawn

Advance = Callable[..., None]  # advance(steps=1, total=None): steps done, or the total learnt


@contextmanager
def progress(label: str, total: int | None = None, delay: float = DELAY) -> Iterator[Advance]:
    if not sys.stderr.isatty():
        yield _nothing
        return
    display = _Display(label, total)
    timer = threading.Timer(delay, display.start)
    timer.daemon = True
    if delay > 0:
        timer.start()
    else:
        display.start()
    try:
        yield display.advance
    finally:
        timer.cancel()
        display.stop()


def _nothing(steps: int = 1, total: int | None = None) -> None:
    pass


class _Display:
    """A rich Progress started late (from a timer thread), stopped once."""

    def __init__(self, label: str, total: int | None) -> None:
        from rich import progress as rp
        from rich.console import Console

        columns: list[Any] = [rp.SpinnerColumn(), rp.TextColumn("{task.description}")]
        if total is not None:
            columns += [rp.BarColumn(), rp.MofNCompleteColumn()]
        columns.append(rp.TimeElapsedColumn())
        # stdout is left alone: it may carry the command's own output while this runs.
        self._bar = rp.Progress(*columns, console=Console(stderr=True), transient=True,
                                redirect_stdout=False, redirect_stderr=True)  # fmt: skip
        self._task = self._bar.add_task(label, total=total)
        self._lock = threading.Lock()
        self._state = "waiting"  # -> "shown" -> "done", or "waiting" -> "done"

    def start(self) -> None:
        with self._lock:
            if self._state == "waiting":
                self._bar.start()
                self._state = "shown"

    def advance(self, steps: int = 1, total: int | None = None) -> None:
        if total is not None:
            self._bar.update(self._task, total=total)
        if steps:
            self._bar.advance(self._task, steps)

    def stop(self) -> None:
        with self._lock:
            if self._state == "shown":
                self._bar.stop()
            self._state = "done"
