"""The network allow-list (issue 5, escape test 9): the proxy on its Unix socket, the bridge
inside bwrap, and the audit records of a real session. Real sockets only: an HTTP server and a
TLS-free CONNECT target on 127.0.0.1, which the tests reach only because the allow-list names
127.0.0.1 itself; names are resolved by a resolver the tests inject."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from glasscoder.config import load_settings
from glasscoder.errors import UsageError
from glasscoder.sandbox.base import Limits
from glasscoder.sandbox.bwrap import BwrapSandbox, bwrap_args
from glasscoder.sandbox.netproxy import MAX_HEAD, NetProxy, connect
from glasscoder.sandbox.netrules import AllowList, parse_ip, special_kind
from tests.fakes.loopback import LoopbackServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import xml_call
from tests.sandbox.conftest import Arena, system_python
from tests.sandbox.test_unprivileged import as_nobody as as_nobody  # a fixture

# --- real servers on 127.0.0.1 -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        owner = self.server.owner  # type: ignore[attr-defined]
        owner.seen.append((self.path, self.headers.get("Host")))
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Web(LoopbackServer):
    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])


class Echo:
    """A plain TCP service (no TLS) that answers each line with 'echo: LINE'."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rwb") as f:
                for line in f:
                    f.write(b"echo: " + line)
                    f.flush()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def web() -> Iterator[Web]:
    with Web() as server:
        yield server


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.close()


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, record: dict[str, Any]) -> None:
        with self.lock:
            self.records.append(record)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == name]


def ask(proxy: NetProxy, data: bytes, then: bytes = b"") -> bytes:
    """Send data over the proxy's Unix socket (then `then` once it answers), read to the end."""
    assert proxy.socket_path is not None
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(str(proxy.socket_path))
        conn.sendall(data)
        reply = b""
        if then:
            reply = conn.recv(65536)
            conn.sendall(then)
            conn.shutdown(socket.SHUT_WR)
        while chunk := conn.recv(65536):
            reply += chunk
    return reply


def get(url: str, host: str | None) -> bytes:
    header = f"Host: {host}\r\n" if host is not None else ""
    return f"GET {url} HTTP/1.1\r\n{header}User-Agent: t\r\n\r\n".encode()


def make_proxy(entries: list[str], recorder: Recorder, **kw: Any) -> NetProxy:
    return NetProxy(AllowList.parse(entries), recorder, **kw)  # `with` starts it


# --- the proxy itself --------------------------------------------------------------------------


def test_an_allowed_get_reaches_the_server_in_origin_form(web) -> None:
    rec = Recorder()
    with make_proxy([f"127.0.0.1:{web.port}"], rec) as proxy:
        reply = ask(proxy, get(f"http://127.0.0.1:{web.port}/x?y=1", f"127.0.0.1:{web.port}"))
    assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"hello from /x?y=1")
    assert web.seen == [("/x?y=1", f"127.0.0.1:{web.port}")]
    assert rec.records[0] == {"event": "start", "allow": [f"127.0.0.1:{web.port}"]}
    where = {"method": "GET", "host": "127.0.0.1", "port": web.port, "ip": "127.0.0.1"}
    assert rec.events("allowed") == [{"event": "allowed", **where}]
    [closed] = rec.events("closed")
    assert closed["bytes_down"] == len(reply) and closed["bytes_up"] > 0


def test_an_allowed_connect_tunnels_to_the_target(echo) -> None:
    rec = Recorder()
    with make_proxy([f"127.0.0.1:{echo.port}"], rec) as proxy:
        reply = ask(proxy, f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\n\r\n".encode(), b"hi\n")
    assert reply == b"HTTP/1.1 200 Connection established\r\n\r\necho: hi\n"
    [closed] = rec.events("closed")
    assert (closed["method"], closed["bytes_up"], closed["bytes_down"]) == ("CONNECT", 3, 9)


@pytest.mark.parametrize("kind", ["connect", "get"])
def test_an_unlisted_host_is_refused(web, kind) -> None:
    rec = Recorder()
    request = (
        f"CONNECT 127.0.0.1:{web.port} HTTP/1.1\r\n\r\n".encode()
        if kind == "connect"
        else get(f"http://127.0.0.1:{web.port}/", f"127.0.0.1:{web.port}")
    )
    with make_proxy([f"127.0.0.1:{web.port + 1}", "example.test"], rec) as proxy:
        reply = ask(proxy, request)
    assert reply.startswith(b"HTTP/1.1 403 ") and b"not in the allow-list" in reply
    assert web.seen == []
    [refused] = rec.events("refused")
    assert (refused["host"], refused["port"]) == ("127.0.0.1", web.port)
    assert rec.events("allowed") == []


def test_a_host_header_that_disagrees_is_refused_not_followed(web) -> None:
    rec = Recorder()
    listed = f"127.0.0.1:{web.port}"
    with make_proxy([listed], rec) as proxy:
        # The URI names the listed server, the Host header another: refused.
        mismatch = ask(proxy, get(f"http://{listed}/", "evil.test"))
        # The URI names an unlisted host, the Host header the listed one: refused too.
        smuggled = ask(proxy, get("http://evil.test/", listed))
        doubled = ask(proxy, get(f"http://{listed}/", f"{listed}\r\nHost: evil.test"))
    assert mismatch.startswith(b"HTTP/1.1 400 ") and b"Host header" in mismatch
    assert smuggled.startswith(b"HTTP/1.1 400 ") and b"Host header" in smuggled
    assert doubled.startswith(b"HTTP/1.1 400 ")
    assert web.seen == []
    assert [r["event"] for r in rec.records[1:]] == ["refused"] * 3


def test_a_request_without_host_header_is_sent_with_the_uri_host(web) -> None:
    with make_proxy([f"127.0.0.1:{web.port}"], Recorder()) as proxy:
        reply = ask(proxy, get(f"http://127.0.0.1:{web.port}/a", None))
    assert reply.startswith(b"HTTP/1.0 200")
    assert web.seen == [("/a", f"127.0.0.1:{web.port}")]


def fake_dns(table: dict[str, list[str]], calls: list[str]):
    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("name", "addresses", "why"),
    [
        ("example.test", ["127.0.0.1"], "loopback"),
        ("localhost", ["::1", "127.0.0.1"], "loopback"),
        ("metadata.test", ["169.254.169.254"], "link-local"),
        ("metadata6.test", ["fd00:ec2::254"], "private"),
        ("mapped.test", ["::ffff:127.0.0.1"], "loopback"),
        ("lan.test", ["10.1.2.3"], "private"),
    ],
)
def test_names_that_resolve_to_special_addresses_are_refused(web, name, addresses, why) -> None:
    rec, calls, dialed = Recorder(), [], []
    proxy = make_proxy(
        [f"{name}:{web.port}"],
        rec,
        resolver=fake_dns({name: addresses}, calls),
        connector=lambda ip, port: dialed.append(ip) or connect("127.0.0.1", web.port),
    )
    with proxy:
        reply = ask(proxy, get(f"http://{name}:{web.port}/", f"{name}:{web.port}"))
    assert reply.startswith(b"HTTP/1.1 403 ") and why.encode() in reply
    assert calls == [name] and dialed == [] and web.seen == []
    [refused] = rec.events("refused")
    assert why in refused["reason"] and refused["resolved"] == addresses


def test_the_metadata_address_is_refused_unless_listed_itself(echo) -> None:
    rec, dialed = Recorder(), []
    connector = lambda ip, port: dialed.append((ip, port)) or connect("127.0.0.1", echo.port)  # noqa: E731
    request = b"CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n"
    with make_proxy(["metadata.test:80"], rec, connector=connector) as proxy:
        refused = ask(proxy, request)
    with make_proxy(["169.254.169.254:80"], rec, connector=connector) as proxy:
        allowed = ask(proxy, request, b"x\n")
    assert refused.startswith(b"HTTP/1.1 403 ")
    assert allowed.endswith(b"echo: x\n") and dialed == [("169.254.169.254", 80)]


def test_the_address_checked_is_the_address_connected_to(echo) -> None:
    """DNS rebinding: a second lookup would answer 127.0.0.1; there is no second lookup."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    calls, dialed = [], []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    def connector(ip: str, port: int) -> socket.socket:
        dialed.append((ip, port))
        return connect("127.0.0.1", echo.port)  # stands in for the public host

    rec = Recorder()
    with make_proxy(["rebind.test"], rec, resolver=resolver, connector=connector) as proxy:
        reply = ask(proxy, b"CONNECT rebind.test:443 HTTP/1.1\r\n\r\n", b"ping\n")
    assert reply.endswith(b"echo: ping\n")
    assert calls == ["rebind.test"] and dialed == [("93.184.215.14", 443)]
    assert rec.events("allowed")[0]["ip"] == "93.184.215.14"


def test_a_mixed_answer_connects_only_to_a_public_address(echo) -> None:
    dialed = []
    connector = lambda ip, port: dialed.append(ip) or connect("127.0.0.1", echo.port)  # noqa: E731
    resolver = fake_dns({"mixed.test": ["127.0.0.1", "93.184.215.14"]}, [])
    with make_proxy(["mixed.test"], Recorder(), resolver=resolver, connector=connector) as proxy:
        ask(proxy, b"CONNECT mixed.test:443 HTTP/1.1\r\n\r\n", b"x\n")
    assert dialed == ["93.184.215.14"]


def test_an_allowed_host_that_does_not_answer_is_recorded_as_failed() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rec = Recorder()
    with make_proxy([f"127.0.0.1:{port}"], rec) as proxy:
        reply = ask(proxy, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 502 ")
    assert [r["event"] for r in rec.records] == ["start", "allowed", "failed"]
    assert "cannot connect" in rec.records[-1]["reason"]


def test_a_name_that_does_not_resolve_is_refused() -> None:
    rec = Recorder()
    with make_proxy(["gone.test"], rec, resolver=fake_dns({}, [])) as proxy:
        reply = ask(proxy, b"CONNECT gone.test:443 HTTP/1.1\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 502 ") and "cannot resolve" in rec.records[-1]["reason"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", b"400"),  # origin form: no target
        (b"GET https://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", b"400"),  # https not tunnelled
        (b"GET http://u:p@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", b"400"),
        (b"GET http://a.test/ HTTP/1.1\r\nHost : a.test\r\n\r\n", b"400"),
        (b"GET http://a.test/ HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n", b"400"),
        (b"CONNECT a.test HTTP/1.1\r\n\r\n", b"400"),  # CONNECT needs a port
        (b"GET http://a.test/ HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", b"431"),
        (b"GET http://a.test/ HTTP/1.1\r\nX: " + b"y" * MAX_HEAD + b"\r\n\r\n", b"431"),
        (b"GET http://a.test/ HTTP/1.1\r\n", b"400"),  # the head never ends
    ],
    ids=["origin-form", "https", "userinfo", "space", "folded", "no-port", "count", "size", "cut"],
)
def test_malformed_or_oversized_requests_are_refused(request_bytes, status) -> None:
    rec, calls = Recorder(), []
    with make_proxy(["a.test", "a.test:80"], rec, resolver=fake_dns({}, calls)) as proxy:
        assert proxy.socket_path is not None
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(proxy.socket_path))
            conn.sendall(request_bytes)
            conn.shutdown(socket.SHUT_WR)
            reply = conn.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 " + status), reply[:100]
    assert calls == [] and [r["event"] for r in rec.records[1:]] == ["refused"]


def test_the_socket_folder_is_private_and_removed_on_close() -> None:
    proxy = make_proxy(["a.test"], Recorder())
    proxy.start()
    assert proxy.socket_path is not None
    folder = proxy.socket_path.parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(proxy.socket_path.stat().st_mode)
    proxy.close()
    assert not folder.exists()


# --- the allow-list as data --------------------------------------------------------------------


def test_entries_parse_and_match() -> None:
    allow = AllowList.parse(["Example.COM.", "*.pypi.org:8443", "[::1]:8080", "10.0.0.5:5432"])
    assert str(allow) == "example.com, *.pypi.org:8443, [::1]:8080, 10.0.0.5:5432"
    assert allow.permits("example.com", 443, connect=True)
    assert allow.permits("example.com", 80, connect=False)
    assert not allow.permits("example.com", 80, connect=True)
    assert not allow.permits("www.example.com", 443, connect=True)
    assert allow.permits("files.pypi.org", 8443, connect=True)
    assert not allow.permits("pypi.org", 8443, connect=True)  # the wildcard is below the name
    assert not allow.permits("evilpypi.org", 8443, connect=True)
    assert allow.permits("::1", 8080, connect=True)


@pytest.mark.parametrize(
    "entry", ["", "a.test:0", "a.test:65536", "a.test:x", "exa mple.com", "a*.test", "::1",
              "[a.test]:80", "127.1", "-a.test", "bücher.test"],
)  # fmt: skip
def test_bad_entries_are_one_clear_usage_error(entry) -> None:
    with pytest.raises(UsageError, match="allow_net entry"):
        AllowList.parse([entry])


@pytest.mark.parametrize(
    ("address", "special"),
    [("127.0.0.1", True), ("::1", True), ("169.254.169.254", True), ("fd00:ec2::254", True),
     ("10.0.0.1", True), ("172.16.0.1", True), ("192.168.1.1", True), ("100.64.0.1", True),
     ("0.0.0.0", True), ("::", True), ("224.0.0.1", True), ("ff02::1", True),
     ("::ffff:169.254.169.254", True), ("fe80::1", True),
     ("93.184.215.14", False), ("2606:4700::1111", False)],
)  # fmt: skip
def test_which_addresses_are_special(address, special) -> None:
    ip = parse_ip(address)
    assert ip is not None
    assert bool(special_kind(ip)) is special


# Teredo 2001:0:<server>:<flags>:<port ^ ffff>:<client ^ ffffffff>: the client here is
# 127.0.0.1 (80ff:fffe inverted), the server 65.54.227.120; the second one's client is 8.8.8.8.
_TEREDO_LOOPBACK = "2001:0:4136:e378:8000:63bf:80ff:fffe"
_TEREDO_PUBLIC = "2001:0:4136:e378:8000:63bf:f7f7:f7f7"


@pytest.mark.parametrize(
    ("address", "inner"),
    [("::7f00:1", "127.0.0.1"),  # IPv4-compatible
     ("::a00:1", "10.0.0.1"),
     ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64, well-known prefix
     ("64:ff9b::7f00:1", "127.0.0.1"),
     ("2002:7f00:1::1", "127.0.0.1"),  # 6to4
     ("2002:a9fe:a9fe:1::5", "169.254.169.254"),
     ("::ffff:0:7f00:1", "127.0.0.1"),  # IPv4-translated
     ("::ffff:0:c0a8:101", "192.168.1.1"),
     (_TEREDO_LOOPBACK, "127.0.0.1")],
)  # fmt: skip
def test_ipv6_forms_wrapping_a_special_ipv4_are_judged_by_it(address, inner) -> None:
    ip = parse_ip(address)
    assert ip is not None
    assert special_kind(ip).startswith(f"{inner} inside an IPv6 form, ")
    refusal = AllowList.parse(["example.com"]).address_refusal(ip, 443, connect=True)
    assert refusal.startswith(f"{ip} is {inner} inside an IPv6 form")


@pytest.mark.parametrize(
    ("address", "kind"),
    [("fec0::1", "site-local"), ("feff:1::2", "site-local"),
     ("64:ff9b:1::808:808", "local-use NAT64"), ("64:ff9b:1:ffff::1", "local-use NAT64"),
     ("::808:808", "IPv4-compatible"), ("::5db8:d70e", "IPv4-compatible"),
     (_TEREDO_PUBLIC, "private or reserved")],
)  # fmt: skip
def test_ipv6_ranges_that_are_never_public(address, kind) -> None:
    ip = parse_ip(address)
    assert ip is not None
    assert kind in special_kind(ip)


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:0:808:808", "::ffff:8.8.8.8",
                "2001:4860:4860::8888", "fe00::1"],
)  # fmt: skip
def test_ipv6_forms_wrapping_a_public_ipv4_stay_public(address) -> None:
    ip = parse_ip(address)
    assert ip is not None
    assert special_kind(ip) == ""
    assert AllowList.parse(["example.com"]).address_refusal(ip, 443, connect=True) == ""


def test_a_wrapped_address_is_allowed_only_by_an_entry_naming_it() -> None:
    ip = parse_ip("::ffff:0:7f00:1")
    assert ip is not None
    assert AllowList.parse(["[::ffff:0:7f00:1]:8080"]).address_refusal(ip, 8080, True) == ""
    assert AllowList.parse(["127.0.0.1:8080"]).address_refusal(ip, 8080, True) != ""


def test_a_repository_config_cannot_set_the_allow_list(tmp_path, xdg, monkeypatch) -> None:
    (tmp_path / ".glasscoder").mkdir()
    (tmp_path / ".glasscoder" / "config.toml").write_text('allow_net = ["evil.test"]\n')
    settings = load_settings(tmp_path, {})
    assert settings.allow_net == []
    assert any("'allow_net'" in w for w in settings.warnings)
    monkeypatch.setenv("GLASSCODER_ALLOW_NET", "a.test, b.test:8080")
    assert load_settings(tmp_path, {}).allow_net == ["a.test", "b.test:8080"]
    monkeypatch.setenv("GLASSCODER_ALLOW_NET", "a.test:99999")
    with pytest.raises(UsageError, match=r"allow_net entry 'a\.test:99999'"):
        load_settings(tmp_path, {})


def test_an_empty_list_leaves_the_profile_unchanged(tmp_path) -> None:
    ws = tmp_path.resolve()
    plain = bwrap_args(ws, {"HOME": "/nonexistent"}, 9)
    assert plain == bwrap_args(ws, {"HOME": "/nonexistent"}, 9, net_socket=None)
    assert "--seccomp" in plain and "/run/glasscoder-net.sock" not in plain
    bridged = bwrap_args(ws, {"HOME": "/nonexistent"}, 9, net_socket="/x/proxy.sock")
    assert "--seccomp" not in bridged and "/run/glasscoder-net.sock" in bridged


# --- inside the sandbox: `glasscoder sandbox run --allow-net` ----------------------------------

PROBE = """
import http.client, os, socket, sys, urllib.request
what, port = sys.argv[1], int(sys.argv[2])
if what == "get":
    print(urllib.request.urlopen(f"http://127.0.0.1:{port}/via-proxy", timeout=10).read().decode())
elif what == "tunnel":
    proxy = os.environ["HTTPS_PROXY"].rsplit(":", 1)
    conn = http.client.HTTPConnection(proxy[0][len("http://"):], int(proxy[1]), timeout=10)
    conn.set_tunnel("127.0.0.1", port)
    conn.request("GET", "/tunnelled")
    print(conn.getresponse().read().decode())
elif what == "direct":
    socket.create_connection(("127.0.0.1", port), timeout=5)
elif what == "unix":
    socket.socket(socket.AF_UNIX)
elif what == "env":
    print(sorted(k for k in os.environ if "proxy" in k.lower()))
"""


def sandbox_run(arena: Arena, *args: str, allow: list[str]) -> subprocess.CompletedProcess:
    flags = [a for entry in allow for a in ("--allow-net", entry)]
    argv = [sys.executable, "-m", "glasscoder", "sandbox", "run", "--cwd", str(arena.ws), *flags,
            "--", system_python(), "-c", PROBE, *args]  # fmt: skip
    env = {**os.environ, "XDG_CONFIG_HOME": str(arena.base / "cfg"), "HOME": str(arena.home)}
    env.pop("GLASSCODER_ALLOW_NET", None)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def test_inside_an_allowed_host_gets_through_get_and_connect(sandbox, arena, web) -> None:
    allow = [f"127.0.0.1:{web.port}"]
    got = sandbox_run(arena, "get", str(web.port), allow=allow)
    tunnelled = sandbox_run(arena, "tunnel", str(web.port), allow=allow)
    assert got.returncode == 0 and "hello from /via-proxy" in got.stdout, got.stderr
    assert tunnelled.returncode == 0 and "hello from /tunnelled" in tunnelled.stdout
    assert [p for p, _ in web.seen] == ["/via-proxy", "/tunnelled"]
    assert f"glasscoder net: allowed GET 127.0.0.1:{web.port}" in got.stderr
    assert f"glasscoder net: allowed CONNECT 127.0.0.1:{web.port}" in tunnelled.stderr


def test_inside_an_unlisted_host_is_refused(sandbox, arena, web) -> None:
    allow = [f"127.0.0.1:{web.port + 1}"]
    got = sandbox_run(arena, "get", str(web.port), allow=allow)
    tunnelled = sandbox_run(arena, "tunnel", str(web.port), allow=allow)
    assert got.returncode != 0 and "403" in got.stdout
    assert tunnelled.returncode != 0 and "403" in tunnelled.stdout
    assert web.seen == []
    assert got.stderr.count("glasscoder net: refused") == 1


def test_inside_without_the_proxy_there_is_no_route(sandbox, arena, web) -> None:
    allow = [f"127.0.0.1:{web.port}"]
    direct = sandbox_run(arena, "direct", str(web.port), allow=allow)
    unix = sandbox_run(arena, "unix", "0", allow=allow)
    listed = sandbox_run(arena, "env", "0", allow=allow)
    assert direct.returncode != 0 and "ConnectionRefusedError" in direct.stdout
    assert unix.returncode != 0 and "PermissionError" in unix.stdout  # the filter is loaded
    assert "HTTPS_PROXY" in listed.stdout and "NO_PROXY" in listed.stdout
    # The same probe unconfined reaches the server: the refusal above is the sandbox's.
    outside = subprocess.run([system_python(), "-c", PROBE, "direct", str(web.port)], timeout=30)
    assert outside.returncode == 0


def test_inside_an_empty_list_adds_no_proxy(sandbox, arena) -> None:
    result = sandbox_run(arena, "env", "0", allow=[])
    assert result.returncode == 0 and result.stdout.strip() == "[]"
    assert "glasscoder net" not in result.stderr


def test_check_shows_the_allow_list(sandbox, arena) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(arena.base / "cfg"),
           "GLASSCODER_ALLOW_NET": "pypi.org,*.pythonhosted.org"}  # fmt: skip
    check = subprocess.run([sys.executable, "-m", "glasscoder", "sandbox", "check"], env=env,
                           cwd=arena.ws, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "network: only through glasscoder's proxy, to pypi.org, *.pythonhosted.org" in (
        check.stdout
    )
    assert "network: none" not in check.stdout


def test_none_says_it_has_no_network_control(arena) -> None:
    argv = [sys.executable, "-m", "glasscoder", "sandbox", "run", "--sandbox", "none",
            "--allow-net", "a.test", "--cwd", str(arena.ws), "--", "true"]  # fmt: skip
    env = {**os.environ, "XDG_CONFIG_HOME": str(arena.base / "cfg")}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--sandbox none has no network control at all" in result.stderr
    assert "glasscoder net:" not in result.stderr  # no proxy was started for it


BRIDGE_PROBE = """
import os
me = os.getpid()
for pid in filter(str.isdigit, os.listdir("/proc")):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        if f.read().split(b"\\0")[1:4] != [b"-I", b"-S", b"-c"] or int(pid) == me:
            continue
    with open(f"/proc/{pid}/status") as f:
        print([line.split()[1] for line in f if line.startswith("PPid:")][0] != str(me))
    try:
        open(f"/proc/{pid}/mem", "rb")
    except PermissionError:
        print("memory closed")
open("/proc/self/mem", "rb")  # the control: the command's own memory opens
"""


def test_the_bridge_is_not_the_commands_child_and_its_memory_is_closed(sandbox, arena, web) -> None:
    box = BwrapSandbox(sandbox.bwrap, [arena.data])
    with make_proxy([f"127.0.0.1:{web.port}"], Recorder()) as proxy:
        box.net_socket = str(proxy.socket_path)
        result = box.run([system_python(), "-c", BRIDGE_PROBE], arena.ws, arena.env(), Limits())
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["True", "memory", "closed"]


# --- a real session: every decision in the audit log -------------------------------------------


def test_every_decision_of_a_session_is_in_its_audit_log(sandbox, buggy_repo, xdg, web) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    listed, unlisted = f"127.0.0.1:{web.port}", f"127.0.0.1:{web.port + 1}"
    command = (f"curl -sS -o /dev/null -w '%{{http_code}} ' http://{listed}/audited; "
               f"curl -sS -w '%{{http_code}}' http://{unlisted}/refused")  # fmt: skip
    replies = [xml_call("run_shell", command=command), "Done."]
    with FakeOpenAIServer(replies) as srv:
        proc = subprocess.run(
            [sys.executable, "-m", "glasscoder", "-p", "fetch", "--endpoint", srv.base_url,
             "--cwd", str(buggy_repo), "--approval", "auto", "--allow-net", listed,
             "--output-format", "json"],
            capture_output=True, text=True, timeout=120, cwd=buggy_repo,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    session_id = json.loads(proc.stdout)["session_id"]
    log = xdg / "data" / "glasscoder" / "sessions" / session_id / "audit.jsonl"
    net = [json.loads(line) for line in log.read_text().splitlines()]
    net = [r for r in net if r["kind"] == "net"]
    assert [r["event"] for r in net] == ["start", "allowed", "closed", "refused"]
    assert net[0]["allow"] == [listed]
    assert (net[1]["host"], net[1]["port"], net[1]["ip"]) == ("127.0.0.1", web.port, "127.0.0.1")
    assert net[2]["bytes_down"] > 0 and "not in the allow-list" in net[3]["reason"]
    assert [p for p, _ in web.seen] == ["/audited"]
    verify = subprocess.run([sys.executable, "-m", "glasscoder", "audit", "verify", session_id],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_an_ordinary_user_gets_the_same_proxy(as_nobody, web) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    listed = f"127.0.0.1:{web.port}"
    run = as_nobody("sandbox", "run", "--allow-net", listed, "--", "curl", "-sS",
                    f"http://{listed}/nobody", f"http://127.0.0.1:{web.port + 1}/")  # fmt: skip
    assert "hello from /nobody" in run.stdout, run.stdout + run.stderr
    assert "not in the allow-list" in run.stdout
    assert [p for p, _ in web.seen] == ["/nobody"]


# --- hosts put to the person (interactive sessions) ------------------------------------------


def _asking(answers: list[str], asked: list[tuple[str, int]]):
    def ask_person(host: str, port: int) -> str:
        asked.append((host, port))
        return answers.pop(0)

    return ask_person


def test_an_unlisted_host_is_put_to_the_person_and_a_session_yes_sticks(echo) -> None:
    rec, asked, calls = Recorder(), [], []
    dns = fake_dns({"pkgs.test": ["93.184.216.34"]}, calls)
    connector = lambda ip, port: connect("127.0.0.1", echo.port)  # noqa: E731  (a "public" host)
    request = b"CONNECT pkgs.test:443 HTTP/1.1\r\n\r\n"
    with make_proxy([], rec, resolver=dns, connector=connector,
                    ask=_asking(["session"], asked)) as proxy:  # fmt: skip
        first = ask(proxy, request, b"one\n")
        second = ask(proxy, request, b"two\n")
    assert first.endswith(b"echo: one\n") and second.endswith(b"echo: two\n")
    assert asked == [("pkgs.test", 443)]  # asked once, the yes held for the session
    assert rec.events("asked") == [{"event": "asked", "host": "pkgs.test", "port": 443,
                                    "answer": "session"}]  # fmt: skip
    assert len(rec.events("allowed")) == 2


def test_a_no_refuses_and_is_not_asked_again_at_once(web) -> None:
    rec, asked = Recorder(), []
    request = b"CONNECT pkgs.test:443 HTTP/1.1\r\n\r\n"
    with make_proxy([], rec, resolver=fake_dns({}, []), ask=_asking(["no"], asked)) as proxy:
        first = ask(proxy, request)
        second = ask(proxy, request)  # a client's retry: not a second question
    assert first.startswith(b"HTTP/1.1 403 ") and second.startswith(b"HTTP/1.1 403 ")
    assert asked == [("pkgs.test", 443)] and rec.events("allowed") == []


def test_a_yes_to_a_name_does_not_open_a_private_address(web) -> None:
    """The person allows a host name; it resolving to loopback is still refused."""
    rec, asked = Recorder(), []
    dns = fake_dns({"sneaky.test": ["127.0.0.1"]}, [])
    with make_proxy([], rec, resolver=dns, ask=_asking(["once"], asked)) as proxy:
        reply = ask(proxy, get(f"http://sneaky.test:{web.port}/", f"sneaky.test:{web.port}"))
    assert asked and reply.startswith(b"HTTP/1.1 403 ") and web.seen == []


def test_without_anyone_to_ask_an_unlisted_host_is_refused_unasked(web) -> None:
    rec = Recorder()
    with make_proxy([], rec, resolver=fake_dns({}, [])) as proxy:
        reply = ask(proxy, b"CONNECT pkgs.test:443 HTTP/1.1\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 403 ") and rec.events("asked") == []
