"""The one way out: only the endpoint is reachable; the log holds exactly what crossed the wire."""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from glasscoder.errors import UsageError
from glasscoder.guard.audit import AuditError, AuditLog, body_bytes, iter_records
from glasscoder.guard.egress import EgressRefused, EgressTransport, make_http_client
from tests.fakes.openai_server import FakeOpenAIServer, FakeReply, unused_port

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "héllo"}]}


@pytest.fixture
def srv() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def other() -> Iterator[FakeOpenAIServer]:
    """A second server on another port: nothing may ever reach it."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl")


def records(audit: AuditLog) -> list[dict]:
    return list(iter_records(audit.path))


def test_log_holds_exactly_the_bytes_the_server_received(
    srv: FakeOpenAIServer, audit: AuditLog
) -> None:
    srv.add("Hi there")
    with make_http_client(srv.base_url, audit, timeout=10) as client:
        response = client.post(f"{srv.base_url}/chat/completions", json=CHAT)
    assert response.status_code == 200
    request, reply = records(audit)
    received = srv.requests[0]
    assert request["kind"] == "request" and reply["kind"] == "response"
    assert body_bytes(request) == received.body
    assert request["body"]["messages"][0]["content"] == "héllo"  # readable, not escaped bytes
    assert request["method"] == "POST" and request["url"] == f"{srv.base_url}/chat/completions"
    assert reply["request_seq"] == request["seq"] and reply["status"] == 200
    assert body_bytes(reply) == bytes(received.response_body)
    assert reply["ended"] == "eof"


def test_api_key_is_sent_but_never_logged(srv: FakeOpenAIServer, audit: AuditLog) -> None:
    srv.add("ok")
    with make_http_client(srv.base_url, audit, timeout=10) as client:
        client.post(
            f"{srv.base_url}/chat/completions",
            json=CHAT,
            headers={"Authorization": "Bearer sk-very-secret-42"},
        )
    assert srv.requests[0].headers["authorization"] == "Bearer sk-very-secret-42"
    assert b"sk-very-secret-42" not in audit.path.read_bytes()
    assert records(audit)[0]["headers"]["authorization"] == "[hidden]"


def test_other_port_is_refused_and_nothing_is_sent(
    srv: FakeOpenAIServer, other: FakeOpenAIServer, audit: AuditLog
) -> None:
    with (
        make_http_client(srv.base_url, audit, timeout=10) as client,
        pytest.raises(EgressRefused, match=f"127.0.0.1:{other.port}"),
    ):
        client.post(f"{other.base_url}/chat/completions", json=CHAT)
    assert other.requests == [] and srv.requests == []
    kinds = [r["kind"] for r in records(audit)]
    assert kinds == ["refused"]  # the attempt is on record; no request body, since none was sent
    assert "body" not in records(audit)[0]


@pytest.mark.parametrize("swap", [("127.0.0.1", "localhost"), ("http://", "https://")])
def test_other_host_or_scheme_is_refused(
    srv: FakeOpenAIServer, audit: AuditLog, swap: tuple[str, str]
) -> None:
    target = f"{srv.base_url}/models".replace(*swap)  # same server, named differently
    with (
        make_http_client(srv.base_url, audit, timeout=10) as client,
        pytest.raises(EgressRefused, match="only talks to the configured model endpoint"),
    ):
        client.get(target)
    assert srv.requests == []


def test_redirect_elsewhere_is_refused_even_if_the_client_would_follow(
    srv: FakeOpenAIServer, other: FakeOpenAIServer, audit: AuditLog
) -> None:
    moved = {"Location": f"{other.base_url}/chat/completions"}
    srv.add(FakeReply(status=307, headers=moved), FakeReply(status=307, headers=moved))
    with make_http_client(srv.base_url, audit, timeout=10) as client:
        response = client.post(f"{srv.base_url}/chat/completions", json=CHAT)
    assert response.status_code == 307  # the glasscoder client never follows redirects
    transport = EgressTransport(srv.base_url, audit)
    with (
        httpx2.Client(transport=transport, follow_redirects=True) as following,
        pytest.raises(EgressRefused),
    ):
        following.post(f"{srv.base_url}/chat/completions", json=CHAT)
    assert other.requests == []


def test_redaction_happens_before_the_log_and_the_send(
    srv: FakeOpenAIServer, audit: AuditLog
) -> None:
    srv.add("ok")
    payload = {**CHAT, "messages": [{"role": "user", "content": "password=hunter2 please"}]}

    def redact(body: bytes) -> tuple[bytes, dict[str, int]]:
        return body.replace(b"hunter2", b"[REDACTED-SECRET]"), {"password": 1}

    with make_http_client(srv.base_url, audit, timeout=10, redact=redact) as client:
        client.post(f"{srv.base_url}/chat/completions", json=payload)
    received = srv.requests[0]
    assert received.json["messages"][0]["content"] == "password=[REDACTED-SECRET] please"
    assert b"hunter2" not in audit.path.read_bytes()
    assert body_bytes(records(audit)[0]) == received.body
    assert records(audit)[0]["redactions"] == {"password": 1}


def test_streamed_response_is_recorded_whole(srv: FakeOpenAIServer, audit: AuditLog) -> None:
    srv.add("A streamed answer, long enough for several chunks.")
    with (
        make_http_client(srv.base_url, audit, timeout=10) as client,
        client.stream(
            "POST", f"{srv.base_url}/chat/completions", json={**CHAT, "stream": True}
        ) as response,
    ):
        pieces = list(response.iter_bytes())
    reply = records(audit)[1]
    assert b"".join(pieces) == bytes(srv.requests[0].response_body)
    assert reply["body_form"] == "text" and reply["body"].endswith("data: [DONE]\n\n")
    assert body_bytes(reply) == bytes(srv.requests[0].response_body)
    assert reply["ended"] == "eof"


def test_stream_closed_early_keeps_what_was_read(srv: FakeOpenAIServer, audit: AuditLog) -> None:
    srv.add("x" * 200)
    with (
        make_http_client(srv.base_url, audit, timeout=10) as client,
        client.stream(
            "POST", f"{srv.base_url}/chat/completions", json={**CHAT, "stream": True}
        ) as response,
    ):
        first = next(response.iter_raw())
    reply = records(audit)[1]
    assert reply["ended"] == "closed"
    assert body_bytes(reply).startswith(first)


def test_stream_cut_mid_way_is_still_recorded(srv: FakeOpenAIServer, audit: AuditLog) -> None:
    srv.add(FakeReply(content="y" * 100, cut_after=4))
    with (
        make_http_client(srv.base_url, audit, timeout=10) as client,
        client.stream(
            "POST", f"{srv.base_url}/chat/completions", json={**CHAT, "stream": True}
        ) as response,
        pytest.raises(httpx2.RemoteProtocolError),
    ):
        for _ in response.iter_bytes():
            pass
    reply = records(audit)[1]
    assert reply["ended"] == "error" and "RemoteProtocolError" in reply["error"]
    assert body_bytes(reply) == bytes(srv.requests[0].response_body)
    assert body_bytes(reply).count(b"data: ") == 4


def test_failed_connection_is_recorded_after_the_request(audit: AuditLog) -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}/v1"
    with (
        make_http_client(endpoint, audit, timeout=10) as client,
        pytest.raises(httpx2.ConnectError),
    ):
        client.post(f"{endpoint}/chat/completions", json=CHAT)
    request, error = records(audit)
    assert request["kind"] == "request" and request["body"] == CHAT
    assert error["kind"] == "error" and error["request_seq"] == request["seq"]


def test_nothing_is_sent_when_the_log_cannot_be_written(
    srv: FakeOpenAIServer, audit: AuditLog
) -> None:
    audit.path.unlink(missing_ok=True)
    audit.path.mkdir()  # the log's place is taken: appending fails
    srv.add("never")
    with make_http_client(srv.base_url, audit, timeout=10) as client, pytest.raises(AuditError):
        client.post(f"{srv.base_url}/chat/completions", json=CHAT)
    assert srv.requests == []


def test_works_without_a_log_and_asks_for_plain_bodies(srv: FakeOpenAIServer) -> None:
    srv.add("ok")
    with make_http_client(srv.base_url, None, timeout=10) as client:
        response = client.post(f"{srv.base_url}/chat/completions", json=CHAT)
    assert json.loads(response.content)["choices"][0]["message"]["content"] == "ok"
    assert srv.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("endpoint", ["localhost:8000/v1", "ftp://127.0.0.1/v1", "http:///v1"])
def test_endpoint_must_be_an_http_url(endpoint: str) -> None:
    with pytest.raises(UsageError, match="http"):
        make_http_client(endpoint, None, timeout=10)
