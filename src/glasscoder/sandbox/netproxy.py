"""The way out for sandboxed commands: an HTTP proxy on a Unix socket, for listed hosts only.

Commands live in an empty network namespace; this proxy, on the host, is their one route, and
only the socket file is mounted into the sandbox (``netbridge`` turns it into a TCP proxy
address inside). It takes CONNECT (https and anything else tunnelled) and absolute-URI
requests (plain http), checks the host and port against the allow-list (``netrules``),
resolves the name itself and connects to the very address it checked, so a second lookup
cannot lead somewhere else (DNS rebinding). For plain http the request URI decides where the
request goes; a Host header that names anything else is refused rather than followed.

Every decision is handed to ``record`` (run.py writes it to the session's audit log) before
anything is sent: ``allowed`` or ``refused`` with the host, port, address and reason; then
``closed`` with the bytes each way, or ``failed`` when the allowed address did not answer. A
plain-http connection carries one request: it goes on with ``Connection: close``, and whatever
else the command sends on it can only reach the same checked address.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from glasscoder.sandbox.netrules import (
    AllowList,
    Rule,
    normalize_host,
    parse_ip,
    split_authority,
)

Record = Callable[[dict[str, Any]], None]
# Put a host the list does not name to the person: "once", "session" or "no" (interactive only).
Ask = Callable[[str, int], str]
Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int], socket.socket]

MAX_HEAD = 16 * 1024  # request line and headers, bytes
MAX_HEADERS = 100
MAX_CONNECTIONS = 64  # at once; more are refused with 503
HEAD_TIMEOUT = 30.0  # seconds to send the request head
CONNECT_TIMEOUT = 10.0
CLOSE_WAIT = 5.0  # seconds close() waits for cut connections to write their last record
IDLE_TIMEOUT = 300.0  # a relay with no traffic either way for this long is closed
NO_AGAIN = 60.0  # seconds a "no" stands for the same host before it is asked about again
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                         "proxy-authenticate", "te", "trailer", "upgrade"})  # fmt: skip


class Refused(Exception):
    def __init__(self, status: int, reason: str, event: str = "refused") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.event = event  # "failed": allowed, but the host could not be reached


@dataclass
class Target:
    """Where one request asks to go, and the head to send there (empty for CONNECT)."""

    method: str
    host: str
    port: int
    head: bytes = b""
    ip: str = ""  # the address checked, and the one connected to
    resolved: list[str] = field(default_factory=list)


def resolve(host: str, port: int) -> list[str]:
    """The addresses a name has, in the resolver's order, each once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


def connect(ip: str, port: int) -> socket.socket:
    conn = socket.create_connection((ip, port), timeout=CONNECT_TIMEOUT)
    conn.settimeout(None)
    return conn


class NetProxy:
    def __init__(
        self,
        allow: AllowList,
        record: Record,
        resolver: Resolver = resolve,
        connector: Connector = connect,
        ask: Ask | None = None,
    ) -> None:
        self.allow = allow
        self.ask = ask
        self._ask_lock = threading.Lock()  # one question on the screen at a time
        self._said_no: dict[tuple[str, int], float] = {}
        self.record = record
        self.resolver = resolver
        self.connector = connector
        self.socket_path: Path | None = None
        self._listener: socket.socket | None = None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open: set[socket.socket] = set()
        self._handlers: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> Path:
        """Listen on a socket in a new private (0700) folder; returns the socket's path."""
        folder = Path(tempfile.mkdtemp(prefix="glasscoder-net-"))  # mkdtemp makes it 0700
        path = folder / "proxy.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(MAX_CONNECTIONS)
        self._listener, self.socket_path = listener, path
        self.record({"event": "start", "allow": [str(rule) for rule in self.allow.rules]})
        threading.Thread(target=self._accept_loop, daemon=True, name="netproxy").start()
        return path

    def close(self) -> None:
        """Stop listening, cut open connections, remove the socket's folder."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for conn in list(self._open):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            handlers = list(self._handlers)
        deadline = time.monotonic() + CLOSE_WAIT
        for handler in handlers:  # their "closed" records belong in the log before it ends
            handler.join(max(deadline - time.monotonic(), 0.0))
        if self.socket_path is not None:
            shutil.rmtree(self.socket_path.parent, ignore_errors=True)

    def __enter__(self) -> NetProxy:
        if self._listener is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept_loop(self) -> None:
        while (listener := self._listener) is not None:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            if not self._slots.acquire(blocking=False):
                self.record({"event": "refused", "reason": "too many connections at once"})
                _reply(client, 503, "too many connections at once")
                client.close()
                continue
            handler = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._handlers = [t for t in self._handlers if t.is_alive()] + [handler]
            handler.start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._open.add(client)
        try:
            with client:
                self._handle(client)
        except OSError:
            pass  # the command hung up; an allowed connection was already recorded
        finally:
            with self._lock:
                self._open.discard(client)
            self._slots.release()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(HEAD_TIMEOUT)
        target: Target | None = None
        try:
            head, rest = read_head(client)
            target = parse_request(head)
            self._check(target)
            upstream = self._open_upstream(target)
        except Refused as exc:
            self._refused(target, exc)
            _reply(client, exc.status, exc.reason)
            return
        client.settimeout(None)
        with self._lock:
            self._open.add(upstream)
        counts = [0, 0]
        try:
            with upstream:
                if target.method == "CONNECT":
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                upstream.sendall(target.head + rest)
                counts[0] = len(target.head) + len(rest)
                relay(client, upstream, counts)
        finally:
            with self._lock:
                self._open.discard(upstream)
            self.record({"event": "closed", **_where(target), "bytes_up": counts[0],
                         "bytes_down": counts[1]})  # fmt: skip

    def _check(self, target: Target) -> None:
        """Refused unless the host and port are listed and a permitted address is found."""
        connect = target.method == "CONNECT"
        if not self.allow.permits(target.host, target.port, connect) and not self._person_allows(
            target.host, target.port
        ):
            raise Refused(403, f"{target.host}:{target.port} is not in the allow-list")
        literal = parse_ip(target.host)
        try:
            found = [target.host] if literal else self.resolver(target.host, target.port)
        except (OSError, UnicodeError) as exc:
            raise Refused(502, f"cannot resolve {target.host}: {exc}") from None
        target.resolved = found
        refusals = []
        for ip in found:
            address = parse_ip(ip)
            if address is None:
                refusals.append(f"{ip!r} is not an IP address")
            elif why := self.allow.address_refusal(address, target.port, connect):
                refusals.append(why)
            else:
                target.ip = str(address)
                return
        raise Refused(403, refusals[0] if refusals else f"{target.host} has no address")

    def _person_allows(self, host: str, port: int) -> bool:
        """An unlisted host put to the person (when someone can answer), the answer on record.
        A yes still leaves the address checks to `_check`: a name does not open loopback."""
        if self.ask is None:
            return False
        with self._ask_lock:
            if self.allow.permits(host, port, True):  # allowed for the session meanwhile
                return True
            if time.monotonic() - self._said_no.get((host, port), -NO_AGAIN) < NO_AGAIN:
                return False
            answer = self.ask(host, port)
            self.record({"event": "asked", "host": host, "port": port, "answer": answer})
            if answer == "session":
                self.allow.rules.append(Rule(host, port))
            if answer == "no":
                self._said_no[(host, port)] = time.monotonic()
            return answer != "no"

    def _open_upstream(self, target: Target) -> socket.socket:
        self.record({"event": "allowed", **_where(target)})  # before a byte is sent
        try:
            return self.connector(target.ip, target.port)
        except OSError as exc:
            reason = f"cannot connect to {target.ip}:{target.port}: {exc}"
            raise Refused(502, reason, event="failed") from None

    def _refused(self, target: Target | None, exc: Refused) -> None:
        where = _where(target) if target is not None else {}
        self.record({"event": exc.event, **where, "reason": exc.reason})


def _where(target: Target) -> dict[str, Any]:
    where = {"method": target.method, "host": target.host, "port": target.port}
    if target.ip:
        where["ip"] = target.ip
    if target.resolved and target.resolved != [target.ip]:
        where["resolved"] = target.resolved
    return where


def read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    """(request head up to its blank line, bytes already read after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise Refused(431, f"request head over {MAX_HEAD} bytes")
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            raise Refused(408, "request head not sent in time") from None
        if not chunk:
            raise Refused(400, "connection closed before the request head ended")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if len(head) > MAX_HEAD:
        raise Refused(431, f"request head over {MAX_HEAD} bytes")
    return head, rest


def parse_request(head: bytes) -> Target:
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise Refused(400, "request head is not ASCII") from None
    line, *header_lines = text.split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise Refused(400, "malformed request line")
    method, uri, _ = parts
    headers = parse_headers(header_lines)
    if method == "CONNECT":
        host, port = _authority(uri, None)
        return Target(method, host, port)
    return _plain(method, uri, headers)


def parse_headers(lines: list[str]) -> list[tuple[str, str]]:
    if len(lines) > MAX_HEADERS:
        raise Refused(431, f"more than {MAX_HEADERS} headers")
    headers = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name or "\t" in name:
            raise Refused(400, "malformed header line")  # folding and spaces before ':' too
        headers.append((name, value.strip()))
    return headers


def _plain(method: str, uri: str, headers: list[tuple[str, str]]) -> Target:
    """A plain http request: checked by its absolute URI, sent on in origin form."""
    if not method.isalpha() or not method.isupper():
        raise Refused(400, "malformed method")
    parts = urlsplit(uri)
    if parts.scheme.lower() != "http":
        raise Refused(400, "only http:// URIs here; https goes through CONNECT")
    if "@" in parts.netloc:
        raise Refused(400, "credentials in the request URI")
    host, port = _authority(parts.netloc, 80)
    hosts = [value for name, value in headers if name.lower() == "host"]
    if len(hosts) > 1 or (hosts and _authority(hosts[0], 80) != (host, port)):
        raise Refused(400, f"the Host header does not name {host}:{port}, the request URI's host")
    path = parts.path or "/"
    path += f"?{parts.query}" if parts.query else ""
    kept = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP and n.lower() != "host"]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{n}: {v}" for n, v in kept)]
    head = ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("ascii")
    return Target(method, host, port, head)


def _authority(text: str, default_port: int | None) -> tuple[str, int]:
    """(normalized host, port) from an authority; Refused when it is malformed."""
    host, port = split_authority(text)
    normal = normalize_host(host) if host else None
    port = port or default_port
    if normal is None or port is None:
        raise Refused(400, f"malformed host or port: {text[:100]!r}")
    return normal, port


def relay(client: socket.socket, upstream: socket.socket, counts: list[int]) -> None:
    """Copy both ways until both sides are done, adding the bytes to counts [up, down]."""

    def pump(src: socket.socket, dst: socket.socket, slot: int) -> None:
        src.settimeout(IDLE_TIMEOUT)
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                counts[slot] += len(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    down = threading.Thread(target=pump, args=(upstream, client, 1), daemon=True)
    down.start()
    pump(client, upstream, 0)
    down.join()


def _reply(client: socket.socket, status: int, reason: str) -> None:
    body = f"glasscoder network proxy: {reason}\n".encode("ascii", "replace")
    head = (f"HTTP/1.1 {status} {_STATUS.get(status, 'Refused')}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
    with contextlib.suppress(OSError):
        client.sendall(head.encode("ascii") + body)


_STATUS = {400: "Bad Request", 403: "Forbidden", 408: "Request Timeout",
           431: "Request Header Fields Too Large", 502: "Bad Gateway",
           503: "Service Unavailable"}  # fmt: skip


NO_NETWORK_CONTROL = (
    "--sandbox none has no network control at all: commands reach any host, and the allow_net "
    "list is not applied."
)


def start_for(
    sandbox: Any, entries: list[str], record: Record, ask: Ask | None = None
) -> NetProxy | None:
    """A started proxy wired into ``sandbox``, or None: with an empty list and nobody to ask
    nothing changes, and a backend without a network wall of its own (no ``net_socket``) has
    nothing to open."""
    if not (entries or ask) or not hasattr(sandbox, "net_socket"):
        return None
    proxy = NetProxy(AllowList.parse(entries), record, ask=ask)
    sandbox.net_socket = str(proxy.start())
    return proxy


def unapplied(backend: str) -> str:
    """What to tell the person when allow_net is set but the backend cannot use the proxy."""
    if backend == "none":
        return NO_NETWORK_CONTROL
    return f"the {backend} sandbox cannot apply allow_net; its commands get no proxy."


def describe(record: dict[str, Any]) -> str:
    """One line for a person: 'refused GET example.com:80 (reason)'."""
    if record.get("event") == "start":
        return f"network allow-list: {', '.join(record['allow'])}"
    where = f"{record.get('method', '')} {record.get('host', '?')}:{record.get('port', '?')}"
    if record.get("ip"):
        where += f" at {record['ip']}"
    if record.get("event") == "closed":
        where += f", {record['bytes_up']} bytes up, {record['bytes_down']} down"
    reason = f" ({record['reason']})" if record.get("reason") else ""
    return f"{record.get('event')} {where.strip()}{reason}"
