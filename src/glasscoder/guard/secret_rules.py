"""glasscoder's own secret rules: what a scanning library tends to miss.

Four families, each a regular expression whose group ``secret`` is the part to hide:
private key blocks (whole, also when JSON-escaped or cut off), passwords inside connection
strings and URLs, model-provider API keys, and generic ``password = "..."`` style assignments.
The library layer (``secret_scan.py``) covers the long tail of vendor formats; these rules must
hold even when it is missing.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple
from urllib.parse import unquote


class Span(NamedTuple):
    """A secret found at ``text[start:end]``."""

    start: int
    end: int
    kind: str


class Rule(NamedTuple):
    kind: str
    pattern: re.Pattern[str]
    # What the found value must also pass: "format" (a vendor format: not a stand-in such as
    # "sk-xxxx"), "url" (a URL password: not "password"), "credential" (generic rules see many
    # harmless look-alikes, so the value must look like a credential), or "" for nothing.
    check: str = ""
    # Speed: a case-blind pattern runs only on the lines holding one of these lowercase words.
    keywords: tuple[str, ...] = ()


# The armour of a key: base64, line breaks raw or escaped in a JSON / Python string
# ("\\n", "\\\\n"), and "Proc-Type: 4,ENCRYPTED" style headers.
_ARMOUR = r"[A-Za-z0-9+/=:,\s\\-]"
_PRIVATE_KEY = re.compile(
    r"(?P<secret>-----BEGIN (?P<label>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----"
    # The body up to the matching END line; when it is cut off, up to where the armour stops.
    # A bare BEGIN line with no body is a mention in docs or code, not a key.
    rf"(?:{_ARMOUR}*?-----END (?P=label)-----|{_ARMOUR}{{40,}}))"
)
# scheme://user:password@host - the password only, so the host stays readable.
_URL_PASSWORD = re.compile(
    r"[a-zA-Z][a-zA-Z0-9+.-]{1,30}://[^\s:/@\"'<>]{0,100}:(?P<secret>[^\s@/\"'<>]{1,200})@"
    r"[A-Za-z0-9.\[\]_-]"
)
# ADO.NET / JDBC / Azure style "Key=value;" connection strings.
_CONN_STRING_PASSWORD = re.compile(
    r"(?i)(?:^|[;?&\s\"'])(?:password|pwd|accountkey|sharedaccesskey|access_token)"
    r"=(?P<secret>[^;&\s\"'<>()]{4,})(?=[;&\s\"'<>]|$)"
)
# The secret word ends the name or a part of it: "db_password", "api_key_v2", not "tokenizer".
_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secrets?|token|api[_-]?key|apikey"
    r"|access[_-]?key|auth[_-]?key|private[_-]?key|credentials?)(?:[_.-][A-Za-z0-9_.-]*)?"
)
_NAME_WORDS = ("pass", "secret", "token", "key", "credential")
# name = "value", name: 'value', "name": "value", name := "value", name => "value"; also
# inside a JSON string, where the quotes are escaped (name = \"value\"), or a JSON string
# inside that (tool call arguments in a request body: name = \\\"value\\\").
_GENERIC_QUOTED = re.compile(
    rf"(?i)(?<![A-Za-z0-9_.-])(?<!::)(?P<name>{_SECRET_NAME})(?:\\{{0,7}}[\"'])?\s*(?::=|=>|[:=])\s*"
    r"(?P<q>\\{0,7}[\"'])(?P<secret>[^\"'\s\\]{6,300})(?P=q)"
)
# NAME=value in env files, shell and YAML, unquoted; the value must end the line. A line may
# also start and end with an escaped "\n", as in a file's content inside a JSON body.
_GENERIC_BARE = re.compile(
    r"(?im)(?:^|(?<=\\n)|(?<=\"))[ \t]*(?:export[ \t]+|-[ \t]+)?"
    rf"(?P<name>{_SECRET_NAME})[ \t]*[:=][ \t]*"
    r"(?P<secret>[A-Za-z0-9+/=_.~!@#%^&*-]{8,2000})[ \t]*(?:#[^\n]*?)?(?:\r?$|(?=\\+[rn]))"
)
_AUTH_HEADER = re.compile(
    r"(?i)\b(?:bearer|basic|token)[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{20,}=*)"
    r"(?![A-Za-z0-9._~+/=-])"
)
# A vendor token ends where its alphabet does; that it also starts at such a border is
# checked in code (``_at_border``), since a look-behind would cost the fast literal search.
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "_-")


def _provider(kind: str, body: str) -> Rule:
    return Rule(kind, re.compile(rf"(?P<secret>{body})(?![A-Za-z0-9_-])"), "format")


RULES: tuple[Rule, ...] = (
    Rule("private-key", _PRIVATE_KEY),
    Rule("url-password", _URL_PASSWORD, "url", ("://",)),
    Rule("connection-string-password", _CONN_STRING_PASSWORD, "credential",
         ("password", "pwd", "accountkey", "sharedaccesskey", "access_token")),
    # A few common vendor formats, so the redactor still covers them without the library.
    _provider("aws-access-key-id", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}"),
    _provider("github-token", r"gh[pousr]_[A-Za-z0-9]{36}"),
    _provider("github-token", r"github_pat_[A-Za-z0-9_]{82}"),
    _provider("slack-token", r"xox[abposr]-(?:[0-9]+-)+[A-Za-z0-9]{20,}"),
    _provider("stripe-key", r"sk_live_[A-Za-z0-9]{20,}"),
    _provider("stripe-key", r"rk_live_[A-Za-z0-9]{20,}"),
    _provider("npm-token", r"npm_[A-Za-z0-9]{36}"),
    # Model providers: the keys an agent's own configuration is most likely to hold.
    _provider("openai-api-key", r"sk-[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"),
    _provider("openai-api-key", r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}"),
    _provider("anthropic-api-key", r"sk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_-]{80,}"),
    _provider("openrouter-api-key", r"sk-or-v1-[a-f0-9]{64}"),
    _provider("llm-api-key", r"sk-[A-Za-z0-9]{32,64}"),
    _provider("groq-api-key", r"gsk_[A-Za-z0-9]{52}"),
    _provider("huggingface-token", r"hf_[A-Za-z0-9]{34}"),
    _provider("huggingface-token", r"api_org_[A-Za-z0-9]{34}"),
    _provider("google-api-key", r"AIza[0-9A-Za-z_-]{35}"),
    _provider("replicate-api-token", r"r8_[A-Za-z0-9]{37}"),
    _provider("perplexity-api-key", r"pplx-[A-Za-z0-9]{48}"),
    _provider("xai-api-key", r"xai-[A-Za-z0-9]{80}"),
    _provider("together-api-key", r"tgp_v1_[A-Za-z0-9_-]{43}"),
    _provider("fireworks-api-key", r"fw_[A-Za-z0-9]{24}"),
    Rule("auth-header", _AUTH_HEADER, "credential", ("bearer", "basic", "token")),
    Rule("generic-secret", _GENERIC_QUOTED, "credential", _NAME_WORDS),
    Rule("generic-secret", _GENERIC_BARE, "credential", _NAME_WORDS),
)  # fmt: skip

# Values that stand in for a secret in docs, tests and templates: not secrets themselves.
_PLACEHOLDER_WORDS = frozenset(
    {"password", "passwd", "pass", "secret", "token", "changeme", "changeit", "example",
     "test", "testing", "dummy", "sample", "default", "admin", "root", "user", "username",
     "none", "null", "nil", "true", "false", "undefined", "required", "optional", "hidden",
     "redacted", "removed", "placeholder", "notasecret", "mysecretpassword", "yourpassword"}
)  # fmt: skip
_PLACEHOLDER_MARKS = re.compile(
    r"(?i)^\$[A-Za-z_]|^<.*>$|^\[.*\]$|\.{3}|"  # "eyJhbGci...": shortened in docs
    r"example|your[_-]|placeholder|changeme|redacted|dummy|fake|sample|<[a-z_-]+>|^env[:.]|…|"
    # The stock examples of docs and tutorials: "password1", "secret123", "admin1234".
    r"^(?:password|passw0rd|passwd|pass|secret|test|admin|changeme|qwerty|letmein)\d{0,4}!?$"
)
# Template and masking marks ("${DB_PASS}", "%s", "****"). A random key drawn from an alphabet
# with symbols holds such a pair by chance ("...m%d#wz..."), so these only count when what is
# left without them is not itself random enough to be a key.
_TEMPLATE_MARKS = re.compile(
    r"\$\{|\{\{|\$\(|%\(|%[sd]\b|(?i:x{5,})|\*{3,}|_{3,}|\{[A-Za-z_][\w.]*\}"
)
# a.b.c dotted names and call-free identifiers are code, not credentials.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:[.-][A-Za-z_][A-Za-z0-9_]*)*$")
# An expression, as in "password=auth[1]," or "token = Annotated[": it starts or ends with a
# bracket or ends with a comma, colon or semicolon (a random key may hold brackets inside, as
# Django's do); or a string literal's escape ("secret\\n").
_CODE_MARKS = re.compile(r"^[()\[\]{}]|[()\[\]{},:;]$|\\")
_UUID = re.compile(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The last part of a name that holds something about a secret rather than the secret.
POINTER_PARTS = frozenset(
    {"path", "file", "dir", "url", "uri", "type", "name", "id", "env", "count", "size", "len",
     "length", "field", "prefix", "header", "param", "var", "ttl", "expiry", "expires"}
)  # fmt: skip


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def is_placeholder(value: str) -> bool:
    bare = value.strip("\"'`")
    if bare.lower() in _PLACEHOLDER_WORDS or len(set(bare)) <= 2:
        return True
    if _PLACEHOLDER_MARKS.search(bare) is not None:
        return True
    return _TEMPLATE_MARKS.search(bare) is not None and not _random(_TEMPLATE_MARKS.sub("", bare))


def _random(rest: str) -> bool:
    """Long, mixed and high in entropy: a key, whatever marks it happens to contain."""
    return (
        len(rest) >= 24
        and entropy(rest) >= 4.0
        and any(c.isdigit() for c in rest)
        and any(c.isalpha() for c in rest)
    )


def looks_like_credential(value: str, *, min_len: int = 8) -> bool:
    """A literal that plausibly is a password or key: long enough, varied, not a stand-in,
    not prose and not code."""
    if len(value) < min_len or is_placeholder(value) or value.isdigit():
        return False
    if any(c.isspace() for c in value) or _CODE_MARKS.search(value) or _UUID.match(value):
        return False  # prose, code, and ids (a UUID named "client_id" or "token" is rarely secret)
    if _IDENTIFIER.match(value) and _code_name(value):
        return False
    if not any(c.isdigit() for c in value) and (len(value) < 16 or entropy(value) < 3.5):
        return False  # "#ansibrightblue", "correct-horse": words; keys and passwords mix in digits
    return entropy(value) >= 2.5


def _code_name(value: str) -> bool:
    """settings.DB_PASSWORD, get_token, ctypes.c_int32: names in code. A token with dots
    ("hvs.CAES...") has a long random part; a name's parts are short or digit-free."""
    if not any(c.isdigit() for c in value):
        return not _random_case(value)
    return "." in value and max(len(p) for p in value.split(".")) <= 16


def _random_case(value: str) -> bool:
    """A long run of letters in random case ("SWUuNuCmNvAPviUr..."), as a key without digits
    can be; camelCase names keep far fewer capitals."""
    letters = [c for c in value if c.isalpha()]
    if len(value) < 20 or len(letters) < len(value) - 2:
        return False
    upper = sum(c.isupper() for c in letters) / len(letters)
    return 0.3 <= upper <= 0.7


def is_pointer_name(name: str) -> bool:
    """Whether a secret-sounding name holds something about a secret ("TOKEN_TYPE",
    "SSH_KEY_PATH") or a public value ("publicKeyToken")."""
    parts = [p for p in re.split(r"[_.\-]+|(?<=[a-z])(?=[A-Z])", name) if p]
    return not parts or parts[-1].lower() in POINTER_PARTS or "public" in name.lower()


def _url_password_ok(value: str) -> bool:
    """A URL password is a secret even when short, but not "user:password@" or
    "user:pwd@" in docs, nor "org:repo@sha" in fsspec-style URLs."""
    value = unquote(value)
    if len(value) < 3 or is_placeholder(value) or _CODE_MARKS.search(value):
        return False
    if any(c.isspace() for c in value):
        return False
    if value.isalpha():
        return len(value) >= 6 and not _SECRET_WORD.search(value)
    return True


_SECRET_WORD = re.compile(r"(?i)pass|pwd|secret|token|key")


def _value_ok(rule: Rule, match: re.Match[str]) -> bool:
    value = match.group("secret")
    if rule.check == "format":
        return not is_placeholder(value)
    if rule.check == "url":
        return _url_password_ok(value)
    if rule.check == "credential":
        name = match.groupdict().get("name") or ""
        if name and (is_pointer_name(name) or value.rsplit(".", 1)[-1] == name):
            return False  # TOKEN_TYPE = ..., X509PrivateKey = openssl.X509PrivateKey
        return looks_like_credential(value)
    return True


def find(text: str) -> Iterator[Span]:
    """Every span of ``text`` that one of glasscoder's own rules calls a secret."""
    lowered = _ascii_lower(text)
    for rule in RULES:
        if rule.keywords:
            matches = _on_lines_with(rule, text, lowered)
        else:
            matches = (m for m in rule.pattern.finditer(text) if _at_border(rule, text, m))
        for match in matches:
            start, end = match.span("secret")
            if end > start and _value_ok(rule, match):
                yield Span(start, end, rule.kind)


def _ascii_lower(text: str) -> str:
    """``text`` lowercased with every offset kept (str.lower lengthens a few letters, e.g. "İ")."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _on_lines_with(rule: Rule, text: str, lowered: str) -> Iterator[re.Match[str]]:
    """The rule's matches on the lines that hold one of its keywords, each line once."""
    starts: set[int] = set()
    for word in rule.keywords:
        at = lowered.find(word)
        while at >= 0:
            line = text.rfind("\n", 0, at) + 1
            starts.add(line)
            end = text.find("\n", at)
            at = lowered.find(word, len(text) if end < 0 else end)
    for line in sorted(starts):
        end = text.find("\n", line)
        yield from rule.pattern.finditer(text, line, len(text) if end < 0 else end + 1)


def _at_border(rule: Rule, text: str, match: re.Match[str]) -> bool:
    start = match.start("secret")
    return rule.check != "format" or start == 0 or text[start - 1] not in _TOKEN_CHARS
