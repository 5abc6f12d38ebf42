"""The `none` sandbox with real subprocesses, and the minimal child environment."""

import shutil
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.env import minimal_env
from glasscoder.sandbox.none import LEFTOVERS_KILLED, HeadTail, NoSandbox

ENV = minimal_env()


def sh(command: str, cwd: Path, timeout: float = 10, chars: int = 16_000, grace: float = 2.0):
    return NoSandbox(term_grace=grace).run(
        ["bash", "-c", command], cwd, ENV, Limits(timeout=timeout, output_chars=chars)
    )


def alive(pid: int) -> bool:
    """True while pid runs; zombies count as gone (they are dead, merely not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def gone_soon(pid: int, within: float = 3.0) -> bool:
    end = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.parametrize(("command", "code"), [("true", 0), ("exit 3", 3), ("kill -9 $$", 137)])
def test_exit_codes(tmp_path, command, code):
    result = sh(command, tmp_path)
    assert (result.exit_code, result.timed_out, result.truncated) == (code, False, False)


def test_stdout_and_stderr_are_interleaved_in_order(tmp_path):
    result = sh("echo out1; echo err1 >&2; echo out2; echo err2 >&2", tmp_path)
    assert result.output == "out1\nerr1\nout2\nerr2\n"


def test_runs_in_the_given_directory(tmp_path):
    assert sh("pwd", tmp_path).output == f"{tmp_path}\n"


def test_env_is_exactly_what_was_given(tmp_path):
    env = {"ONLY_THIS": "1", "PATH": ENV["PATH"]}
    result = NoSandbox().run([shutil.which("env")], tmp_path, env, Limits())
    assert sorted(result.output.splitlines()) == ["ONLY_THIS=1", f"PATH={ENV['PATH']}"]


def test_huge_output_keeps_head_and_tail_with_bounded_memory(tmp_path):
    size = 20_000_000
    lines = f"('x' * 99 + '\\n') * {size // 100}"
    script = f"import sys; sys.stdout.write('HEAD\\n' + {lines} + 'TAIL')"
    tracemalloc.start()
    try:
        result = NoSandbox().run(
            [sys.executable, "-c", script], tmp_path, ENV, Limits(output_chars=1000)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0 and result.truncated
    # Whole lines of x are kept on each side: the cut never leaves part of a token.
    head, cut, tail = result.output.partition(" characters cut ...]\n")
    assert head.startswith("HEAD\n" + "x" * 99 + "\n") and cut
    assert tail.endswith("x" * 99 + "\nTAIL") and tail.lstrip("\n").startswith("x" * 99 + "\n")
    assert all(len(line) in (0, 99) or line.startswith(("HEAD", "TAIL", "[..."))
               for line in result.output.splitlines())  # fmt: skip
    assert len(result.output) < 1100
    assert peak < 2_000_000  # the 20 MB never sat in memory at once


def test_timeout_kills_children_and_grandchildren(tmp_path):
    command = (
        "sleep 60 & echo $! > child.pid; "
        "bash -c 'sleep 60 & echo $! > grandchild.pid; wait' & "
        "echo started; wait"
    )
    start = time.monotonic()
    result = sh(command, tmp_path, timeout=1)
    elapsed = time.monotonic() - start
    assert (result.timed_out, result.exit_code) == (True, None)
    assert result.output == "started\n"
    assert elapsed < 4  # sleep obeys SIGTERM, so the grace period is not used up
    for name in ("child.pid", "grandchild.pid"):
        assert gone_soon(int((tmp_path / name).read_text()))


def test_sigterm_ignored_gets_sigkill_after_grace(tmp_path):
    start = time.monotonic()
    result = sh("trap '' TERM; echo $$ > leader.pid; sleep 60", tmp_path, timeout=0.5, grace=0.3)
    assert result.timed_out
    assert time.monotonic() - start < 3
    assert gone_soon(int((tmp_path / "leader.pid").read_text()))


def test_background_processes_do_not_outlive_the_command(tmp_path):
    start = time.monotonic()
    result = sh("sleep 60 > /dev/null & echo $! > bg.pid; echo done", tmp_path)
    assert time.monotonic() - start < 3
    assert result.exit_code == 0 and not result.timed_out
    assert result.output == f"done\n{LEFTOVERS_KILLED}"
    assert gone_soon(int((tmp_path / "bg.pid").read_text()))


def test_background_holding_the_pipe_does_not_hang(tmp_path):
    start = time.monotonic()
    result = sh("sleep 60 & echo done", tmp_path, timeout=30)
    assert time.monotonic() - start < 3
    assert result.output.startswith("done\n") and not result.timed_out


def test_interrupt_kills_the_command(tmp_path, monkeypatch):
    def interrupt(self, text):
        raise KeyboardInterrupt

    monkeypatch.setattr(HeadTail, "add", interrupt)  # as if Ctrl-C arrived mid-read
    with pytest.raises(KeyboardInterrupt):
        sh("sleep 60 & echo $! > bg.pid; echo started; wait", tmp_path)
    assert gone_soon(int((tmp_path / "bg.pid").read_text()))


def test_output_is_utf8_with_replacement_even_when_split_across_reads(tmp_path):
    script = (
        "import sys, time; out = sys.stdout.buffer; "
        "out.write(b'caf\\xc3'); out.flush(); time.sleep(0.2); "
        "out.write(b'\\xa9 \\xff\\n'); out.flush()"
    )
    result = NoSandbox().run([sys.executable, "-c", script], tmp_path, ENV, Limits())
    assert result.output == "café \ufffd\n"


def test_missing_program_reports_exit_127(tmp_path):
    result = NoSandbox().run(["no-such-program-xyz"], tmp_path, ENV, Limits())
    assert result.exit_code == 127
    assert "no-such-program-xyz" in result.output


def test_head_tail_keeps_everything_under_the_limit():
    sink = HeadTail(10)
    for part in ("abc", "defg", "hij"):
        sink.add(part)
    assert (sink.text(), sink.truncated) == ("abcdefghij", False)


def test_head_tail_cuts_the_middle():
    sink = HeadTail(6)
    sink.add("abc\n")
    sink.add("0123456789")
    sink.add("\nxyz")
    assert sink.truncated
    assert sink.text() == "abc\n[... 12 characters cut ...]\nxyz"
    split = HeadTail(6)
    split.add("ab")
    split.add("c0123456789xyz")  # one token, cut on both sides: no part of it is kept
    assert split.text() == "[... 16 characters cut ...]\n"


def test_minimal_env_passes_only_allowed_variables():
    parent = {
        "PATH": "/bin",
        "HOME": "/home/u",
        "LC_ALL": "C.UTF-8",
        "OPENAI_API_KEY": "sk-secret",
        "PYTHONPATH": "/somewhere",
        "CARGO_HOME": "/c",
        "MY_FLAG": "1",
    }
    assert minimal_env(parent=parent) == {"PATH": "/bin", "HOME": "/home/u", "LC_ALL": "C.UTF-8"}
    extra = minimal_env(["MY_FLAG", "CARGO_*"], parent=parent)
    assert extra["MY_FLAG"] == "1" and extra["CARGO_HOME"] == "/c"
    assert "OPENAI_API_KEY" not in extra and "PYTHONPATH" not in extra


def test_minimal_env_reads_os_environ_and_defaults_path(monkeypatch):
    monkeypatch.setenv("GLASSCODER_TEST_SECRET", "x")
    monkeypatch.setenv("TZ", "UTC")
    env = minimal_env()
    assert env["TZ"] == "UTC" and "GLASSCODER_TEST_SECRET" not in env
    assert minimal_env(parent={})["PATH"]
