"""A fake Hugging Face hub: a real HTTP server on 127.0.0.1 serving one file the test provides.

It answers what `models pull` sends through huggingface_hub (read from huggingface_hub 2.4.0's
file_download.py): ``HEAD /{repo}/resolve/{revision}/{file}``, which must carry ``X-Repo-Commit``
and an ``ETag`` (``X-Linked-Etag`` / ``X-Linked-Size`` for LFS files), then ``GET`` of the same
URL, with ``Range: bytes=N-`` when resuming (answered 206 with ``Content-Range``)::

    with FakeHub("org/tiny", "tiny.gguf", data) as hub:       # hub.url for HF_ENDPOINT
        hub.cut_after = 1000    # the next GET sends 1000 bytes, then drops the connection
        hub.down = True         # every request after that cut answers 500
        hub.requests            # [(method, path, headers), ...]

Like the real hub, it can answer the file's URL with a 302 to a CDN host: ``FakeHub(...,
cdn=True)`` starts a second server on another port (``hub.cdn``) that serves the bytes, and the
hub then only answers HEAD and GET with the redirect (carrying ``X-Linked-*`` and the commit).
``cut_after`` and ``down`` then act on the CDN's GETs, which ``hub.cdn.requests`` records.
"""

from __future__ import annotations

import hashlib
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from tests.fakes.loopback import LoopbackServer

COMMIT = "c0ffee" + "0" * 34


class FakeHub(LoopbackServer):
    def __init__(self, repo: str, filename: str, data: bytes, revision: str = "main",
                 cdn: bool = False) -> None:  # fmt: skip
        self.repo, self.filename, self.data, self.revision = repo, filename, data, revision
        self.cdn = FakeCDN(self) if cdn else None
        self.advertised_size: int | None = None  # what HEAD claims, to fake a big file
        self.cut_after: int | None = None  # the next GET stops after this many bytes
        self.down_after_cut = False  # after the cut, answer 500 (the hub went away)
        self.down = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        super().__init__()

    @property
    def url(self) -> str:
        return self.origin

    @property
    def path(self) -> str:
        return f"/{self.repo}/resolve/{self.revision}/{self.filename}"

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.data).hexdigest()  # the hub's ETag for an LFS file

    @property
    def blob_path(self) -> str:
        return f"/blobs/{self.etag}"

    def ranges(self) -> list[str | None]:
        """The Range header of every GET of the bytes (at the CDN when there is one), in order."""
        source = self.cdn.requests if self.cdn else self.requests
        return [h.get("range") for m, _, h in source if m == "GET"]

    def __enter__(self) -> Self:
        super().__enter__()
        if self.cdn:
            self.cdn.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.cdn:
            self.cdn.__exit__(*exc)
        super().__exit__(*exc)


class FakeCDN(LoopbackServer):
    """The storage host a hub redirects to: serves the hub's current bytes on its own port."""

    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        super().__init__()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def hub(self) -> FakeHub:
        return self.server.owner  # type: ignore[attr-defined]

    def _record(self, requests: list[tuple[str, str, dict[str, str]]], path: str) -> bool:
        requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.hub.down:
            self._empty(500)
            return False
        if self.path != path:
            self._empty(404, {"X-Error-Code": "EntryNotFound"})
            return False
        return True

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _common(self) -> None:
        hub = self.hub
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hub.etag}"')
        self.send_header("Accept-Ranges", "bytes")

    def do_HEAD(self) -> None:
        hub = self.hub
        if not self._record(hub.requests, hub.path):
            return
        size = hub.advertised_size or len(hub.data)
        self.send_response(302 if hub.cdn else 200)
        self._common()
        self.send_header("X-Linked-Etag", f'"{hub.etag}"')
        self.send_header("X-Linked-Size", str(size))
        if hub.cdn:
            self.send_header("Location", hub.cdn.origin + hub.blob_path)
            self.send_header("Content-Length", "0")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()

    def do_GET(self) -> None:
        hub = self.hub
        if not self._record(hub.requests, hub.path):
            return
        if hub.cdn:
            self._empty(302, {"Location": hub.cdn.origin + hub.blob_path})
            return
        self._send_bytes()

    def _send_bytes(self) -> None:
        hub = self.hub
        start = _range_start(self.headers.get("Range"))
        body = hub.data[start:]
        self.send_response(206 if start else 200)
        self._common()
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(hub.data) - 1}/{len(hub.data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if hub.cut_after is not None:
            self.wfile.write(body[: hub.cut_after])
            self.wfile.flush()
            hub.cut_after = None
            hub.down = hub.down_after_cut
            self.close_connection = True  # the client sees a body shorter than promised
            return
        self.wfile.write(body)


class _CDNHandler(_Handler):
    @property
    def hub(self) -> FakeHub:
        return self.server.owner.hub  # type: ignore[attr-defined]

    def do_HEAD(self) -> None:
        self._empty(405)

    def do_GET(self) -> None:
        hub = self.hub
        assert hub.cdn is not None
        if self._record(hub.cdn.requests, hub.blob_path):
            self._send_bytes()


def _range_start(header: str | None) -> int:
    if not header or not header.startswith("bytes="):
        return 0
    return int(header.removeprefix("bytes=").split("-", 1)[0] or 0)


FakeHub.handler = _Handler
FakeCDN.handler = _CDNHandler
