"""A server that trickles cannot hold a run: every request is bounded as a whole.

The real `glasscoder` command against a real server on 127.0.0.1 that streams forever: SSE
keep-alive comments and no token, or one token a second. Before requests had deadlines, each
of these runs went on until killed from outside (here: the subprocess timeout).
"""

import json
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAIServer, FakeReply
from tests.test_cli_e2e import glasscoder


def _configure(xdg: Path, settings: str) -> None:
    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"stream = true\nmap_tokens = 0\n{settings}\n")


def _run(srv: FakeOpenAIServer, repo: Path, *args: str) -> dict:
    proc = glasscoder(*args, "--endpoint", srv.base_url, "--cwd", str(repo), "--sandbox", "none",
                      "--output-format", "json", cwd=repo)  # fmt: skip
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def _meta(xdg: Path, session_id: str) -> dict:
    path = xdg / "data" / "glasscoder" / "sessions" / session_id / "meta.json"
    return json.loads(path.read_text())


def _resumes(srv: FakeOpenAIServer, repo: Path, xdg: Path, session_id: str) -> None:
    srv.add("Finished after the resume.")
    result = _run(srv, repo, "--resume", session_id)
    assert result["status"] == "done", result
    assert result["result"] == "Finished after the resume."
    assert _meta(xdg, session_id)["status"] == "done"


def test_keepalive_comments_without_a_token_end_at_the_first_token_deadline(
    buggy_repo: Path, xdg: Path
) -> None:
    _configure(xdg, "request_timeout = 30\nfirst_token_timeout = 1")
    with FakeOpenAIServer([FakeReply(keepalive=0.5)]) as srv:
        result = _run(srv, buggy_repo, "-p", "Make test_calc pass.")
        assert result["status"] == "error" and result["reason"] == "model_error"
        assert "sent no token within 1 s (first_token_timeout)" in result["error"]
        assert b": ping" in srv.requests[0].response_body  # the server did keep it alive
        assert _meta(xdg, result["session_id"])["status"] == "error"
        _resumes(srv, buggy_repo, xdg, result["session_id"])


def test_a_token_every_half_second_forever_ends_at_the_request_deadline(
    buggy_repo: Path, xdg: Path
) -> None:
    _configure(xdg, "request_timeout = 2")
    with FakeOpenAIServer([FakeReply(trickle=0.5)]) as srv:
        result = _run(srv, buggy_repo, "-p", "Make test_calc pass.")
        assert result["status"] == "error" and result["reason"] == "model_error"
        assert "did not finish its reply within 2 s (request_timeout)" in result["error"]
        _resumes(srv, buggy_repo, xdg, result["session_id"])


def test_max_time_holds_during_a_request(buggy_repo: Path, xdg: Path) -> None:
    _configure(xdg, "request_timeout = 60\nmax_time = 2")
    with FakeOpenAIServer([FakeReply(trickle=0.5)]) as srv:
        result = _run(srv, buggy_repo, "-p", "Make test_calc pass.")
        assert result["status"] == "failed" and result["reason"] == "max_time", result
        assert "max time reached during a model request" in result["result"]
        assert _meta(xdg, result["session_id"])["reason"] == "max_time"
        _resumes(srv, buggy_repo, xdg, result["session_id"])


def test_a_stream_that_goes_silent_after_its_first_token_names_the_stall(
    buggy_repo: Path, xdg: Path
) -> None:
    _configure(xdg, "request_timeout = 60\nfirst_token_timeout = 2")
    with FakeOpenAIServer([FakeReply("Hello there", stall_after=2)], chunk_size=3) as srv:
        result = _run(srv, buggy_repo, "-p", "Make test_calc pass.")
        assert result["status"] == "error" and result["reason"] == "model_error", result
        assert b"Hel" in srv.requests[0].response_body  # a token came before the silence
        assert "went silent mid-reply" in result["error"], result["error"]
        assert "first_token_timeout" in result["error"]
        _resumes(srv, buggy_repo, xdg, result["session_id"])
