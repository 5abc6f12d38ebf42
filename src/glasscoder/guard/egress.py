"""The one way out: every byte to a model goes through this module.

No other module in glasscoder opens a socket or imports an HTTP client (tests/guard/
test_single_egress.py holds that line). Each request passes, in order:

1. destination check - scheme, host and port must be the configured endpoint's; redirects
   are never followed, and a request anywhere else is refused before a byte is sent;
2. redaction - the body goes through ``redact`` (``guard/body_redaction.py`` over the session's
   ``Redactor``), which returns the body to send and how many secrets of each kind it replaced;
3. audit - the redacted body, exactly as it will be sent, is written to the audit log with
   those counts (never the values);
4. send;
5. audit of the response, recorded as its bytes pass and written when the body is closed, so a
   stream cut mid-way is still on record. A body past MAX_RESPONSE_BYTES is cut off with an
   error: a server that streams without end must not exhaust memory.

A request that fails before its connection is made records ``"sent": false``: nothing left.
Each request is bounded as a whole by the caller's ``Deadlines`` (first token, total, the
run's time left): checked before sending and on every piece of the response, and no socket
wait lasts past the nearest one, so a server trickling keep-alive bytes cannot hold a run.

No telemetry of any kind: nothing else is sent, anywhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx2

from glasscoder.errors import UsageError, UserFacingError
from glasscoder.guard.audit import AuditLog, body_fields

# body -> (body to send, {secret kind: how many were replaced})
BodyRedactor = Callable[[bytes], tuple[bytes, dict[str, int]]]

HIDDEN = "[hidden]"
# Far above any one model reply (a streamed token costs ~150 bytes of SSE framing).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# Headers that carry credentials: the audit log shows that they were sent, never their value.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "api-key", "x-api-key"})

# What a caller outside this module catches for "the HTTP exchange failed", without importing
# an HTTP client itself.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx2.HTTPError,
    httpx2.StreamError,
    httpx2.InvalidURL,
)


def no_redaction(body: bytes) -> tuple[bytes, dict[str, int]]:
    return body, {}


class EgressRefused(UserFacingError):
    """A request to somewhere other than the configured model endpoint."""


class ResponseTooLarge(httpx2.StreamError):
    """The endpoint sent more than MAX_RESPONSE_BYTES in one response."""


# DeadlinePassed.which for a stream that went silent after its first token (see Deadlines).
STALLED = "stalled"


class DeadlinePassed(httpx2.TimeoutException):
    """The request in flight ran past one of its deadlines; ``which`` names it."""

    def __init__(self, which: str, seconds: float) -> None:
        super().__init__(f"the {which} deadline ({seconds:g} s) passed")
        self.which, self.seconds = which, seconds


class Deadlines:
    """The deadlines of the request in flight, armed by the model before each request.

    ``first_token``: seconds until the model's first token (the caller reports tokens with
    ``token_arrived``; keep-alive bytes are not tokens). ``total``: seconds for the whole
    request, named ``total_name`` (the setting it comes from, or the run's max_time).
    """

    # A socket wait ends at the deadline; the check after it must see it passed.
    _SLACK = 0.05

    def __init__(self) -> None:
        # Each (monotonic end, setting name, seconds); None when not armed.
        self._total: tuple[float, str, float] | None = None
        self._first: tuple[float, str, float] | None = None
        # The socket wait bound() gave the request in flight, when the first-token deadline set
        # it: a socket timeout after the token came is then a silence that long mid-reply.
        self._first_wait: float | None = None

    def arm(self, total: float, total_name: str, first_token: float | None = None) -> None:
        now = time.monotonic()
        self._total = (now + total, total_name, total)
        first = (now + first_token, "first_token_timeout", first_token) if first_token else None
        self._first = first if first and first < self._total else None

    def token_arrived(self) -> None:
        self._first = None

    def disarm(self) -> None:
        self._total, self._first, self._first_wait = None, None, None

    def seconds_left(self) -> float | None:
        nearest = self._nearest()
        return None if nearest is None else max(nearest[0] - time.monotonic(), 0.0)

    def check(self, slack: float = 0.0) -> None:
        """DeadlinePassed when the nearest deadline is (within slack) behind us."""
        nearest = self._nearest()
        if nearest is not None and time.monotonic() + slack >= nearest[0]:
            raise DeadlinePassed(nearest[1], nearest[2])

    def passed_by(self, exc: BaseException) -> DeadlinePassed | None:
        """The deadline a socket timeout stands for, when it was one of ours."""
        if isinstance(exc, DeadlinePassed):
            return exc
        if isinstance(exc, httpx2.TimeoutException):
            try:
                self.check(self._SLACK)
            except DeadlinePassed as passed:
                return passed
            if self._first is None and self._first_wait is not None:
                # The socket's wait cannot be lengthened once the body streams, so a silence
                # after the first token as long as the wait it had ends the request.
                return DeadlinePassed(STALLED, round(self._first_wait, 1))
        return None

    def bound(self, request: httpx2.Request) -> None:
        """No socket wait of this request lasts past the nearest deadline."""
        left = self.seconds_left()
        self._first_wait = (
            left if self._first is not None and self._nearest() == self._first else None
        )
        if left is None:
            return
        left = max(left, 0.001)  # 0 would mean "do not wait at all" to some backends
        timeouts = dict(request.extensions.get("timeout") or {})
        for phase in ("connect", "read", "write", "pool"):
            current = timeouts.get(phase)
            timeouts[phase] = left if current is None else min(current, left)
        request.extensions = {**request.extensions, "timeout": timeouts}

    def _nearest(self) -> tuple[float, str, float] | None:
        ends = [end for end in (self._total, self._first) if end is not None]
        return min(ends) if ends else None


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: httpx2.URL) -> Destination:
        default_port = 443 if url.scheme == "https" else 80
        return cls(url.scheme, url.host.lower(), url.port or default_port)

    @classmethod
    def of_endpoint(cls, endpoint: str) -> Destination:
        try:
            url = httpx2.URL(endpoint)
        except httpx2.InvalidURL as exc:
            raise UsageError(f"The model endpoint '{endpoint}' is not a valid URL: {exc}") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise UsageError(
                f"The model endpoint '{endpoint}' must be an http:// or https:// URL, "
                "e.g. http://127.0.0.1:8000/v1."
            )
        return cls.of(url)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


class EgressTransport(httpx2.BaseTransport):
    """An HTTP transport that only talks to one endpoint, and records everything it sends."""

    def __init__(
        self,
        endpoint: str,
        audit: AuditLog | None,
        redact: BodyRedactor = no_redaction,
        deadlines: Deadlines | None = None,
    ) -> None:
        self.destination = Destination.of_endpoint(endpoint)
        self.max_response_bytes = MAX_RESPONSE_BYTES
        self._audit = audit
        self._redact = redact
        self._deadlines = deadlines or Deadlines()
        # proxy=None: an environment proxy would be a second way out. A plain-http endpoint
        # never uses TLS (https is refused as another destination), so loading the system's
        # certificates (~50 ms of start-up) is skipped for it.
        plain = self.destination.scheme == "http"
        self._inner = httpx2.HTTPTransport(proxy=None, verify=not plain)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self._check_destination(request)
        self._deadlines.check()  # a retry after a deadline is not sent at all
        request, redactions = self._redacted(request)
        self._deadlines.bound(request)
        seq = self._record_request(request, redactions)  # what is sent, already redacted
        try:
            response = self._inner.handle_request(request)
        except Exception as exc:
            passed = self._deadlines.passed_by(exc)
            # No connection, no byte of the request left: the summary must not count it.
            sent = not isinstance(exc, httpx2.ConnectError | httpx2.ConnectTimeout)
            self._record("error", {"request_seq": seq, "error": _describe(passed or exc),
                                   "sent": sent})  # fmt: skip
            if passed is not None:
                raise passed from exc
            raise
        on_close = partial(self._record_response, seq, response)
        response.stream = RecordingStream(
            response.stream, on_close, self.max_response_bytes, self._deadlines
        )
        return response

    def close(self) -> None:
        self._inner.close()

    def _check_destination(self, request: httpx2.Request) -> None:
        target = Destination.of(request.url)
        if target == self.destination:
            return
        # Nothing was sent, so the record holds no body: only that an attempt was stopped.
        self._record("refused", {"method": request.method, "url": str(request.url)})
        raise EgressRefused(
            f"Refused to send a request to {target}: glasscoder only talks to the configured "
            f"model endpoint ({self.destination})."
        )

    def _redacted(self, request: httpx2.Request) -> tuple[httpx2.Request, dict[str, int]]:
        body = request.read()
        clean, redactions = self._redact(body)
        if clean == body:
            return request, redactions
        # A new request, so Content-Length is computed for the redacted body.
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
        redacted = httpx2.Request(
            request.method,
            request.url,
            headers=headers,
            content=clean,
            extensions=request.extensions,
        )
        return redacted, redactions

    def _record_request(self, request: httpx2.Request, redactions: dict[str, int]) -> int | None:
        data = {
            "method": request.method,
            "url": str(request.url),
            "headers": _loggable_headers(request.headers),
            "redactions": redactions,
            **body_fields(request.content),
        }
        return self._record("request", data)

    def _record_response(
        self,
        request_seq: int | None,
        response: httpx2.Response,
        body: bytes,
        ended: str,
        error: str | None,
    ) -> None:
        data: dict[str, Any] = {
            "request_seq": request_seq,
            "status": response.status_code,
            "headers": _loggable_headers(response.headers),
            "ended": ended,
            **body_fields(body),
        }
        if error:
            data["error"] = error
        self._record("response", data)

    def _record(self, kind: str, data: dict[str, Any]) -> int | None:
        if self._audit is None:
            return None
        return self._audit.append(kind, data)["seq"]


class RecordingStream(httpx2.SyncByteStream):
    """A response body that keeps a copy of the bytes read and reports them once, on close.

    ``ended`` is "eof" (read to the end), "closed" (the reader stopped early, as an SSE reader
    does after ``[DONE]``) or "error" (the connection broke; ``error`` says how).
    """

    def __init__(
        self,
        inner: httpx2.SyncByteStream,
        on_close: Callable[[bytes, str, str | None], None],
        limit: int = MAX_RESPONSE_BYTES,
        deadlines: Deadlines | None = None,
    ) -> None:
        self._inner = inner
        self._on_close = on_close
        self._limit = limit
        self._deadlines = deadlines or Deadlines()
        self._received = bytearray()
        self._ended = "closed"
        self._error: str | None = None
        self._reported = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._received += chunk
                if len(self._received) > self._limit:
                    raise ResponseTooLarge(
                        f"the response passed {self._limit} bytes without ending"
                    )
                self._deadlines.check()  # keep-alive bytes arrive in time, and still count
                yield chunk
        except Exception as exc:
            passed = self._deadlines.passed_by(exc)
            self._ended, self._error = "error", _describe(passed or exc)
            if passed is not None and passed is not exc:
                raise passed from exc
            raise
        self._ended = "eof"

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if not self._reported:
                self._reported = True
                self._on_close(bytes(self._received), self._ended, self._error)


def make_http_client(
    endpoint: str,
    audit: AuditLog | None,
    timeout: float,
    redact: BodyRedactor = no_redaction,
    deadlines: Deadlines | None = None,
) -> httpx2.Client:
    """The HTTP client a model provider must use: one endpoint, audited, no redirects; each
    request bounded by deadlines when the provider arms them."""
    return httpx2.Client(
        transport=EgressTransport(endpoint, audit, redact, deadlines),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,  # no proxies or .netrc credentials picked up from the environment
        # Uncompressed replies, so the audit log holds readable text rather than gzip bytes.
        headers={"Accept-Encoding": "identity"},
    )


def _loggable_headers(headers: httpx2.Headers) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name, value in headers.multi_items():
        value = HIDDEN if name.lower() in SECRET_HEADERS else value
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    return shown


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# A model list is a few kB; a port that answers with something else must not fill memory.
MAX_PROBE_BYTES = 1024 * 1024


def probe_models(origin: str, timeout: float) -> list[str]:
    """The model ids a local OpenAI-compatible server at `origin` lists (GET /v1/models).

    Only for loopback (http://127.0.0.1:PORT): first-run discovery asks what is serving on
    this machine. Nothing of the person's is sent, so there is no audit record; any failure
    (nothing listening, not that kind of server, a slow answer) is simply no models.
    """
    target = Destination.of_endpoint(origin)
    if (target.scheme, target.host) != ("http", "127.0.0.1"):
        raise EgressRefused(f"Refused to probe {target}: only http://127.0.0.1 is probed.")
    client = httpx2.Client(
        transport=httpx2.HTTPTransport(proxy=None),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
    # Each wait is bounded by `timeout`; this bounds a server trickling its answer.
    give_up = time.monotonic() + 3 * timeout
    try:
        with client, client.stream("GET", f"{target}/v1/models") as response:
            if response.status_code != 200:
                return []
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_PROBE_BYTES or time.monotonic() > give_up:
                    return []
    except TRANSPORT_ERRORS:
        return []
    return _model_ids(bytes(body))


def _model_ids(body: bytes) -> list[str]:
    try:
        data = json.loads(body)
    except ValueError:
        return []
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    ids = [e.get("id") for e in entries if isinstance(e, dict)]
    return [i for i in ids if isinstance(i, str) and i.strip()]
