"""Known secrets from the environment, .env files, ~/.netrc and git credential stores."""

import base64
import os
from pathlib import Path

import pytest

from glasscoder.guard.known_secrets import collect_known_secrets, secret_name
from glasscoder.guard.redact import KnownSecret, Redactor
from tests.helpers import write_files

ENV = {
    "OPENAI_API_KEY": "sk-test-9f8e7d6c5b4a39281706",
    "GH_TOKEN": "tok-Gh7Hq2Lw9Zr4",
    "DB_PASSWORD": "pw-Zt5Kc8Vb1Nm",
    "AWS_SECRET_ACCESS_KEY": "aws-Q1w2E3r4T5y6U7",
    "PATH": "/usr/bin:/bin",
    "PWD": "/home/dev/project",
    "SSH_KEY_PATH": "/home/dev/.ssh/id_ed25519",
    "GITHUB_TOKEN_FILE": "/run/secrets/gh",
    "API_TOKEN": "${VAULT_TOKEN}",
    "EDITOR": "vim",
}


def values(secrets: list[KnownSecret]) -> dict[str, KnownSecret]:
    return {s.value: s for s in secrets}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def test_secret_looking_env_names(workspace: Path, home: Path) -> None:
    found = values(collect_known_secrets(workspace, env=ENV, home=home))
    expected = {"OPENAI_API_KEY", "GH_TOKEN", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY"}
    assert set(found) == {ENV[name] for name in expected}
    assert found[ENV["GH_TOKEN"]] == KnownSecret(ENV["GH_TOKEN"], "env-secret", "env GH_TOKEN")


@pytest.mark.parametrize(
    ("name", "secret"),
    [("OPENAI_API_KEY", True), ("my.secret", True), ("client-credentials", True),
     ("STRIPE_KEY", True), ("PASSPHRASE", True), ("KEYBOARD", False),
     ("TOKENIZERS_PARALLELISM", False),
     ("PWD", False), ("KEY_PATH", False), ("MONKEY", False), ("SSH_AUTH_SOCK", False)],
)  # fmt: skip
def test_secret_name(name: str, secret: bool) -> None:
    assert secret_name(name) is secret


def test_env_defaults_to_the_process_environment(
    workspace: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", "svc-Lk4Jh6Gf8Ds")
    monkeypatch.setenv("HOME", str(home))
    found = values(collect_known_secrets(workspace))
    assert found["svc-Lk4Jh6Gf8Ds"].source == "env MY_SERVICE_TOKEN"


DOTENV = """\
# comment: API_KEY=not-this-one-123456
export STRIPE_SECRET="st-Aa1Bb2Cc3Dd4"
DEBUG=true
PORT=8080
APP_NAME=my-service
SESSION_SIGNING=Zk3nV8qL2pW9xR4tY7uB1mC6
DATABASE_URL=postgres://app:Db-Pw-7Kq2Lm@db:5432/app
MAILER_KEY='ml-Xx9Yy8Zz7Ww6'  # quoted
CACHE_TTL=3600 # seconds
EMPTY_TOKEN=
PLACEHOLDER_TOKEN=your-token-here
"""


def test_dotenv_values_by_key_or_by_look(workspace: Path, home: Path) -> None:
    write_files(workspace, {".env": DOTENV})
    found = values(collect_known_secrets(workspace, env={}, home=home))
    assert set(found) == {
        "st-Aa1Bb2Cc3Dd4",  # the key looks secret
        "Zk3nV8qL2pW9xR4tY7uB1mC6",  # the value looks like a credential
        "Db-Pw-7Kq2Lm",  # the password of a URL
        "ml-Xx9Yy8Zz7Ww6",
    }
    assert found["st-Aa1Bb2Cc3Dd4"].source == ".env line 2"
    assert found["st-Aa1Bb2Cc3Dd4"].kind == "dotenv-secret"


def test_dotenv_files_searched_and_not(workspace: Path, home: Path) -> None:
    line = "SECRET_{}=val-{}-Qw8Er5Ty\n"
    files = {
        ".env.local": line.format(1, 1),
        "prod.env": line.format(2, 2),
        "config/.env": line.format(3, 3),
        ".devcontainer/devcontainer.env": line.format(4, 4),
        "node_modules/pkg/.env": line.format(5, 5),
        "src/app/.env": line.format(6, 6),
        ".git/.env": line.format(7, 7),
        "notes.txt": line.format(8, 8),
    }
    write_files(workspace, files)
    found = values(collect_known_secrets(workspace, env={}, home=home))
    assert sorted(found) == [f"val-{n}-Qw8Er5Ty" for n in (1, 2, 3, 4)]
    assert found["val-3-Qw8Er5Ty"].source == "config/.env line 1"


def test_netrc_password_and_basic_auth_form(workspace: Path, home: Path) -> None:
    write_files(
        home,
        {
            ".netrc": "machine api.example.org\n  login bot\n  password nrc-Pq7Wm3Zx\n"
            "macdef init\n  password not-a-password-line\n\n"
            "default login anon password nrc-Dflt-9Ks2\n"
        },
    )
    found = values(collect_known_secrets(workspace, env={}, home=home))
    basic = base64.b64encode(b"bot:nrc-Pq7Wm3Zx").decode()
    assert set(found) == {
        "nrc-Pq7Wm3Zx",
        basic,
        "nrc-Dflt-9Ks2",
        base64.b64encode(b"anon:nrc-Dflt-9Ks2").decode(),
    }
    assert found["nrc-Pq7Wm3Zx"].source == "netrc api.example.org"
    assert found[basic].kind == "netrc-password"


def test_netrc_env_override(workspace: Path, home: Path, tmp_path: Path) -> None:
    write_files(tmp_path, {"other-netrc": "machine h login u password nrc-Other-5Tg\n"})
    env = {"NETRC": str(tmp_path / "other-netrc")}
    found = values(collect_known_secrets(workspace, env=env, home=home))
    assert "nrc-Other-5Tg" in found


def test_git_credential_stores(workspace: Path, home: Path, tmp_path: Path) -> None:
    write_files(
        home,
        {
            ".git-credentials": "https://octo:gc-Hh4Jj5Kk6@github.com\nnot a url\n",
            ".config/git/credentials": "https://ci:gc%40Pct-8Ll9@gitlab.example.com\n",
        },
    )
    write_files(tmp_path, {"xdg/git/credentials": "https://x:gc-Xdg-3Vv4Bb@h.example\n"})
    found = values(collect_known_secrets(workspace, env={}, home=home))
    assert {"gc-Hh4Jj5Kk6", "gc@Pct-8Ll9"} <= set(found)
    assert found["gc-Hh4Jj5Kk6"].source == "git credentials for github.com"
    assert base64.b64encode(b"octo:gc-Hh4Jj5Kk6").decode() in found
    xdg = values(collect_known_secrets(workspace, env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")},
                                       home=home))  # fmt: skip
    assert "gc-Xdg-3Vv4Bb" in xdg
    assert "gc@Pct-8Ll9" not in xdg


def test_unreadable_and_malformed_files_are_skipped(
    workspace: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / ".env").mkdir()  # a folder where a file was expected
    write_files(workspace, {".env.bin": b"\xff\xfe\x00SECRET=\xc3(\n"})
    os.symlink(workspace / "missing", workspace / ".env.gone")
    write_files(home, {".netrc": "machine", ".git-credentials": "https://[::1:bad@x\n\x00\n"})
    (home / ".config").mkdir()
    (home / ".config" / "git").write_text("a file where a folder was expected")
    write_files(workspace, {"config/.env": "API_TOKEN=tok-Still-Read-7Yh\n"})  # found all the same
    assert collect_known_secrets(workspace, env={}, home=home) == [
        KnownSecret("tok-Still-Read-7Yh", "dotenv-secret", "config/.env line 1")
    ]
    assert collect_known_secrets(workspace / "no-such-dir", env={}, home=home / "none") == []
    assert capsys.readouterr() == ("", "")


def test_collected_secrets_feed_the_redactor(workspace: Path, home: Path) -> None:
    write_files(home, {".netrc": "machine h login bot password nrc-Feed-4Rt6\n"})
    write_files(workspace, {".env": "STRIPE_SECRET=st-Feed-8Uu2Ii\n"})
    r = Redactor(collect_known_secrets(workspace, env={}, home=home), use_library=False)
    basic = base64.b64encode(b"bot:nrc-Feed-4Rt6").decode()
    out, counts = r.redact(f"pw nrc-Feed-4Rt6; Authorization: Basic {basic}; st-Feed-8Uu2Ii")
    assert "nrc-Feed" not in out
    assert basic not in out
    assert "st-Feed" not in out
    assert counts["netrc-password"] == 2
    assert counts["dotenv-secret"] == 1
