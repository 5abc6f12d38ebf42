"""How runs end, through the real `glasscoder` command: SIGTERM saves the session as Ctrl-C
does, `--resume` refuses an edited transcript, and the egress line counts only bytes that left.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, FakeToolCall, unused_port
from tests.test_cli_e2e import glasscoder


def _sessions(xdg: Path) -> Path:
    return xdg / "data" / "glasscoder" / "sessions"


def _json_run(srv: FakeOpenAIServer, repo: Path, *args: str) -> subprocess.CompletedProcess:
    return glasscoder(*args, "--endpoint", srv.base_url, "--cwd", str(repo), "--sandbox", "none",
                      "--output-format", "json", cwd=repo)  # fmt: skip


def _wait_for_request(srv: FakeOpenAIServer, count: int) -> None:
    """Until the run has sent its request: the signal must arrive during it."""
    for _ in range(600):
        if len(srv.requests) >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the run never sent its request")


def test_sigterm_saves_the_session_as_interrupted_and_it_resumes(
    buggy_repo: Path, xdg: Path
) -> None:
    replies = [FakeReply(tool_calls=[FakeToolCall("read_file", {"path": "calc.py"})]),
               FakeReply(trickle=0.5)]  # fmt: skip
    with FakeOpenAIServer(replies) as srv:
        run = subprocess.Popen(
            [sys.executable, "-m", "glasscoder", "-p", "Make test_calc pass.", "--endpoint",
             srv.base_url, "--cwd", str(buggy_repo), "--sandbox", "none", "--output-format",
             "json"], cwd=buggy_repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )  # fmt: skip
        _wait_for_request(srv, 2)  # the second request streams without end
        run.send_signal(signal.SIGTERM)
        stdout, stderr = run.communicate(timeout=60)
        assert run.returncode == 1, stderr
        result = json.loads(stdout)
        assert result["status"] == "failed" and result["reason"] == "interrupted"
        assert result["result"] == "Interrupted by SIGTERM."
        meta = json.loads((_sessions(xdg) / result["session_id"] / "meta.json").read_text())
        assert (meta["status"], meta["reason"]) == ("failed", "interrupted")
        srv.add("Done after SIGTERM.")
        resumed = _json_run(srv, buggy_repo, "--resume", result["session_id"])
    assert json.loads(resumed.stdout)["result"] == "Done after SIGTERM.", resumed.stderr
    roles = [m["role"] for m in srv.requests[-1].json["messages"]]
    assert roles[-2:] == ["assistant", "tool"]  # the read_file turn was kept


@pytest.mark.parametrize("damage", ["byte", "line", "tail"])
def test_resume_refuses_an_edited_transcript(buggy_repo: Path, xdg: Path, damage: str) -> None:
    replies = [FakeReply(tool_calls=[FakeToolCall("read_file", {"path": "calc.py"})]), "Read."]
    with FakeOpenAIServer(replies) as srv:
        first = json.loads(_json_run(srv, buggy_repo, "-p", "Read calc.py.").stdout)
        transcript = _sessions(xdg) / first["session_id"] / "transcript.jsonl"
        lines = transcript.read_bytes().splitlines(keepends=True)
        if damage == "byte":  # the tool result now says something else
            lines[3] = lines[3].replace(b"a - b", b"a + b")
        elif damage == "line":
            del lines[2]
        else:
            del lines[-1]
        transcript.write_bytes(b"".join(lines))
        srv.add("must not be asked")
        proc = _json_run(srv, buggy_repo, "--resume", first["session_id"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    named = {"byte": "line 4 of its transcript", "line": "line 3 of its transcript",
             "tail": "ends at line 4 but held 5 lines"}[damage]  # fmt: skip
    assert named in proc.stderr and "without --resume" in proc.stderr
    assert len(srv.requests) == 2  # nothing was replayed to the model


def test_a_refused_connection_counts_no_bytes_sent(buggy_repo: Path, xdg: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    proc = glasscoder("-p", "x", "--endpoint", url, "--output-format", "json", cwd=buggy_repo)
    assert proc.returncode == 3
    egress = json.loads(proc.stdout)["egress"]
    assert egress["bytes_sent"] == 0 and egress["requests"] == 0 and egress["unsent"] >= 1
    assert "audit: no requests, nothing sent (" in proc.stderr
    assert "the connection failed" in proc.stderr


def test_a_second_ctrl_c_while_start_up_ends_prints_no_traceback(
    buggy_repo: Path, xdg: Path, tmp_path: Path
) -> None:
    """The sandbox probe (a thread the exit waits for) is held by a bwrap that sleeps."""
    bin_dir, started = tmp_path / "bin", tmp_path / "probe-started"
    bin_dir.mkdir()
    (bin_dir / "bwrap").write_text(f"#!/bin/sh\ntouch '{started}'\nexec sleep 30\n")
    (bin_dir / "bwrap").chmod(0o755)
    run = subprocess.Popen(
        [sys.executable, "-m", "glasscoder", "-p", "x", "--endpoint", "http://127.0.0.1:9/v1",
         "--cwd", str(buggy_repo)], cwd=buggy_repo, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )  # fmt: skip
    try:
        for _ in range(1200):
            if started.exists():
                break
            time.sleep(0.05)
        run.send_signal(signal.SIGINT)  # start-up is waiting for the probe
        assert run.stderr is not None
        said = ""
        while "aborted" not in said and "interrupted" not in said:
            said += run.stderr.readline() or "(end)"
            assert not said.endswith("(end)"), said
        run.send_signal(signal.SIGINT)  # again, while the exit waits for the probe's thread
        said += run.communicate(timeout=60)[1]
    finally:
        run.kill()
    assert "Traceback" not in said and "Exception ignored" not in said, said


def test_resuming_after_a_crash_mid_audit_record_says_how_to_go_on(
    buggy_repo: Path, xdg: Path
) -> None:
    with FakeOpenAIServer(["Hi."]) as srv:
        first = json.loads(_json_run(srv, buggy_repo, "-p", "Say hi.").stdout)
        log = _sessions(xdg) / first["session_id"] / "audit.jsonl"
        with log.open("ab") as f:
            f.write(b'{"seq": 3, "ts": "2026-')  # the power went while this record was written
        srv.add("must not be asked")
        proc = _json_run(srv, buggy_repo, "--resume", first["session_id"])
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "ends with a damaged record" in proc.stderr
    assert "start a new session (run glasscoder without --resume)" in proc.stderr
    assert len(srv.requests) == 1
