"""Running one command as a supervised child: output capped head+tail, timeout, tree kill.

Shared by every backend: a backend decides what argv actually starts (the command itself, or
bwrap wrapping it) and what the child does before exec; this module does the rest the same way
for all of them:

* memory stays bounded: only a head and a tail of the output are kept while it streams;
* on timeout the child's whole process group (children, grandchildren) is killed: SIGTERM, a
  short grace period, then SIGKILL;
* nothing the command started in the background outlives it: when the command exits, the rest
  of its process group is killed the same way and the output says so.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from glasscoder import textcut
from glasscoder.sandbox.base import Limits, Result

TERM_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN_AFTER_EXIT = 1.0  # seconds to collect output still in the pipe once the group is gone
_CHUNK = 64 * 1024
_POLL = 0.05  # how often the child's state is checked while output is quiet

LEFTOVERS_KILLED = "[processes the command left running in the background were killed]"


def run_supervised(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    limits: Limits,
    term_grace: float = TERM_GRACE,
    pass_fds: Sequence[int] = (),
    preexec: Callable[[], None] | None = None,
    find_leftovers: bool = True,
    watch: Callable[[], str] | None = None,
) -> Result:
    """Start argv in its own session and supervise it until it ends or the timeout hits.

    ``preexec`` runs in the child between fork and exec (resource limits, cgroup entry): it
    must only make system calls, since other threads' locks may be held in the forked copy.
    ``find_leftovers=False`` skips the scan for processes left in the group after the command
    returns, for a backend whose PID namespace has already killed them. ``watch``, called
    while the command runs, returns a reason to stop it ("" to go on): the command is then
    killed as on a timeout and the reason ends its output.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so the kill reaches grandchildren
            pass_fds=tuple(pass_fds),
            preexec_fn=preexec,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Result(exit_code=127, output=f"cannot start {argv[0] if argv else ''}: {exc}\n")
    with proc:
        try:
            return _supervise(proc, limits, term_grace, find_leftovers, watch)
        except BaseException:
            # Ctrl-C (or a bug) must not leave the command running unsupervised.
            _signal_group(proc.pid, signal.SIGKILL)
            raise


def _supervise(
    proc: subprocess.Popen[bytes],
    limits: Limits,
    term_grace: float,
    find_leftovers: bool,
    watch: Callable[[], str] | None = None,
) -> Result:
    assert proc.stdout is not None
    sink = HeadTail(limits.output_chars)
    reader = _PipeReader(proc.stdout.fileno(), sink)
    deadline = time.monotonic() + max(limits.timeout, 0.0)
    stopped: list[str] = []

    def stop() -> bool:
        if proc.poll() is not None:
            return True
        reason = watch() if watch is not None else ""
        if reason:
            stopped.append(reason)
        return bool(reason)

    reader.pump(deadline, stop=stop)
    if reader.eof and not stopped:  # output closed; the command may still be running
        _wait(proc, deadline, stop if watch is not None else None)
    timed_out = proc.poll() is None and not stopped
    leftovers = not timed_out and find_leftovers and _group_alive(proc.pid)
    if timed_out or leftovers or stopped:
        _kill_group(proc, term_grace)
    reader.pump(time.monotonic() + DRAIN_AFTER_EXIT)
    reader.finish()
    proc.wait()

    output = sink.text()
    for note in ([LEFTOVERS_KILLED] if leftovers else []) + stopped[:1]:
        output += ("" if output.endswith("\n") or not output else "\n") + note
    return Result(
        exit_code=None if timed_out else _exit_code(proc.returncode),
        output=output,
        timed_out=timed_out,
        truncated=sink.truncated,
    )


class HeadTail:
    """Keeps the first and last characters of a stream, at most ``limit`` in all."""

    def __init__(self, limit: int) -> None:
        limit = max(limit, 0)
        self._head_cap = limit // 2
        self._tail_cap = limit - self._head_cap
        self.head = ""
        self.tail = ""
        self.total = 0
        self._after_head = ""  # characters on either side of the cut: is a token split?
        self._before_tail = ""

    def add(self, text: str) -> None:
        self.total += len(text)
        room = self._head_cap - len(self.head)
        if room > 0:
            self.head += text[:room]
            text = text[room:]
        if text and not self._after_head:
            self._after_head = text[0]  # the first character the head could not keep
        if text and self._tail_cap:
            joined = self.tail + text
            if len(joined) > self._tail_cap:
                self._before_tail = joined[-self._tail_cap - 1]  # the last one dropped
            self.tail = joined[-self._tail_cap :]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        if not self.truncated:
            return self.head + self.tail
        head, tail = textcut.trim_cut_edges(
            self.head, self.tail, self._after_head, self._before_tail
        )
        cut = self.total - len(head) - len(tail)
        gap = "" if not head or head.endswith("\n") else "\n"
        return f"{head}{gap}[... {cut} characters cut ...]\n{tail}"


class _PipeReader:
    """Non-blocking reads from the child's output pipe, decoded as UTF-8 as they arrive."""

    def __init__(self, fd: int, sink: HeadTail) -> None:
        self._fd = fd
        self._sink = sink
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._poller = select.poll()  # unlike select(), works for fd numbers above 1023
        self._poller.register(fd, select.POLLIN)
        self.eof = False

    def pump(self, deadline: float, stop: Callable[[], bool] | None = None) -> None:
        """Read until EOF, the deadline, or stop() becomes true."""
        while not self.eof:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (stop is not None and stop()):
                return
            # POLLHUP without POLLIN at EOF is reported too; the read then returns b"".
            if self._poller.poll(min(remaining, _POLL) * 1000):
                self._read_chunk()

    def _read_chunk(self) -> None:
        data = os.read(self._fd, _CHUNK)
        if data:
            self._sink.add(self._decoder.decode(data))
        else:
            self.eof = True

    def finish(self) -> None:
        self._sink.add(self._decoder.decode(b"", final=True))


def _wait(
    proc: subprocess.Popen[bytes], deadline: float, stop: Callable[[], bool] | None = None
) -> None:
    """Until the command ends or the deadline; with ``stop``, also until stop() is true."""
    if stop is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(deadline - time.monotonic(), 0.0))
        return
    while time.monotonic() < deadline and not stop():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=min(max(deadline - time.monotonic(), 0.0), _POLL))


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    # With start_new_session the child leads its own group, so its pid is the group id.
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        proc.poll()  # reap the leader: an unreaped zombie would keep the group "alive"
        if not _group_alive(pgid):
            return
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    # ProcessLookupError: the group is already gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process is in the group.

    Zombies are already dead; counting them would make every kill wait out the grace period
    when init is slow to reap orphans (common in containers).
    """
    try:
        pids = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return _group_signalable(pgid)  # no /proc: fall back to the signal probe
    return any(_group_and_state(pid) == (pgid, True) for pid in pids)


def _group_and_state(pid: str) -> tuple[int, bool] | None:
    """(process group, is alive) of a pid from /proc, None if it vanished meanwhile."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses; the fields after its last ")" do not.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[2]), fields[0] not in (b"Z", b"X")


def _group_signalable(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exit_code(returncode: int) -> int:
    # Report death by signal N the way shells do (128 + N) rather than Popen's -N.
    return 128 - returncode if returncode < 0 else returncode
