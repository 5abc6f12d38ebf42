"""Secret redaction: text in, the same text with each secret replaced by a stable placeholder.

Three layers find secrets, and all their findings are merged (overlaps joined, the longest
finding naming the kind), so a value is always hidden whole:

1. exact known values (``KnownSecret``, see ``known_secrets.py``) and their cheap encodings:
   URL-encoded, JSON-escaped and base64;
2. a maintained scanning library (``secret_scan.py``), unless ``use_library=False``;
3. glasscoder's own rules (``secret_rules.py``).

A secret becomes ``[REDACTED:<kind>:<n>]``, numbered per kind by first appearance, and the same
text always the same placeholder for the life of the ``Redactor``, so redacting a history again
gives the same bytes. Results are cached per input string: the whole history is sent every turn.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from glasscoder.guard import secret_rules
from glasscoder.guard.secret_rules import Span
from glasscoder.guard.secret_scan import LibraryScanner

PLACEHOLDER: re.Pattern[str] = re.compile(r"\[REDACTED:[a-z0-9][a-z0-9-]*:[0-9]+\]")
_KIND_UNSAFE = re.compile(r"[^a-z0-9-]+")
# How much input text the result cache keeps (in characters), most recently used first.
CACHE_CHARS = 64 * 1024 * 1024
# Known values shorter than this are left alone: they recur by chance in ordinary text
# ("admin", "1234567") and hiding every occurrence would garble code without protecting much.
MIN_KNOWN_LEN = 8
# Values that secret-looking variables often hold but that are everywhere in source code.
_COMMON_VALUES = frozenset(
    {"localhost", "127.0.0.1", "0.0.0.0", "true", "false", "none", "null", "undefined",
     "password", "changeme", "development", "production", "staging", "postgres", "disabled",
     "enabled", "default", "example", "anonymous", "application/json"}
)  # fmt: skip


@dataclass(frozen=True)
class KnownSecret:
    value: str
    kind: str  # e.g. "env-secret", "dotenv-secret", "netrc-password", "git-credential"
    source: str  # where it came from, for messages; never the value


def worth_redacting(value: str) -> bool:
    """The rule for exact known values: long enough, not all digits, not a common word,
    and not so repetitive ("aaaaaaaa", "12121212") that it would match by chance."""
    return (
        len(value) >= MIN_KNOWN_LEN
        and not value.isdigit()
        and value.lower() not in _COMMON_VALUES
        and len(set(value)) >= 4
    )


def _encodings(value: str) -> Iterator[str]:
    """The value as it may appear in a request body or a file."""
    yield value
    yield quote(value, safe="")
    yield json.dumps(value)[1:-1]  # JSON-escaped, as in a request body
    yield json.dumps(json.dumps(value)[1:-1])[1:-1]  # twice: JSON inside a JSON string
    yield base64.b64encode(value.encode()).decode().rstrip("=")


def _kind_of(placeholder: str) -> str:
    return placeholder[len("[REDACTED:") :].rsplit(":", 1)[0]


class _KnownMatcher:
    """One regular expression over every encoding of every known value, longest first."""

    def __init__(self, known: Iterable[KnownSecret]) -> None:
        self.kinds: dict[str, str] = {}
        for secret in known:
            if worth_redacting(secret.value):
                for form in _encodings(secret.value):
                    self.kinds.setdefault(form, secret.kind)
        forms = sorted(self.kinds, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    def find(self, text: str) -> Iterator[Span]:
        if self.pattern is not None:
            for match in self.pattern.finditer(text):
                yield Span(match.start(), match.end(), self.kinds[match.group()])


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping spans joined into one; the joined span takes the kind of its longest part."""
    merged: list[Span] = []
    longest = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            kind = span.kind if span.end - span.start > longest else last.kind
            longest = max(longest, span.end - span.start)
            merged[-1] = Span(last.start, max(last.end, span.end), kind)
        else:
            merged.append(span)
            longest = span.end - span.start
    return merged


class Redactor:
    """Thread-safe: the HTTP transport may call it from several threads."""

    def __init__(self, known: Iterable[KnownSecret] = (), *, use_library: bool = True) -> None:
        self._known = _KnownMatcher(known)
        self._library = LibraryScanner() if use_library else None
        self._lock = threading.Lock()
        self._placeholders: dict[str, str] = {}  # secret text -> placeholder
        self._values: dict[str, str] = {}  # placeholder -> secret text
        self._numbers: Counter[str] = Counter()  # kind -> placeholders issued
        self._cache: OrderedDict[str, tuple[str, Counter[str], int]] = OrderedDict()
        self._cache_chars = 0
        # Every value replaced so far, matched exactly from then on: once a rule has seen a
        # password beside its name, renaming the variable must not bring it back into view.
        self._seen = _KnownMatcher(())
        self._seen_size = 0  # len(self._placeholders) when _seen was built

    @property
    def degraded(self) -> str | None:
        if self._library is None:
            return "the scanning library is switched off"
        return self._library.degraded

    def warm(self) -> None:
        if self._library is not None:
            self._library.warm()

    def redact(self, text: str) -> tuple[str, Counter[str]]:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None and hit[2] == len(self._placeholders):
                self._cache.move_to_end(text)
                return hit[0], Counter(hit[1])
            seen, issued = self._seen_matcher(), set(self._values)
        if hit is not None:  # cached before the latest values were learned: look for those
            with self._lock:
                out, counts = self._replace(hit[0], merge(seen.find(hit[0])))
                counts.update(hit[1])
                self._remember(text, out, counts)
            return out, Counter(counts)
        spans = merge(self._find(text, seen, issued))  # the slow part, outside the lock
        with self._lock:
            out, counts = self._replace(text, spans)
            self._remember(text, out, counts)
        return out, Counter(counts)

    def restore(self, text: str) -> str:
        with self._lock:
            values = dict(self._values)
        return PLACEHOLDER.sub(lambda m: values.get(m.group(), m.group()), text)

    def issued(self, text: str) -> list[str]:
        with self._lock:
            return [m.group() for m in PLACEHOLDER.finditer(text) if m.group() in self._values]

    def _find(self, text: str, seen: _KnownMatcher, issued: set[str]) -> Iterator[Span]:
        # Placeholders this redactor issued are never re-redacted. Text that only looks like
        # one ("[REDACTED:" + a hex token + ":1]", written there to hide the token) is not
        # exempt: what it wraps is redacted like anything else.
        marks = []
        if "[REDACTED:" in text:
            marks = [m.span() for m in PLACEHOLDER.finditer(text) if m.group() in issued]
        library = self._library.scan(text) if self._library is not None else ()
        # The library's generic rules take "changeme" or "user:password@" for secrets.
        library = (s for s in library if not secret_rules.is_placeholder(text[s.start : s.end]))
        found = (*self._known.find(text), *seen.find(text), *secret_rules.find(text), *library)
        for span in found:
            if not any(a <= span.start and span.end <= b for a, b in marks):
                yield span

    def _seen_matcher(self) -> _KnownMatcher:
        """Under the lock: a matcher for every value replaced so far, rebuilt when it grew."""
        if self._seen_size != len(self._placeholders):
            seen = [KnownSecret(value, _kind_of(placeholder), "seen earlier in this session")
                    for value, placeholder in self._placeholders.items()]  # fmt: skip
            self._seen, self._seen_size = _KnownMatcher(seen), len(self._placeholders)
        return self._seen

    def _replace(self, text: str, spans: list[Span]) -> tuple[str, Counter[str]]:
        parts: list[str] = []
        counts: Counter[str] = Counter()
        at = 0
        for span in spans:
            parts += [text[at : span.start], self._placeholder(text[span.start : span.end], span)]
            counts[span.kind] += 1
            at = span.end
        parts.append(text[at:])
        return "".join(parts), counts

    def _placeholder(self, value: str, span: Span) -> str:
        placeholder = self._placeholders.get(value)
        if placeholder is None:
            kind = _KIND_UNSAFE.sub("-", span.kind.lower()).strip("-") or "secret"
            self._numbers[kind] += 1
            placeholder = f"[REDACTED:{kind}:{self._numbers[kind]}]"
            self._placeholders[value] = placeholder
            self._values[placeholder] = value
        return placeholder

    def _remember(self, text: str, out: str, counts: Counter[str]) -> None:
        if len(text) > CACHE_CHARS // 4:
            return
        # Valid while no new value is learned; after that the text is looked at again, since
        # a value first met elsewhere may be in it too.
        if self._cache.pop(text, None) is not None:
            self._cache_chars -= len(text)
        self._cache[text] = (out, counts, len(self._placeholders))
        self._cache_chars += len(text)
        while self._cache_chars > CACHE_CHARS:
            old, _ = self._cache.popitem(last=False)
            self._cache_chars -= len(old)
