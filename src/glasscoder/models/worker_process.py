"""The session's handle on the embedded model's worker process (models/worker.py).

A thread reads the worker's replies into a queue, so a Ctrl-C in the session's main thread
never lands in the middle of a frame: the pipe stays in step, and the turn can be stopped and
the worker kept. A worker that dies is reported by signal, with the fix, as a ModelError: the
agent loop then ends the run with status ``error`` and the session stays resumable.
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from glasscoder.errors import UsageError
from glasscoder.models import frames
from glasscoder.models.base import ContextTooLong, ModelError

PORTABLE_FIX = (
    "install the portable llama.cpp build: in a glasscoder checkout run "
    "`sh scripts/llama-wheel.sh .venv/bin/python`, then `.venv/bin/pip install "
    "--force-reinstall --no-deps` the wheel it prints (see that script); elsewhere "
    '`CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" pip install --force-reinstall '
    "--no-cache-dir --no-deps llama-cpp-python==0.3.36`; then check with `glasscoder doctor`"
)
_CAUSES: dict[signal.Signals | str, str] = {
    signal.SIGILL: (
        "this llama.cpp build uses CPU instructions this machine does not run (built for "
        "another CPU, or AVX-512 or AMX that a virtual machine reports but does not enable); "
        f"{PORTABLE_FIX}"
    ),
    signal.SIGKILL: (
        "something killed it, most likely the kernel for lack of memory: lower context_size or "
        "use a smaller model (`glasscoder models list` shows the RAM each needs)"
    ),
    "oom": (
        "the kernel's out-of-memory killer ended it: lower context_size or use a smaller model "
        "(`glasscoder models list` shows the RAM each needs)"
    ),
    signal.SIGSEGV: (
        "llama.cpp crashed: please report it with the model file's name and the output of "
        "`glasscoder doctor`"
    ),
    signal.SIGBUS: (
        "the mapped model file could not be read (changed, cut short, or a failing disk): "
        "check it with `glasscoder models verify PATH`"
    ),
    signal.SIGABRT: (
        "llama.cpp stopped on a failed internal check: please report it with the model file's "
        "name and the output of `glasscoder doctor`"
    ),
}
_FINAL = {"ok", "error", "done"}  # the keys of a request's last message
_STOP_GRACE_S = 2.0  # a stop during a long prompt evaluation is not seen: kill after this
_live: set[WorkerProcess] = set()


class WorkerDied(ModelError):
    """The worker process ended: killed by a signal or exited."""


class Overdue(Exception):
    """A turn's deadline passed before its end; the turn is still running."""


class WorkerProcess:
    """One worker process: ``call`` for a request and its reply, ``stream`` for a turn. Start
    it from a thread that lives as long as it (the main thread): Linux's parent-death signal
    follows the thread that started the child."""

    def __init__(self) -> None:
        self._oom_kills = oom_kills()
        # llama.cpp's own output, for reports; closed in close()
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        parent_in, child_out = os.pipe()
        child_in, parent_out = os.pipe()
        try:
            self._proc = subprocess.Popen(
                # -P: the current folder (an untrusted repository) is not put on sys.path.
                [sys.executable, "-P", "-m", "glasscoder.models.worker",
                 str(child_in), str(child_out), str(os.getpid())],
                pass_fds=(child_in, child_out), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=self._log, cwd="/",
                # Its own session: the terminal's signals (Ctrl-C, Ctrl-\, a hang-up) reach
                # only this process, which decides what the worker does.
                start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(child_in)
            os.close(child_out)
        self._request_fd = parent_out
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._awaiting = False  # a request was sent whose last message has not been read
        threading.Thread(target=self._read, args=(parent_in,), daemon=True,
                         name="llama-worker-reader").start()  # fmt: skip
        _live.add(self)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request; its ``ok`` payload, or the error it raised here."""
        self._send({"op": op, **fields})
        reply = self._next()
        if "error" in reply:
            raise _error(reply)
        result: dict[str, Any] = reply["ok"]
        return result

    def stream(
        self, prompt: str, max_tokens: int | None, deadline: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """A turn's messages: prompt counts, then ``text`` pieces, then ``done``. Past
        ``deadline`` (time.monotonic) it raises Overdue; ``interrupt`` then ends the turn."""
        self._send({"op": "complete", "prompt": prompt, "max_tokens": max_tokens})
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                message = self._next(timeout=left)
            except queue.Empty:
                raise Overdue from None
            if "error" in message:
                raise _error(message)
            yield message
            if "done" in message:
                return

    def interrupt(self) -> bool:
        """After a Ctrl-C (or any exception mid-request): end the request in progress now.
        True when the worker did and is ready for the next one; False when it is gone or did
        not answer within a short grace (it does not look while evaluating a prompt): the
        caller then closes it."""
        if not self._awaiting:
            return self._proc.poll() is None
        try:
            self._send({"op": "stop"}, reply=False)
            deadline = time.monotonic() + _STOP_GRACE_S
            while self._awaiting:
                self._next(timeout=max(0.0, deadline - time.monotonic()))
            return True
        except (queue.Empty, WorkerDied, KeyboardInterrupt):  # a second Ctrl-C: no more waiting
            return False

    def close(self, grace: float = 2.0) -> None:
        """End the worker: its request pipe closes (it exits at its next read or token), and
        after ``grace`` seconds it is killed."""
        _live.discard(self)
        if self._request_fd >= 0:
            os.close(self._request_fd)
            self._request_fd = -1
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()

    def _send(self, message: dict[str, Any], reply: bool = True) -> None:
        self._awaiting = self._awaiting or reply
        try:
            with _signals_held():  # a frame cut by Ctrl-C would leave the pipe out of step
                frames.send(self._request_fd, message)
        except OSError:  # a broken pipe: the worker is gone
            raise WorkerDied(self._death()) from None

    def _next(self, timeout: float | None = None) -> dict[str, Any]:
        message = self._replies.get(timeout=timeout)
        if message is None:
            self._replies.put(None)  # every later read sees the death too
            raise WorkerDied(self._death())
        if _FINAL.intersection(message):
            self._awaiting = False
        return message

    def _read(self, replies: int) -> None:
        """The reader thread: every frame into the queue; None once the pipe closes."""
        try:
            while True:
                self._replies.put(frames.receive(replies))
        except (EOFError, OSError, ValueError):
            self._replies.put(None)
        finally:
            os.close(replies)

    def _death(self) -> str:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # its pipe closed but it lives on: end it
            self._proc.kill()
            code = self._proc.wait()
        _live.discard(self)
        now = oom_kills()
        oom = None if now is None or self._oom_kills is None else now > self._oom_kills
        return death_message(code, self._log_tail(), oom)

    def _log_tail(self) -> str:
        try:
            self._log.seek(0, os.SEEK_END)
            self._log.seek(max(0, self._log.tell() - 2000))
            lines = self._log.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return lines[-1].strip()[:300] if lines else ""


def death_message(returncode: int, log_tail: str = "", oom: bool | None = None) -> str:
    """One paragraph: which signal (or exit code) ended the worker, and the fix. ``oom``: the
    kernel counted an out-of-memory kill meanwhile (None: unknown)."""
    said = f" (llama.cpp's last words: {log_tail})" if log_tail else ""
    if returncode >= 0:
        return f"The embedded model's worker process exited with code {returncode}{said}."
    sig = signal.Signals(-returncode)
    name = f"{sig.name} ({signal.strsignal(sig) or 'signal'})"
    key: signal.Signals | str = "oom" if sig == signal.SIGKILL and oom else sig
    cause = _CAUSES.get(key, "please report it with the output of `glasscoder doctor`")
    if sig != signal.SIGABRT:
        said = ""  # after a fault the log holds nothing the reader can act on
    return f"The embedded model's worker process died of {name}{said}: {cause}."


def oom_kills() -> int | None:
    """The kernel's count of out-of-memory kills (Linux, /proc/vmstat), or None."""
    try:
        with open("/proc/vmstat") as vmstat:
            for line in vmstat:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _error(reply: dict[str, Any]) -> Exception:
    if reply.get("kind") == "usage":
        return UsageError(reply["error"])
    if reply.get("kind") == "model":
        return ModelError(reply["error"])
    if reply.get("kind") == "context":
        return ContextTooLong(reply["error"])
    return ModelError(f"The embedded model failed: {reply['error']}")


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the block runs, then act on them (main thread only)."""
    held: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    # Python runs signal handlers in the main thread only; None: a handler set outside Python.
    if None in previous.values() or threading.current_thread() is not threading.main_thread():
        yield
        return
    for signum in previous:
        signal.signal(signum, lambda got, _frame: held.append(got))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in held:
            if callable(handler := previous[signum]):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)  # its default action, now the frame is whole


@atexit.register
def _close_all() -> None:
    """A worker outlives no session, whatever path the process takes to its end."""
    for worker in list(_live):
        worker.close()
