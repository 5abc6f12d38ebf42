"""The exact secrets this machine already holds, so the redactor can hide them by value.

Sources:

- environment variables whose names look secret (``*_API_KEY``, ``*TOKEN*``, ``*SECRET*``,
  ``*PASSWORD*``, ``*CREDENTIAL*``...);
- ``.env`` files of the workspace: ``.env``, ``.env.*`` and ``*.env`` at any depth (a command
  can print ``services/api/.env``), skipping ``SKIP_DIRS`` (dependencies, builds, caches). A
  value counts when its key looks secret, or when the value itself looks like a
  credential (``secret_rules.looks_like_credential`` with at least 16 characters), or when it
  is a URL carrying a password (the password counts);
- ``~/.netrc`` (or ``$NETRC``) passwords;
- git credential stores: ``~/.git-credentials`` and ``$XDG_CONFIG_HOME/git/credentials``;
- the credential files of other developer tools (AWS, Docker, npm, PyPI and pip, GitHub CLI
  and hub, Kubernetes, Google Cloud, Cargo, RubyGems, Terraform): ``credential_files.py``.

For a login and password pair, the base64 of ``login:password`` (an HTTP Basic
``Authorization`` header) is a known secret too. Unreadable or malformed files are skipped
without a word: this runs before every session and must never fail it, nor print a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from glasscoder.guard.credential_files import (
    basic_auth,
    credential_file_secrets,
    read_small,
    unquote_value,
    url_password,
)
from glasscoder.guard.redact import KnownSecret, worth_redacting
from glasscoder.guard.secret_rules import is_placeholder, is_pointer_name, looks_like_credential

# Folders of dependencies, builds and caches: their .env files are not the project's own.
SKIP_DIRS = frozenset(
    {".git", "node_modules", ".venv", "venv", "__pycache__", "target", "dist", "build",
     ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages", ".cache"}
)  # fmt: skip
WALK_BUDGET = 200_000  # directory entries looked at, at most (~0.2 s on a cold disk)
# Name parts (split at "_", "-" and ".") that mark a variable as holding a secret.
_SECRET_PARTS = re.compile(
    r"(?i)^(?:\w*(?:token|secret|password|passwd|passphrase|credential)s?"
    r"|key|apikey|accesskey|secretkey|privatekey|pat|auth)$"
)
# GOOGLE_APPLICATION_CREDENTIALS names a file (read by credential_files.py), not a secret.
_NOT_SECRET_NAMES = frozenset(
    {
        "PWD",
        "OLDPWD",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "SSH_AUTH_SOCK",
        "GOOGLE_APPLICATION_CREDENTIALS",
    }
)
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(.*?)\s*$")


def collect_known_secrets(
    workspace: Path, env: Mapping[str, str] | None = None, home: Path | None = None
) -> list[KnownSecret]:
    env = os.environ if env is None else env
    home = _home(env) if home is None else home
    found = [
        *_from_env(env),
        *_from_dotenv_files(workspace),
        *_from_netrc(Path(env.get("NETRC") or home / ".netrc")),
        *_from_git_credentials(home / ".git-credentials"),
        *_from_git_credentials(_xdg_config(env, home) / "git" / "credentials"),
        *credential_file_secrets(env, home, workspace),
    ]
    unique: dict[str, KnownSecret] = {}
    for secret in found:
        if worth_redacting(secret.value):  # the redactor would drop the rest anyway
            unique.setdefault(secret.value, secret)
    return list(unique.values())


def secret_name(name: str) -> bool:
    """Whether a variable or key name says its value is a secret."""
    if name.upper() in _NOT_SECRET_NAMES:
        return False
    if is_pointer_name(name):  # SSH_KEY_PATH, GITHUB_TOKEN_FILE: about a secret, not one
        return False
    return any(_SECRET_PARTS.match(p) for p in re.split(r"[_.\-]+", name))


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def _xdg_config(env: Mapping[str, str], home: Path) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"


def _from_env(env: Mapping[str, str]) -> Iterator[KnownSecret]:
    for name, value in env.items():
        if value and secret_name(name) and not is_placeholder(value):
            yield KnownSecret(value, "env-secret", f"env {name}")


def _dotenv_paths(workspace: Path) -> Iterator[Path]:
    """Every .env file of the workspace, at any depth (services/api/.env), skipping the folders
    of dependencies and builds; bounded, so a huge tree costs a fixed amount of time."""
    budget = WALK_BUDGET
    stack = [workspace]
    while stack and budget > 0:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        budget -= len(entries)
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIP_DIRS:
                        stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and _is_dotenv(entry.name):
                    yield Path(entry.path)
            except OSError:
                continue


def _is_dotenv(name: str) -> bool:
    return name == ".env" or name.startswith(".env.") or name.endswith(".env")


def _from_dotenv_files(workspace: Path) -> Iterator[KnownSecret]:
    for path in _dotenv_paths(workspace):
        text = read_small(path)
        if text is None:
            continue
        where = path.relative_to(workspace).as_posix()
        for number, line in enumerate(text.splitlines(), start=1):
            yield from _dotenv_line(line, f"{where} line {number}")


def _dotenv_line(line: str, source: str) -> Iterator[KnownSecret]:
    match = _DOTENV_LINE.match(line)
    if match is None or line.lstrip().startswith("#"):
        return
    key, value = match.group(1), unquote_value(match.group(2))
    password = url_password(value)
    if password:
        yield KnownSecret(password, "dotenv-secret", source)
    elif (secret_name(key) and not is_placeholder(value)) or looks_like_credential(
        value, min_len=16
    ):
        yield KnownSecret(value, "dotenv-secret", source)


def _from_netrc(path: Path) -> Iterator[KnownSecret]:
    text = read_small(path)
    if text is None:
        return
    machine, login, in_macro = "default", "", False
    tokens = iter(_netrc_tokens(text))
    for token in tokens:
        if in_macro:  # a macro body runs to a blank line, marked by an empty token
            in_macro = token != ""
            continue
        if token == "macdef":
            in_macro = True
            next(tokens, None)
        elif token in ("machine", "login", "password", "account"):
            value = next(tokens, "")
            if token == "machine":
                machine, login = value, ""
            elif token == "login":
                login = value
            elif token == "password" and value:
                yield from basic_auth(login, value, "netrc-password", f"netrc {machine}")
        elif token == "default":
            machine, login = "default", ""


def _netrc_tokens(text: str) -> Iterator[str]:
    for line in text.splitlines():
        if not line.strip():
            yield ""  # ends a macdef
            continue
        for token in line.split():
            if token.startswith("#"):
                break
            yield token.strip('"')


def _from_git_credentials(path: Path) -> Iterator[KnownSecret]:
    text = read_small(path)
    if text is None:
        return
    for line in text.splitlines():
        try:
            url = urlsplit(line.strip())
            login, password = url.username, url.password
        except ValueError:
            continue
        if password:
            source = f"git credentials for {url.hostname or 'a host'}"
            login = unquote(login or "")
            yield from basic_auth(login, unquote(password), "git-credential", source)
