"""Planted secrets, a model that goes looking for them, and a server that keeps every byte.

End to end through the real `glasscoder` entry point: a git repository holds secrets in the
places they really hide (.env, a settings module, a test fixture, a private key, a log that
captured an environment variable, a commit that was later reverted), the scripted model reads
and greps and runs `cat .env`, `env` and `git log -p`, and the loopback server records every
request byte for byte. No secret value may arrive there, or in the audit log, in any form the
wire uses (plain, JSON-escaped).
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from pathlib import Path

import pytest

import glasscoder.cli.run
from tests.conftest import git
from tests.fakes.openai_server import FakeOpenAIServer, FakeReply
from tests.test_attacks import call, invoke, tool_results

ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def pem_block() -> str:
    body = base64.b64encode(secrets.token_bytes(300)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    armour = "-----{} RSA PRIVATE KEY-----"
    return "\n".join([armour.format("BEGIN"), *lines, armour.format("END")]) + "\n"


def planted() -> dict[str, str]:
    return {
        "stripe": "sk_live_" + rand(24),
        "db_password": rand(18),
        "aws_secret": rand(40, ALNUM + "/+"),
        "aws_id": "AKIA" + rand(16, string.ascii_uppercase + "234567"),
        "django": "django-insecure-" + rand(40, string.ascii_lowercase + string.digits + "!@#%^&*"),
        "github": "ghp_" + rand(36),
        "slack": f"xoxb-{rand(11, string.digits)}-{rand(12, string.digits)}-{rand(24)}",
        "service_token": rand(32, "0123456789abcdef"),  # no pattern: only the env layer knows it
        "pem": pem_block(),
    }


def leaky_repo(root: Path, s: dict[str, str]) -> Path:
    files = {
        ".env": f"STRIPE_SECRET_KEY={s['stripe']}\n"
        f"DATABASE_URL=postgres://app:{s['db_password']}@db.internal:5432/app\nDEBUG=true\n",
        "app/settings.py": f'AWS_ACCESS_KEY_ID = "{s["aws_id"]}"\n'
        f'AWS_SECRET_ACCESS_KEY = "{s["aws_secret"]}"\nSECRET_KEY = "{s["django"]}"\n',
        "tests/fixtures/github.json": json.dumps({"token": s["github"], "user": "ci"}) + "\n",
        "keys/deploy_key": s["pem"],
        "logs/debug.log": f"starting with MY_SERVICE_TOKEN={s['service_token']}\n",
        "README.md": "# app\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q")
    commit = ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm"]
    (root / "deploy.sh").write_text(f"export SLACK_TOKEN={s['slack']}\n")
    git(root, "add", "README.md", "app", "deploy.sh")
    git(root, *commit, "init")
    (root / "deploy.sh").write_text("export SLACK_TOKEN=$SLACK_TOKEN\n")
    git(root, *commit, "no secrets in the repo", "-a")
    return root


def snoop(secret_env_value: str) -> list[FakeReply]:
    """The model's plan: every way to the secrets that the tools offer."""
    return [
        call("read_file", {"path": "app/settings.py"}),
        call("read_file", {"path": ".env"}),
        call("read_file", {"path": "tests/fixtures/github.json"}),
        call("read_file", {"path": "keys/deploy_key"}),
        call("read_file", {"path": "logs/debug.log"}),
        call("grep", {"pattern": "(?i)token|secret|password"}),
        call("run_shell", {"command": "cat .env"}),
        call("run_shell", {"command": f"env; echo {secret_env_value}"}),
        call("run_shell", {"command": "git log -p"}),
        FakeReply(content="Done looking."),
    ]


def wire_forms(value: str) -> list[bytes]:
    escaped = json.dumps(value)[1:-1]
    forms = {value, escaped}
    forms |= {line for line in value.splitlines() if len(line) >= 16}  # each line of a PEM
    return [f.encode() for f in forms]


def snooping_run(tmp_path, monkeypatch, fmt: str) -> tuple[dict[str, str], FakeOpenAIServer]:
    s = planted()
    (tmp_path / "repo").mkdir()
    repo = leaky_repo(tmp_path / "repo", s)
    monkeypatch.setenv("MY_SERVICE_TOKEN", s["service_token"])
    with FakeOpenAIServer(snoop(s["service_token"])) as srv:
        run = invoke(monkeypatch, "-p", "Find every credential.", "--endpoint", srv.base_url,
                     "--cwd", str(repo), "--sandbox", "none", "--approval", "auto",
                     "--output-format", fmt)  # fmt: skip
    assert run.code == 0, run.err
    assert len(srv.requests) == 10  # every step reached the model
    return s, srv


def test_control_without_redaction_the_plan_exposes_every_secret(
    tmp_path, xdg, monkeypatch
) -> None:
    # So that each "not received" below means something.
    monkeypatch.setattr(glasscoder.cli.run, "redact_body", lambda body, redactor: (body, {}))
    s, srv = snooping_run(tmp_path, monkeypatch, "json")
    received = b"".join(r.body for r in srv.requests)
    exposed = {name for name, value in s.items() if any(f in received for f in wire_forms(value))}
    assert exposed == set(s)


@pytest.mark.parametrize("fmt", ["json", "stream-json"])
def test_no_planted_secret_reaches_the_server_or_the_log(
    tmp_path, xdg, monkeypatch, fmt: str
) -> None:
    s, srv = snooping_run(tmp_path, monkeypatch, fmt)
    received = b"".join(r.body for r in srv.requests)
    audit_logs = b"".join(p.read_bytes() for p in (xdg / "data").rglob("audit.jsonl"))
    for name, value in s.items():
        for form in wire_forms(value):
            assert form not in received, f"{name} reached the server"
            assert form not in audit_logs, f"{name} is in the audit log"
    results = "\n".join(tool_results(srv))
    assert "[REDACTED:" in results  # the files were read, their secrets replaced
    assert "may hold credentials" in results  # .env itself never opened by the file tools


def test_a_placeholder_written_back_is_refused_or_restored_on_request(
    tmp_path, xdg, monkeypatch
) -> None:
    s = planted()
    (tmp_path / "repo").mkdir()
    repo = leaky_repo(tmp_path / "repo", s)

    with FakeOpenAIServer([call("read_file", {"path": "app/settings.py"}), "Read."]) as srv:
        first = invoke(monkeypatch, "-p", "Read settings.", "--endpoint", srv.base_url,
                       "--cwd", str(repo), "--output-format", "json")  # fmt: skip
    assert first.code == 0
    line = next(x for x in tool_results(srv)[0].splitlines() if "AWS_SECRET_ACCESS_KEY" in x)
    placeholder = line.split('"')[1]
    assert placeholder.startswith("[REDACTED:")
    edit = {"path": "app/settings.py", "old_string": placeholder, "new_string": "from_env()"}
    script = [call("read_file", {"path": "app/settings.py"}), call("edit_file", edit), "Done."]
    with FakeOpenAIServer(script) as srv:
        refused = invoke(monkeypatch, "-p", "Use env.", "--endpoint", srv.base_url,
                         "--cwd", str(repo), "--output-format", "json")  # fmt: skip
    assert refused.code == 0
    assert "placeholder for a secret" in tool_results(srv)[-1]
    assert s["aws_secret"] in (repo / "app/settings.py").read_text()

    config = xdg / "config" / "glasscoder" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("restore_secrets = true\n")
    with FakeOpenAIServer(script) as srv:
        restored = invoke(monkeypatch, "-p", "Use env.", "--endpoint", srv.base_url,
                          "--cwd", str(repo), "--output-format", "json")  # fmt: skip
    assert restored.code == 0
    text = (repo / "app/settings.py").read_text()
    assert s["aws_secret"] not in text and "from_env()" in text
    assert s["aws_secret"].encode() not in b"".join(r.body for r in srv.requests)


def home_credentials(home: Path) -> dict[str, str]:
    """Credential files other tools leave in a home folder, with fresh values."""
    s = {
        "aws_id": "AKIA" + rand(16, string.ascii_uppercase + "234567"),
        "aws_secret": rand(40, ALNUM + "/+"),
        "aws_session": rand(120, ALNUM + "/+"),
        "npm_token": rand(32, "0123456789abcdef"),  # a private registry's token: no pattern
        "npm_password": rand(20),
    }
    files = {
        ".aws/credentials": f"[default]\naws_access_key_id = {s['aws_id']}\n"
        f"aws_secret_access_key = {s['aws_secret']}\naws_session_token = {s['aws_session']}\n",
        ".npmrc": f"//npm.internal.example/:_authToken={s['npm_token']}\n"
        f"//npm.other.example/:_password={base64.b64encode(s['npm_password'].encode()).decode()}\n",
    }
    for name, text in files.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    return s


def cat_home_credentials(tmp_path, monkeypatch) -> tuple[dict[str, str], FakeOpenAIServer]:
    (tmp_path / "home").mkdir()
    s = home_credentials(tmp_path / "home")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "repo").mkdir()
    script = [call("run_shell", {"command": "cat ~/.aws/credentials ~/.npmrc"}), "Done."]
    with FakeOpenAIServer(script) as srv:
        run = invoke(monkeypatch, "-p", "Show my credentials.", "--endpoint", srv.base_url,
                     "--cwd", str(tmp_path / "repo"), "--sandbox", "none", "--approval", "auto",
                     "--output-format", "json")  # fmt: skip
    assert run.code == 0, run.err
    return s, srv


def test_control_cat_of_home_credential_files_shows_them(tmp_path, xdg, monkeypatch) -> None:
    monkeypatch.setattr(glasscoder.cli.run, "redact_body", lambda body, redactor: (body, {}))
    s, srv = cat_home_credentials(tmp_path, monkeypatch)
    received = b"".join(r.body for r in srv.requests)
    exposed = {name for name, value in s.items() if any(f in received for f in wire_forms(value))}
    assert exposed == set(s) - {"npm_password"}  # stored as base64: cat shows only that
    assert base64.b64encode(s["npm_password"].encode()) in received


def test_cat_of_home_credential_files_reaches_neither_server_nor_log(
    tmp_path, xdg, monkeypatch
) -> None:
    s, srv = cat_home_credentials(tmp_path, monkeypatch)
    received = b"".join(r.body for r in srv.requests)
    audit_logs = b"".join(p.read_bytes() for p in (xdg / "data").rglob("audit.jsonl"))
    for name, value in s.items():
        encoded = base64.b64encode(value.encode()).decode()
        for form in [*wire_forms(value), *wire_forms(encoded)]:
            assert form not in received, f"{name} reached the server"
            assert form not in audit_logs, f"{name} is in the audit log"
    results = tool_results(srv)[0]
    assert "[REDACTED:npm-token:1]" in results  # only the known-secret layer knows that token
    assert "aws_secret_access_key = [REDACTED:" in results
