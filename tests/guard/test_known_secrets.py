"""Known secrets from the environment, .env files, ~/.netrc, git and other credential stores."""

import base64
import json
import os
import secrets
import string
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
    # Any depth (a command can print src/app/.env), but not dependencies or git's folder.
    assert sorted(found) == [f"val-{n}-Qw8Er5Ty" for n in (1, 2, 3, 4, 6)]
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


# Credential files of other tools (guard/credential_files.py), with generated values.

UPPER_DIGITS = string.ascii_uppercase + "234567"


def rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def collect(
    workspace: Path, home: Path, env: dict[str, str] | None = None
) -> dict[str, KnownSecret]:
    return values(collect_known_secrets(workspace, env=env or {}, home=home))


def test_aws_credentials_and_config(workspace: Path, home: Path) -> None:
    key_id, secret, session = "AKIA" + rand(16, UPPER_DIGITS), rand(40), rand(300)
    profile_secret = rand(40)
    write_files(home, {
        ".aws/credentials": f"[default]\naws_access_key_id = {key_id}\n"
        f"aws_secret_access_key={secret}\n# aws_session_token = not-this-{rand(20)}\n"
        f"[ci]\nAWS_SESSION_TOKEN = {session}\nregion = eu-west-1\n",
        ".aws/config": f"[profile deploy]\naws_secret_access_key: {profile_secret}\n"
        "output = json\n",
    })  # fmt: skip
    found = collect(workspace, home)
    assert set(found) == {key_id, secret, session, profile_secret}
    assert found[secret] == KnownSecret(
        secret, "aws-credentials", "~/.aws/credentials [default] aws_secret_access_key"
    )
    assert found[profile_secret].source == "~/.aws/config [profile deploy] aws_secret_access_key"


def test_aws_paths_from_the_environment(workspace: Path, home: Path, tmp_path: Path) -> None:
    in_home, elsewhere, config = rand(40), rand(40), rand(40)
    write_files(home, {".aws/credentials": f"[default]\naws_secret_access_key={in_home}\n",
                       "cfg/aws": f"[default]\naws_secret_access_key={config}\n"})  # fmt: skip
    write_files(tmp_path, {"aws-creds": f"[x]\naws_secret_access_key={elsewhere}\n"})
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-creds"),
        "AWS_CONFIG_FILE": "~/cfg/aws",
    }
    assert set(collect(workspace, home, env)) == {elsewhere, config}


def test_docker_config_auths_and_tokens(workspace: Path, home: Path, tmp_path: Path) -> None:
    password, identity = rand(24), rand(64)
    auth = b64(f"deployer:{password}")
    config = {
        "auths": {
            "registry.example.com": {"auth": auth},
            "ghcr.io": {"auth": "", "identitytoken": identity},
            "quay.io": {"auth": "not base64!"},
        },
        "credsStore": "desktop",
    }
    write_files(home, {".docker/config.json": json.dumps(config)})
    found = collect(workspace, home)
    assert set(found) == {auth, password, identity}
    assert found[auth].source == "~/.docker/config.json auths.registry.example.com.auth"
    assert found[password].kind == "docker-auth"
    assert found[identity].source == "~/.docker/config.json auths.ghcr.io.identitytoken"
    write_files(
        tmp_path, {"dock/config.json": json.dumps({"auths": {"h": {"auth": b64("u:" + rand(20))}}})}
    )
    moved = collect(workspace, home, {"DOCKER_CONFIG": str(tmp_path / "dock")})
    assert len(moved) == 2 and auth not in moved


def test_npmrc_in_home_and_workspace(workspace: Path, home: Path) -> None:
    token, login_pw, password = "npm_" + rand(36), rand(20), rand(20)
    user_npmrc = (
        f"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken={token}\n"
        "//other.example/:_authToken=${NPM_TOKEN}\nalways-auth=true\n"
    )
    write_files(home, {".npmrc": user_npmrc})
    ws_npmrc = f'_auth="{b64("ci:" + login_pw)}"\n//npm.example.com/:_password={b64(password)}\n'
    write_files(workspace, {".npmrc": ws_npmrc})
    found = collect(workspace, home)
    assert set(found) == {token, b64("ci:" + login_pw), login_pw, b64(password), password}
    assert found[token] == KnownSecret(
        token, "npm-token", "~/.npmrc //registry.npmjs.org/:_authToken"
    )
    assert found[password].source == ".npmrc //npm.example.com/:_password (decoded)"


def test_pypirc_and_pip_index_urls(workspace: Path, home: Path, tmp_path: Path) -> None:
    pypi, test_pypi, index_pw, extra_pw, env_pw = ("pypi-" + rand(60), rand(20), rand(20),
                                                   rand(20), rand(20))  # fmt: skip
    write_files(home, {
        ".pypirc": f"[distutils]\nindex-servers = pypi testpypi\n[pypi]\nusername = __token__\n"
        f"password = {pypi}\n[testpypi]\npassword: {test_pypi}\n",
        ".config/pip/pip.conf": f"[global]\nindex-url = https://bot:{index_pw}@pypi.example.com/simple\n"
        f"extra-index-url =\n    https://pypi.org/simple\n    https://ci:{extra_pw}@mirror.example\n",
    })  # fmt: skip
    write_files(tmp_path, {"pip.ini": f"[global]\nindex-url=https://u:{env_pw}@h.example/simple\n"})
    found = collect(workspace, home, {"PIP_CONFIG_FILE": str(tmp_path / "pip.ini")})
    assert set(found) == {pypi, test_pypi, index_pw, extra_pw, env_pw}
    assert found[pypi].source == "~/.pypirc [pypi] password"
    assert found[extra_pw] == KnownSecret(
        extra_pw, "pip-index-password", "~/.config/pip/pip.conf line 5"
    )


def test_github_cli_and_hub(workspace: Path, home: Path, tmp_path: Path) -> None:
    gh, gh_user, hub = "gho_" + rand(36), "gho_" + rand(36), rand(40, "0123456789abcdef")
    write_files(home, {
        ".config/gh/hosts.yml": f"github.com:\n    user: octo\n    oauth_token: {gh}\n"
        "    git_protocol: https\n    users:\n        octo:\n"
        f"            oauth_token: '{gh_user}'\n",
        ".config/hub": f"github.com:\n- user: octo\n  oauth_token: {hub}\n  protocol: https\n",
    })  # fmt: skip
    found = collect(workspace, home)
    assert set(found) == {gh, gh_user, hub}
    assert found[gh] == KnownSecret(gh, "gh-token", "~/.config/gh/hosts.yml line 3 oauth_token")
    assert found[hub].kind == "hub-token"
    write_files(tmp_path, {"ghc/hosts.yml": f"h:\n  oauth_token: {rand(30)}\n"})
    assert gh not in collect(workspace, home, {"GH_CONFIG_DIR": str(tmp_path / "ghc")})


def test_yaml_stores_are_read_as_yaml_reads_them(workspace: Path, home: Path) -> None:
    """A folded block scalar, a flow mapping, and an alias bomb before the real token: the
    line rules would have taken `>-` for the token and missed the flow mapping."""
    folded, flow, late = "gho_" + rand(36), rand(40), "eyJ" + rand(60)
    bomb = "".join(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    write_files(home, {
        ".config/gh/hosts.yml": f"github.com:\n    user: octo\n    oauth_token: >-\n"
                                f"        {folded}\n",
        ".config/hub": f"github.com: [{{user: octo, oauth_token: '{flow}'}}]\n",
        ".kube/config": f"l0: &l0 [x]\n{bomb}users:\n- user: {{token: {late}}}\n",
    })  # fmt: skip
    found = collect(workspace, home)
    assert {folded, flow, late} <= set(found) and ">-" not in found
    assert found[folded].source == "~/.config/gh/hosts.yml line 3 oauth_token"


def kubeconfig(token: str, key_data: str, password: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://k8s.example:6443\n"
        "  name: prod\nusers:\n- name: admin\n  user:\n"
        f"    token: {token}\n    client-key-data: {key_data}\n"
        f'- name: basic\n  user:\n    username: ops\n    password: "{password}"\n'
    )


def test_kube_config_and_kubeconfig_list(workspace: Path, home: Path, tmp_path: Path) -> None:
    token, password = "eyJhbGciOi" + rand(80), rand(20)
    pem = f"-----BEGIN EC PRIVATE KEY-----\n{rand(64)}\n-----END EC PRIVATE KEY-----\n"
    write_files(home, {".kube/config": kubeconfig(token, b64(pem), password)})
    found = collect(workspace, home)
    assert set(found) == {token, b64(pem), pem, password}
    assert found[token].source == "~/.kube/config line 10 token"
    assert found[pem].source == "~/.kube/config line 11 client-key-data (decoded)"
    listed = [tmp_path / "a.yaml", tmp_path / "missing.yaml", tmp_path / "b.json"]
    json_token = rand(40)
    write_files(tmp_path, {"a.yaml": kubeconfig(rand(40), b64(rand(30)), rand(20)),
                           "b.json": json.dumps({"users": [{"user": {"token": json_token}}]},
                                                indent=2)})  # fmt: skip
    moved = collect(workspace, home, {"KUBECONFIG": os.pathsep.join(map(str, listed))})
    assert token not in moved and json_token in moved
    assert len(moved) == 5  # a.yaml: token, key data (also decoded), password; b.json: token


def test_gcloud_credentials(workspace: Path, home: Path, tmp_path: Path) -> None:
    client_secret, refresh = "GOCSPX-" + rand(28), "1//" + rand(100)
    key = f"-----BEGIN PRIVATE KEY-----\n{rand(64)}\n{rand(64)}\n-----END PRIVATE KEY-----\n"
    adc = {"client_id": "123-abc.apps.googleusercontent.com", "client_secret": client_secret,
           "refresh_token": refresh, "type": "authorized_user"}  # fmt: skip
    account = {"type": "service_account", "project_id": "demo", "private_key": key,
               "client_email": "bot@demo.iam.gserviceaccount.com"}  # fmt: skip
    write_files(home, {".config/gcloud/application_default_credentials.json": json.dumps(adc)})
    write_files(tmp_path, {"sa.json": json.dumps(account)})
    found = collect(workspace, home, {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "sa.json")})
    assert set(found) == {client_secret, refresh, key}
    assert found[key] == KnownSecret(
        key, "gcloud-credential", f"{tmp_path / 'sa.json'} private_key"
    )
    assert found[refresh].source == (
        "~/.config/gcloud/application_default_credentials.json refresh_token"
    )


def test_cargo_gem_and_terraform(workspace: Path, home: Path, tmp_path: Path) -> None:
    cargo, cargo_alt, legacy = "cio" + rand(32), rand(32), rand(32)
    gem, gh_gem, tf = (
        "rubygems_" + rand(48, "0123456789abcdef"),
        "ghp_" + rand(36),
        rand(14) + ".atlasv1." + rand(60),
    )
    write_files(home, {
        ".cargo/credentials.toml": f'[registry]\ntoken = "{cargo}"\n'
        f'[registries.internal]\ntoken = "{cargo_alt}"\n',
        ".gem/credentials": f"---\n:rubygems_api_key: {gem}\n"
        f"https://rubygems.pkg.github.com/acme: Bearer {gh_gem}\n",
        ".terraform.d/credentials.tfrc.json": json.dumps(
            {"credentials": {"app.terraform.io": {"token": tf}}}),
    })  # fmt: skip
    write_files(tmp_path, {"cargo/credentials": f'[registry]\ntoken = "{legacy}"\n'})
    found = collect(workspace, home)
    assert set(found) == {cargo, cargo_alt, gem, f"Bearer {gh_gem}", gh_gem, tf}
    assert found[cargo_alt].source == "~/.cargo/credentials.toml registries.internal.token"
    assert found[gem] == KnownSecret(
        gem, "gem-credential", "~/.gem/credentials line 2 :rubygems_api_key"
    )
    assert (
        found[tf].source
        == "~/.terraform.d/credentials.tfrc.json credentials.app.terraform.io.token"
    )
    assert set(collect(workspace, home / "none", {"CARGO_HOME": str(tmp_path / "cargo")})) == {
        legacy
    }


def test_short_common_and_placeholder_values_are_not_collected(workspace: Path, home: Path) -> None:
    write_files(home, {
        ".pypirc": "[a]\npassword = pw-123\n[b]\npassword = changeme\n"
        "[c]\npassword = <your-token>\n",
        ".aws/credentials": "[default]\naws_secret_access_key = 1234567890123\n",
        ".npmrc": "//r.example/:_authToken=${NPM_TOKEN}\n",
    })  # fmt: skip
    assert collect(workspace, home) == {}


def test_malformed_credential_files_are_skipped(
    workspace: Path, home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = rand(40)
    write_files(home, {
        ".docker/config.json": '{"auths": {"h": {"auth": ',  # cut short
        ".terraform.d/credentials.tfrc.json": "[" * 100_000 + "]" * 100_000,  # too deep
        ".config/gcloud/application_default_credentials.json": json.dumps({"x": [[[]]]} ) ,
        ".cargo/credentials.toml": 'token = "unterminated\n',
        ".gem/credentials": b"\xff\xfe\x00:key: \xc3(\n",
        ".kube/config": "users:\n  - name: a\n    user:\n      token: |\n        multi\n",
        ".config/gh/hosts.yml": "github.com: {oauth_token: [1, 2]}\n",
        ".npmrc": "_auth=%%%\n_password\n=\n",
        ".aws/config": "no section\n= empty key\n[unclosed\naws_secret_access_key\n",
        ".aws/credentials": f"[ok]\naws_secret_access_key = {kept}\n",  # found all the same
    })  # fmt: skip
    (home / ".pypirc").mkdir()  # a folder where a file was expected
    os.symlink(home / "missing", home / ".config" / "hub")
    (home / ".config" / "pip").write_text("a file where a folder was expected")
    write_files(tmp_path, {"sa.json": "\x00\x01 not json"})
    env = {"GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "sa.json"), "KUBECONFIG": os.pathsep}
    found = collect_known_secrets(workspace, env=env, home=home)
    assert [s.value for s in found] == [kept]
    env = {"AWS_CONFIG_FILE": str(tmp_path / "nope"), "DOCKER_CONFIG": str(tmp_path / "no-dir")}
    assert collect_known_secrets(workspace, env=env, home=tmp_path / "no-home") == []
    assert capsys.readouterr() == ("", "")


def test_sources_never_hold_values_and_a_cat_is_redacted(workspace: Path, home: Path) -> None:
    aws, npm, kube = rand(40), "npm_" + rand(36), rand(48)
    files = {
        ".aws/credentials": f"[default]\naws_access_key_id = AKIA{rand(16, UPPER_DIGITS)}\n"
        f"aws_secret_access_key = {aws}\n",
        ".npmrc": f"//registry.npmjs.org/:_authToken={npm}\n",
        ".kube/config": f"users:\n- name: u\n  user:\n    token: {kube}\n",
    }
    write_files(home, files)
    found = collect_known_secrets(workspace, env={}, home=home)
    assert len(found) == 4
    for secret in found:
        assert all(s.value not in secret.source for s in found)
    cat = "\n".join(files.values())
    out, counts = Redactor(found, use_library=False).redact(cat)
    assert all(s.value not in out for s in found)
    assert counts == {"aws-credentials": 2, "npm-token": 1, "kube-credential": 1}
