"""One workspace's index, shared by the first-turn map and the tools, one user at a time.

The first turn builds the index in a background thread so the first request need not wait for
a cold build. find_symbol and repo_map take the same lock, so they wait for that build and use
its result instead of starting a second one. A run that ends first waits for the build at exit,
so the next session finds a warm cache; Ctrl-C skips that wait and keeps the tags parsed so far
(index.py saves them as it goes).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from typing import TypeVar

from glasscoder.repomap.index import RepoIndex
from glasscoder.workspace import Workspace

T = TypeVar("T")


class SharedIndex:
    def __init__(self, workspace: Workspace, opener: Callable[[Workspace], RepoIndex]) -> None:
        self.workspace = workspace
        self._opener = opener
        self._lock = threading.Lock()  # the index and its cache are used by one thread at a time
        self._index: RepoIndex | None = None
        self._thread: threading.Thread | None = None

    def run(self, job: Callable[[RepoIndex], T]) -> T:
        """`job` on the index, in this thread, once any job already running has finished."""
        with self._lock:
            if self._index is None:
                self._index = self._opener(self.workspace)
            return job(self._index)

    def start(self, job: Callable[[RepoIndex], T]) -> Future[T]:
        """`job` run as `run` would, in a background thread; its result or error in the future."""
        future: Future[T] = Future()

        def work() -> None:
            future.set_running_or_notify_cancel()
            try:
                future.set_result(self.run(job))
            except BaseException as e:  # whatever it is, the waiter must hear of it
                future.set_exception(e)

        # A daemon, so that Ctrl-C at exit can cut it short (finish below does the waiting).
        self._thread = threading.Thread(target=work, name="glasscoder-repomap", daemon=True)
        self._thread.start()
        return future

    def finish_at_exit(self, announce: Callable[[], None]) -> None:
        atexit.register(self.finish, announce)

    def finish(self, announce: Callable[[], None]) -> None:
        """Wait for the background build if it is still running, saying so first."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        announce()
        with suppress(KeyboardInterrupt):  # not waiting, then: what was parsed is saved already
            thread.join()
