"""The embedded model's worker process: ``python -P -m glasscoder.models.worker IN OUT PARENT``.

llama.cpp runs here, not in the session's process, so an illegal instruction, a segmentation
fault or the out-of-memory killer ends this process only; the parent reports it and saves the
session (models/worker_process.py). The model and its KV cache stay loaded across turns.

Requests come on pipe IN, replies go on pipe OUT: one JSON object per length-prefixed frame
(models/frames.py). stdout and stderr are not used, since llama.cpp writes
there. Requests are ``{"op": ...}``: ``info``, ``buffer_types``, ``load``, ``complete``,
``reset``, ``stop``.
Every request but ``stop`` gets one reply, ``{"ok": {...}}`` or ``{"error": text, "kind": usage |
model | internal}``, except ``complete``, which streams ``{"prompt_tokens", "reused_tokens"}``,
then ``{"text": ...}`` (the first token's at once, then what came in each ``TEXT_BATCH_S``), then
``{"done": {"finish", "generated_tokens"}}``. A ``stop`` sent during ``complete`` ends it after
the current token; outside one it is ignored.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import time
from functools import partial
from typing import Any

from glasscoder.errors import UsageError
from glasscoder.models.base import ContextTooLong, ModelError
from glasscoder.models.engine import Engine, LoadRequest, system_info
from glasscoder.models.frames import receive, send, waiting
from glasscoder.models.placement import buffer_types

# Set by tests only: the worker kills itself with this signal on its first generated token
# ("SIGILL"), or when asked to load a model ("SIGILL:load"), as a bad build or the OOM killer
# would.
TEST_SIGNAL_ENV = "GLASSCODER_TEST_WORKER_SIGNAL"
_PR_SET_PDEATHSIG = 1
# Text is sent in batches, the first token's at once: the session's process then wakes up a few
# times a second, not once a token, and takes no CPU from llama.cpp's threads in between.
TEXT_BATCH_S = 0.05


def main(argv: list[str]) -> int:
    fd_in, fd_out, parent = (int(arg) for arg in argv)
    _die_with_parent(parent)
    # Stopping a turn is the parent's decision (it sends stop), also when a Ctrl-C reaches
    # this process, which runs in its own session for that reason.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(fd_in, fd_out)
    return 0


def _die_with_parent(parent: int) -> None:
    """No orphan: the kernel kills this process when the parent goes (Linux). The signal is
    tied to the parent's thread that started us, so the parent starts workers from its main
    thread. Elsewhere, the closed request pipe ends the worker at its next read or token."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(0)


def serve(requests: int, replies: int) -> None:
    """Answer requests from fd ``requests`` on fd ``replies`` until the parent closes."""
    engine: Engine | None = None
    while True:
        try:
            request = receive(requests)
        except EOFError:  # the parent closed the pipe, or died
            break
        op = request.get("op")
        try:
            if op == "stop":
                continue  # the turn it meant had already ended
            if op == "complete":
                _complete(_loaded(engine), request, requests, replies)
                continue
            if op == "load":
                _test_signal("load")
                engine = _load(engine, request)
                reply = {"template": engine.template, "bos": engine.bos, "eos": engine.eos}
            elif op == "count":
                reply = {"tokens": _loaded(engine).count(request["prompt"])}
            elif op == "reset":
                _loaded(engine).reset()
                reply = {}
            elif op == "info":
                reply = system_info()
            elif op == "buffer_types":
                reply = {"names": sorted(buffer_types(_llama_cpp()))}
            else:
                raise ValueError(f"unknown request {op!r}")
            send(replies, {"ok": reply})
        except (UsageError, ModelError) as exc:
            kind = "usage" if isinstance(exc, UsageError) else "model"
            kind = "context" if isinstance(exc, ContextTooLong) else kind
            send(replies, {"error": str(exc), "kind": kind})
        except Exception as exc:  # llama.cpp's own errors: said to the parent, the worker lives
            send(replies, {"error": f"{type(exc).__name__}: {exc}", "kind": "internal"})


def _load(engine: Engine | None, request: dict[str, Any]) -> Engine:
    if engine is not None:
        engine.close()
    fields = request["load"]
    fields["overrides"] = [tuple(pair) for pair in fields["overrides"]]
    return Engine(LoadRequest(**fields))


def _llama_cpp() -> Any:
    import llama_cpp

    return llama_cpp


def _loaded(engine: Engine | None) -> Engine:
    if engine is None:
        raise ValueError("no model loaded")
    return engine


def _complete(engine: Engine, request: dict[str, Any], requests: int, replies: int) -> None:
    tokens, reused, budget = engine.start(request["prompt"], request.get("max_tokens"))
    send(replies, {"prompt_tokens": len(tokens), "reused_tokens": reused})
    pending: list[str] = []
    sent = 0.0

    def emit(piece: str) -> None:
        nonlocal sent
        _test_signal("token")
        pending.append(piece)
        if time.monotonic() - sent >= TEXT_BATCH_S:
            send(replies, {"text": "".join(pending)})
            pending.clear()
            sent = time.monotonic()

    finish, generated = engine.generate(
        tokens[reused:], budget, emit, partial(_stop_requested, requests)
    )
    if pending:
        send(replies, {"text": "".join(pending)})
    send(replies, {"done": {"finish": finish, "generated_tokens": generated}})


def _stop_requested(requests: int) -> bool:
    """Between tokens: has the parent asked to stop (or gone away)? A zero-timeout poll."""
    if not waiting(requests):
        return False
    with contextlib.suppress(EOFError):  # EOF: the parent went away, which is a stop too
        receive(requests)  # during a turn the parent sends nothing but stop
    return True


def _test_signal(moment: str) -> None:
    name, _, when = os.environ.get(TEST_SIGNAL_ENV, "").partition(":")
    if name and (when or "token") == moment:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a test's crash leaves no core file
        os.kill(os.getpid(), signal.Signals[name])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
