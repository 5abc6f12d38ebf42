"""The end-of-session line: requests, bytes, destination, redactions by kind, refusals."""

from pathlib import Path

import pytest

from glasscoder.guard.audit import AuditError, AuditLog
from glasscoder.guard.audit_report import (
    IN_PROCESS,
    AuditSummary,
    destination,
    summarize,
    summary_line,
)
from glasscoder.guard.egress import EgressRefused, make_http_client
from tests.fakes.openai_server import FakeOpenAIServer

URL = "http://127.0.0.1:8000/v1/chat/completions"


@pytest.fixture
def log(xdg: Path, tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


def exchange(log: AuditLog, sent: int, received: int, **request: object) -> None:
    """A request and its response, recorded as the egress path records them."""
    seq = log.append("request", {"method": "POST", "url": URL, "bytes": sent, **request})["seq"]
    log.append("response", {"request_seq": seq, "status": 200, "bytes": received})


def test_counts_requests_bytes_and_redactions_by_kind(log: AuditLog) -> None:
    log.append("notice", {"message": "commands run without a sandbox (--sandbox none)"})
    exchange(log, 1000, 200, redactions={"api_key": 1, "email": 2})
    exchange(log, 1500, 300, redactions={})
    exchange(log, 2000, 400, redactions={"email": 1, "private_key": 1})
    s = summarize(log.path)
    assert s == AuditSummary(
        requests=3,
        bytes_sent=4500,
        bytes_received=900,
        destinations=["127.0.0.1:8000"],
        refused=[],
        redactions={"api_key": 1, "email": 3, "private_key": 1},
    )
    line = summary_line(s)
    assert line == (
        "audit: 3 requests, 4,500 bytes sent to 127.0.0.1:8000 (900 received); "
        "redacted: api_key 1, email 3, private_key 1; no other destination."
    )
    assert "\n" not in line


def test_refused_requests_say_how_many_and_where(log: AuditLog) -> None:
    exchange(log, 10, 20)
    for url in ("https://evil.example/x", "https://evil.example/y", "http://[::1]:9/v1"):
        log.append("refused", {"method": "POST", "url": url})
    s = summarize(log.path)
    assert s.refused == ["evil.example:443", "evil.example:443", "[::1]:9"]
    line = summary_line(s)
    assert "3 requests refused, to evil.example:443 (2), [::1]:9." in line
    assert "no other destination" not in line and "nothing redacted" in line


def test_a_resumed_run_counts_from_where_it_began(log: AuditLog) -> None:
    exchange(log, 100, 10)
    start = log.next_seq
    exchange(log, 7, 3, redactions={"token": 1})
    assert summarize(log.path, start=start).bytes_sent == 7
    assert summarize(log.path).bytes_sent == 107


def test_no_log_means_nothing_sent(tmp_path: Path) -> None:
    s = summarize(tmp_path / "never-written.jsonl")
    assert s.requests == 0 and s.destinations == []
    assert summary_line(s) == (
        "audit: no requests, nothing sent; nothing redacted; no other destination."
    )


def test_embedded_model_is_in_process(log: AuditLog) -> None:
    # The fields models/llamacpp.py writes.
    seq = log.append("request", {"method": "EMBEDDED", "url": "/models/tiny.gguf", "bytes": 640,
                                 "prompt_tokens": 160, "body": {}})["seq"]  # fmt: skip
    log.append("response", {"request_seq": seq, "status": "stop", "bytes": 12, "text": "hello"})
    s = summarize(log.path)
    assert s.destinations == [IN_PROCESS] and (s.bytes_sent, s.bytes_received) == (640, 12)
    assert "1 request, 640 bytes sent to the in-process model (12 received)" in summary_line(s)


def test_odd_fields_are_not_counted(log: AuditLog) -> None:
    exchange(log, 5, 5, redactions={"email": "two", "key": -1, "ok": 1})
    log.append("request", {"url": "http://host:notaport/", "bytes": "many", "redactions": [1]})
    s = summarize(log.path)
    assert s.redactions == {"ok": 1} and s.bytes_sent == 5
    assert s.destinations == ["127.0.0.1:8000", "http://host:notaport/"]


def test_damaged_log_is_an_audit_error(log: AuditLog) -> None:
    exchange(log, 1, 1)
    with log.path.open("ab") as f:
        f.write(b"{torn\n")
    with pytest.raises(AuditError, match="Record 2"):
        summarize(log.path)


@pytest.mark.parametrize(
    ("url", "where"),
    [("http://localhost/v1", "localhost:80"), ("https://API.example.com/v1", "api.example.com:443"),
     ("http://10.0.0.2:8080/v1/chat", "10.0.0.2:8080")],
)  # fmt: skip
def test_destination_is_host_and_port(url: str, where: str) -> None:
    assert destination({"url": url}) == where


def test_summary_of_what_the_egress_path_recorded(log: AuditLog) -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with FakeOpenAIServer(["Hello."]) as srv, FakeOpenAIServer() as other:
        with make_http_client(srv.base_url, log, timeout=10) as client:
            client.post(f"{srv.base_url}/chat/completions", json=chat).read()
            with pytest.raises(EgressRefused):
                client.post(f"{other.base_url}/chat/completions", json=chat)
        sent = len(srv.requests[0].body)
        received = len(srv.requests[0].response_body)
    s = summarize(log.path)
    assert (s.requests, s.bytes_sent, s.bytes_received) == (1, sent, received)
    assert s.destinations == [f"127.0.0.1:{srv.port}"]
    assert s.refused == [f"127.0.0.1:{other.port}"]
    assert f"1 request refused, to 127.0.0.1:{other.port}." in summary_line(s)


def test_commands_network_through_the_allow_list_is_named(log: AuditLog) -> None:
    exchange(log, 10, 20)
    log.append("net", {"event": "start", "allow": ["pypi.org:443"]})
    for event, host in (("allowed", "pypi.org"), ("closed", "pypi.org"), ("refused", "evil.io")):
        log.append("net", {"event": event, "method": "CONNECT", "host": host, "port": 443})
    s = summarize(log.path)
    assert (s.command_net, s.command_net_refused) == (["pypi.org:443"], 1)
    line = summary_line(s)
    assert "commands reached pypi.org:443 through the allow-list (1 refused)" in line
    assert line.endswith("no other destination.")
