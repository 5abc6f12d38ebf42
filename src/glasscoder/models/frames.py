"""Length-prefixed JSON frames on a pipe: how the session and its model worker talk.

Each frame is a 4-byte big-endian length, then that many bytes of ASCII JSON (a lone surrogate
in a prompt travels escaped instead of failing to encode). Pipes only: nothing here can reach a
network.
"""

from __future__ import annotations

import json
import os
import select
import struct
from typing import Any

_HEADER = struct.Struct("!I")


def send(fd: int, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode("ascii")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def receive(fd: int) -> dict[str, Any]:
    """The next frame; EOFError when the other end closed the pipe."""
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size))
    message: dict[str, Any] = json.loads(_read_exactly(fd, size))
    return message


def waiting(fd: int) -> bool:
    """A frame (or the end of the pipe) can be read now, without blocking."""
    return bool(select.select([fd], [], [], 0)[0])


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
