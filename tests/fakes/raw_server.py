"""A real HTTP server on 127.0.0.1 that answers every POST with the same raw bytes.

For what FakeOpenAIServer cannot say: bodies that are not JSON, fields of the wrong type,
streams that never end::

    with RawServer(b'{"choices": 5}') as srv:                # Content-Type: application/json
    with RawServer(events=[b'{"choices": []}'], repeat=True) as srv:   # SSE, forever
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer


class RawServer(LoopbackServer):
    def __init__(
        self,
        body: bytes = b"",
        content_type: str = "application/json",
        events: list[bytes] | None = None,  # SSE `data:` payloads; the body is then ignored
        repeat: bool = False,  # send the events again and again until the client hangs up
    ) -> None:
        self.body, self.content_type, self.events, self.repeat = body, content_type, events, repeat
        self.requests = 0
        super().__init__()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw: RawServer = self.server.owner  # type: ignore[attr-defined]
        raw.requests += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if raw.events is None:
                self._send_body(raw)
            else:
                self._send_events(raw)
        except OSError:  # the client hung up, as it should on an endless stream
            self.close_connection = True

    def _send_body(self, raw: RawServer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", raw.content_type)
        self.send_header("Content-Length", str(len(raw.body)))
        self.end_headers()
        self.wfile.write(raw.body)

    def _send_events(self, raw: RawServer) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while True:
            for event in raw.events or []:
                data = b"data: " + event + b"\n\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            if not raw.repeat:
                break
        self.wfile.write(b"0\r\n\r\n")


RawServer.handler = _Handler
